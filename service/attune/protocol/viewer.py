"""What browsers send (live and replay sockets) and the replay socket's own messages
(docs/protocol.md, "Live" and "Replay"). The replayed stream itself uses the live messages."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

# Engine settings as a browser may override them: field name -> number or flag. Which
# names exist is EngineConfig's business (attune.hrv.engine); the service checks them there.
EngineOverrides = dict[Annotated[str, Field(max_length=64)], float | int | bool]
MAX_REPLAY_SPEED = 64.0


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ViewerAuth(_Inbound):
    """The first message on a live or replay socket. ``token`` is a client or reviewer link
    token; a signed-in therapist's browser sends none (its login cookie counts)."""

    type: Literal["auth"]
    token: str | None = Field(default=None, max_length=2048)
    after_seq: int | None = Field(default=None, ge=0)


class Play(_Inbound):
    """Play at ``speed`` times real time (1 to 64), or as fast as possible when null."""

    type: Literal["play"]
    speed: float | None = Field(default=1.0, ge=1.0, le=MAX_REPLAY_SPEED)


class Pause(_Inbound):
    type: Literal["pause"]


class Seek(_Inbound):
    type: Literal["seek"]
    t_s: float = Field(ge=0.0, allow_inf_nan=False)


class Analyse(_Inbound):
    """Recompute the session with other engine settings (e.g. a longer metrics window)."""

    type: Literal["analyse"]
    engine: EngineOverrides = Field(max_length=32)


ReplayCommand = Annotated[Play | Pause | Seek | Analyse, Field(discriminator="type")]
replay_command = TypeAdapter[Play | Pause | Seek | Analyse](ReplayCommand)


class ReplayState(BaseModel):
    """Where the replay is. ``reset`` is true after a seek or a re-analysis: the stream
    restarts at ``t_s`` and its ``seq`` numbering with it, so the page clears its state."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = 1
    type: Literal["replay_state"] = "replay_state"
    t_s: float
    state: Literal["paused", "playing", "ended"]
    speed: float | None
    duration_s: float
    reset: bool
    engine: dict[str, JsonValue]


# Every message of the replay protocol (docs/protocol.md, "Replay"), for validating examples.
AnyViewerMessage = Annotated[
    ViewerAuth | Play | Pause | Seek | Analyse | ReplayState, Field(discriminator="type")
]
viewer_message = TypeAdapter[ViewerAuth | Play | Pause | Seek | Analyse | ReplayState](
    AnyViewerMessage
)
