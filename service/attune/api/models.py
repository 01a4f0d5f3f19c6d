"""REST request and response bodies (the OpenAPI schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from attune.protocol.ingest import Batch, Battery, Link
from attune.protocol.live import GapMessage, MetricsMessage, ResonanceStep
from attune.protocol.viewer import EngineOverrides

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
MAX_LINK_TTL_S = 30 * 24 * 3600


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    # Built from the store's row dataclasses by attribute (``Model.model_validate(row)``).
    model_config = ConfigDict(frozen=True, from_attributes=True)


# Auth


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TherapistOut(_Out):
    id: str
    username: str
    display_name: str


# Clients


class ClientIn(_In):
    pseudonym: str = Field(
        min_length=1,
        max_length=64,
        description="The name recordings, exports and reviewers see (e.g. 'C-0042').",
    )
    display_name: Text200


class ClientOut(_Out):
    id: str
    pseudonym: str
    display_name: str
    created_at_s: float
    resonance_breaths_per_min: float | None
    resonance_set_at_s: float | None
    baseline_set_at_s: float | None


class BaselineIn(_In):
    value: JsonValue = Field(description="The HRV engine's baseline, stored as given.")


class BaselineOut(_Out):
    value: JsonValue
    set_at_s: float


class ResonanceIn(_In):
    # Resonance assessments step 6.5 down to 4.5 breaths/min; allow a margin either side.
    breaths_per_min: float = Field(ge=3.0, le=10.0, allow_inf_nan=False)


class ErasureOut(_Out):
    client_id: str
    sessions_deleted: int


# Sessions


class SessionIn(_In):
    client_id: str = Field(max_length=64)
    title: Text200


class NotesIn(_In):
    notes: str = Field(max_length=50_000)


class SessionOut(_Out):
    id: str
    title: str
    client_id: str | None
    state: Literal["created", "running", "ended"]
    created_at_s: float
    started_at_s: float | None
    ended_at_s: float | None
    notes: str


# Participants and links


class ParticipantIn(_In):
    role: Literal["therapist", "client", "other"]
    display_name: Text200


class ParticipantOut(_Out):
    id: str
    role: Literal["therapist", "client", "other"]
    display_name: str
    sensor_name: str
    sensor_address: str


class CollectorTokenOut(_Out):
    """Shown once: only its digest is stored."""

    participant: ParticipantOut
    collector_token: str
    ingest_url: str


class LinkIn(_In):
    role: Literal["client", "reviewer"]
    ttl_s: float | None = Field(
        default=None,
        gt=0,
        le=MAX_LINK_TTL_S,
        description="Lifetime; default 12 h for client links, 7 days for reviewer links.",
    )


class LinkOut(_Out):
    id: str
    role: Literal["client", "reviewer"]
    created_at_s: float
    expires_at_s: float
    revoked_at_s: float | None


class IssuedLinkOut(LinkOut):
    """Shown once. ``url`` carries the token in its fragment, which browsers never send."""

    token: str
    url: str


# Markers and recordings


class MarkerIn(_In):
    text: str = Field(min_length=1, max_length=500)
    t_s: float | None = Field(
        default=None,
        ge=0.0,
        le=7 * 24 * 3600,
        allow_inf_nan=False,
        description="Session time; default now.",
    )


class MarkerOut(_Out):
    id: str
    t_s: float
    text: str
    created_at_s: float


class RecordedInputOut(_Out):
    input_no: int
    participant_id: str
    live: bool = Field(description="False for a late message: recorded, never shown live.")
    message: Annotated[Batch | Link | Battery, Field(discriminator="type")]


class RecordingPageOut(_Out):
    session_id: str
    origin_s: float = Field(description="Wall time (Unix s) of session time zero.")
    items: list[RecordedInputOut]
    next_after: int | None = Field(description="Pass as ``after`` for the next page.")


class PacerChangeOut(_Out):
    at_s: float
    t_s: float
    breaths_per_min: float | None
    inhale_exhale_ratio: float | None
    source: str
    detail: JsonValue


class CueShownOut(_Out):
    at_s: float
    t_s: float
    audience: str
    kind: str
    text: str
    detail: JsonValue


class SessionEventsOut(_Out):
    markers: list[MarkerOut]
    pacer_changes: list[PacerChangeOut]
    cues_shown: list[CueShownOut]


class AnalysisIn(_In):
    engine: EngineOverrides = Field(default_factory=dict, max_length=32)
    include_late: bool = Field(
        default=True, description="Include messages that arrived too late to be shown live."
    )


class ParticipantAnalysisOut(_Out):
    participant_id: str
    role: str
    beats_n: int
    metrics: list[MetricsMessage]
    gaps: list[GapMessage]


class AnalysisOut(_Out):
    engine: dict[str, JsonValue]
    participants: list[ParticipantAnalysisOut]


class AuditEntryOut(_Out):
    at_s: float
    actor: str
    role: str
    action: str
    resource: str
    outcome: str


class HealthOut(_Out):
    status: str
    version: str
    database: str


# Co-regulation: the pacer, the resonance assessment and the client view


class PacerIn(_In):
    breaths_per_min: float = Field(
        ge=4.0,
        le=7.0,
        multiple_of=0.5,
        allow_inf_nan=False,
        description="Breaths per minute, 4-7 in steps of 0.5.",
    )
    exhale_ratio: float = Field(
        default=1.5,
        ge=1.0,
        le=3.0,
        allow_inf_nan=False,
        description="The exhale's length relative to the inhale (I:E = 1:exhale_ratio).",
    )


class PacerOut(BaseModel):
    """The pacer's latest setting; ``running`` False once stopped (the rest is then null)."""

    model_config = ConfigDict(frozen=True)
    running: bool
    breaths_per_min: float | None = None
    exhale_ratio: float | None = None
    effective_s: float | None = None
    anchor_s: float | None = None
    source: str | None = None


class ResonanceOut(BaseModel):
    """A resonance assessment's state, as in the live ``resonance`` message."""

    model_config = ConfigDict(frozen=True)
    t_s: float
    state: Literal["running", "finished", "cancelled"]
    started_s: float
    step: int | None
    breaths_per_min: float | None
    step_end_s: float | None
    steps: list[ResonanceStep]  # the live message's own step model
    resonance_bpm: float | None
    reason: str | None


class ClientViewIn(_In):
    show_numbers: bool = Field(description="Show numbers (HR, calm) besides the calm meter.")


class ClientViewOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    show_numbers: bool
