"""Live protocol v1, service -> browser (docs/protocol.md, "Live").

Every message carries ``seq`` (increasing per session, so a reconnecting browser resumes with
``?after_seq=``) and ``t_s`` (session time in seconds).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from attune.pipeline.events import LinkState
from attune.sensor.timeline import GapCause


class LiveMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = 1
    seq: int
    t_s: float


class ParticipantInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    role: Literal["therapist", "client", "other"]
    name: str


class SessionInfo(LiveMessage):
    type: Literal["session"] = "session"
    session_id: str
    title: str
    participants: list[ParticipantInfo]


class BeatMessage(LiveMessage):
    type: Literal["beat"] = "beat"
    participant: str
    rr_ms: float
    hr_bpm: float
    after_gap: bool


class MetricsMessage(LiveMessage):
    type: Literal["metrics"] = "metrics"
    participant: str
    hr_bpm: float
    rmssd_ms: float | None
    n_beats: int
    window_s: float
    provisional: bool


class GapMessage(LiveMessage):
    type: Literal["gap"] = "gap"
    participant: str
    start_s: float
    end_s: float
    cause: GapCause


class QualityMessage(LiveMessage):
    type: Literal["quality"] = "quality"
    participant: str
    contact: bool | None
    gap_open: GapCause | None


class LinkMessage(LiveMessage):
    type: Literal["link"] = "link"
    participant: str
    state: LinkState
    reason: str | None


class BatteryMessage(LiveMessage):
    type: Literal["battery"] = "battery"
    participant: str
    level_pct: int


class RejectedMessage(LiveMessage):
    type: Literal["rejected"] = "rejected"
    participant: str
    reason: str
    rejected_total: int


class MarkerMessage(LiveMessage):
    """A therapist's marker at session time ``t_s``."""

    type: Literal["marker"] = "marker"
    id: str
    text: str


class ErrorMessage(LiveMessage):
    type: Literal["error"] = "error"
    code: str
    reason: str


AnyLiveMessage = Annotated[
    SessionInfo
    | BeatMessage
    | MetricsMessage
    | GapMessage
    | QualityMessage
    | LinkMessage
    | BatteryMessage
    | RejectedMessage
    | MarkerMessage
    | ErrorMessage,
    Field(discriminator="type"),
]
live_message: TypeAdapter[LiveMessage] = TypeAdapter(AnyLiveMessage)
