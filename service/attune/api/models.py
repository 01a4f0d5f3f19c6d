"""REST request and response bodies (the OpenAPI schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from attune.protocol.ingest import Batch, Battery, Link
from attune.protocol.live import GapMessage, MetricsMessage
from attune.protocol.viewer import EngineOverrides
from attune.store import (
    AuditEntry,
    ClientRow,
    LinkRow,
    MarkerRow,
    ParticipantRow,
    SessionRow,
    TherapistRow,
)

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
MAX_LINK_TTL_S = 30 * 24 * 3600


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# Auth


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TherapistOut(_Out):
    id: str
    username: str
    display_name: str

    @classmethod
    def of(cls, row: TherapistRow) -> TherapistOut:
        return cls(id=row.id, username=row.username, display_name=row.display_name)


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

    @classmethod
    def of(cls, row: ClientRow) -> ClientOut:
        return cls(
            id=row.id,
            pseudonym=row.pseudonym,
            display_name=row.display_name,
            created_at_s=row.created_at_s,
            resonance_breaths_per_min=row.resonance_breaths_per_min,
            resonance_set_at_s=row.resonance_set_at_s,
            baseline_set_at_s=row.baseline_set_at_s,
        )


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

    @classmethod
    def of(cls, row: SessionRow) -> SessionOut:
        state: Literal["created", "running", "ended"] = (
            "ended" if row.ended_at_s else "running" if row.started_at_s else "created"
        )
        return cls(
            id=row.id,
            title=row.title,
            client_id=row.client_id,
            state=state,
            created_at_s=row.created_at_s,
            started_at_s=row.started_at_s,
            ended_at_s=row.ended_at_s,
            notes=row.notes,
        )


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

    @classmethod
    def of(cls, row: ParticipantRow) -> ParticipantOut:
        return cls(
            id=row.id,
            role=row.role,
            display_name=row.display_name,
            sensor_name=row.sensor_name,
            sensor_address=row.sensor_address,
        )


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

    @classmethod
    def of(cls, row: LinkRow) -> LinkOut:
        return cls(
            id=row.id,
            role=row.role,
            created_at_s=row.created_at_s,
            expires_at_s=row.expires_at_s,
            revoked_at_s=row.revoked_at_s,
        )


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

    @classmethod
    def of(cls, row: MarkerRow) -> MarkerOut:
        return cls(id=row.id, t_s=row.t_s, text=row.text, created_at_s=row.created_at_s)


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

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            at_s=entry.at_s,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            resource=entry.resource,
            outcome=entry.outcome,
        )


class HealthOut(_Out):
    status: str
    version: str
    database: str
