"""The session as one JSON document, schema ``attune.session-export/1`` (docs/exports.md).

Beats are columnar (one array per field: ``pandas.DataFrame(p["beats"])`` reads them); metrics,
calm readings and gaps are the live protocol's own messages (docs/protocol.md), as re-analysis
returns them; markers, pacer changes and cues shown as the store holds them; summaries,
synchrony and accounting are ``attune.hrv.summary``, ``attune.dyad`` and ``overview``'s values.
``SessionDocument.model_json_schema()`` is the machine-readable schema. Missing values and
non-finite numbers are ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from attune import __version__
from attune.dyad.session import SessionSynchrony
from attune.dyad.state import SynchronyState
from attune.export.overview import Accounting, ParticipantOverview, SessionOverview
from attune.export.record import SessionRecord
from attune.hrv.artefacts import ArtefactKind
from attune.hrv.summary import Summary
from attune.protocol.live import CalmMessage, MetricsMessage
from attune.sensor.timeline import GapCause
from attune.store import CueShownRow, MarkerRow, PacerChangeRow

SCHEMA: Final = "attune.session-export/1"


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="null")


class SessionMeta(_Doc):
    id: str
    title: str
    origin_unix_s: float = Field(description="Unix time of session time zero (the start).")
    started_at: datetime | None
    ended_at: datetime | None
    start_s: float = Field(description="Session time of the earliest data (<= 0).")
    end_s: float = Field(description="Session time of the end (the stop, or the newest data).")
    late_messages: int = Field(description="Collector messages recorded late (included).")


class Beats(_Doc):
    """One array per field, one entry per beat, in time order (see beats.csv)."""

    t_s: list[float]
    rr_ms: list[float]
    rr_1024: list[int]
    artefact: list[ArtefactKind | None]
    artefact_live: list[ArtefactKind | None]
    after_gap: list[bool]
    gap_before_s: list[float | None]
    gap_cause: list[GapCause | None]


class GapSpan(_Doc):
    start_s: float
    end_s: float
    cause: GapCause
    open_at_end: bool


class ParticipantDocument(_Doc):
    id: str
    role: str
    label: str
    name: str
    sensor_name: str
    beats: Beats
    gaps: list[GapSpan]
    metrics: list[MetricsMessage]
    calm: list[CalmMessage]
    summary: Summary | None = Field(description="The whole session (offline screen).")
    segments: list[Summary] = Field(description="Consecutive 5 minute blocks of session time.")
    accounting: Accounting


class SynchronyWindows(_Doc):
    end_s: list[float]
    z: list[float | None]
    lag_s: list[float | None]


class SynchronyDocument(_Doc):
    summary: SynchronyState
    windows: SynchronyWindows
    lags_s: list[float]
    mean_profile_z: list[float | None]


class SessionEvents(_Doc):
    """As the store holds them (``GET /api/sessions/{id}/events`` shows the same)."""

    markers: list[MarkerRow]
    pacer_changes: list[PacerChangeRow]
    cues_shown: list[CueShownRow]


class SessionDocument(_Doc):
    """A recorded session, everything Attune knows about it."""

    model_config = ConfigDict(populate_by_name=True)
    schema_: Literal["attune.session-export/1"] = Field(default=SCHEMA, alias="schema")
    attune_version: str
    exported_at: datetime
    session: SessionMeta
    engine: dict[str, JsonValue]
    participants: list[ParticipantDocument]
    events: SessionEvents
    synchrony: SynchronyDocument | None


def _time(unix_s: float | None) -> datetime | None:
    return None if unix_s is None else datetime.fromtimestamp(unix_s, UTC)


def _finite(values: Iterable[float]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def _participant(o: ParticipantOverview) -> ParticipantDocument:
    p = o.participant
    return ParticipantDocument(
        id=p.id,
        role=p.role,
        label=p.label,
        name=p.name,
        sensor_name=p.sensor_name,
        beats=Beats(
            t_s=[b.t_s for b in p.beats],
            rr_ms=[b.rr_ms for b in p.beats],
            rr_1024=[b.rr_1024 for b in p.beats],
            artefact=[b.artefact for b in p.beats],
            artefact_live=[b.artefact_live for b in p.beats],
            after_gap=[b.after_gap for b in p.beats],
            gap_before_s=_finite(b.gap_before_s for b in p.beats),
            gap_cause=[b.gap_cause for b in p.beats],
        ),
        gaps=[
            GapSpan(start_s=g.start_s, end_s=g.end_s, cause=g.cause, open_at_end=g.open_at_end)
            for g in p.gaps
        ],
        metrics=list(p.metrics),
        calm=list(p.calm),
        summary=o.whole,
        segments=list(o.segments),
        accounting=o.accounting,
    )


def _synchrony(s: SessionSynchrony | None) -> SynchronyDocument | None:
    if s is None:
        return None
    return SynchronyDocument(
        summary=s.summary,
        windows=SynchronyWindows(
            end_s=[float(t) for t in s.window_end_s],
            z=_finite(s.window_z),
            lag_s=_finite(s.window_lag_s),
        ),
        lags_s=[float(t) for t in s.lags_s],
        mean_profile_z=_finite(s.mean_profile_z),
    )


def session_document(record: SessionRecord, view: SessionOverview) -> SessionDocument:
    """The document's model (validated on construction)."""
    from attune.api.stream import engine_config_json  # noqa: PLC0415 - see record.py

    return SessionDocument(
        attune_version=__version__,
        exported_at=datetime.fromtimestamp(record.exported_at_s, UTC),
        session=SessionMeta(
            id=record.session_id,
            title=record.title,
            origin_unix_s=record.origin_s,
            started_at=_time(record.started_at_s),
            ended_at=_time(record.ended_at_s),
            start_s=record.start_s,
            end_s=record.end_s,
            late_messages=record.late_messages,
        ),
        engine=engine_config_json(record.engine),
        participants=[_participant(o) for o in view.participants],
        events=SessionEvents(
            markers=list(record.markers),
            pacer_changes=list(record.pacer_changes),
            cues_shown=list(record.cues),
        ),
        synchrony=_synchrony(view.synchrony),
    )


def session_json(record: SessionRecord, view: SessionOverview) -> str:
    """The document as JSON text."""
    return session_document(record, view).model_dump_json(by_alias=True)
