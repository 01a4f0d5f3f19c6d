"""A recorded session, run through the pipeline once, as every export reads it.

``build_record`` takes what the store holds (the session row, its participants, the collector
input, markers, pacer changes and cues shown) and feeds the collector input through the same
stream as live and re-analysis (``attune.api.analysis.run_stream``, finished so that the last
beats are decided too). It keeps, per participant, the beats with both artefact flags (the live
engine's causal one, and the offline centred one that summaries use), the gaps with their
causes, the metrics and calm readings, and the counts an accounting needs. CPU-bound and pure:
the callers run it in a worker thread.

Late collector messages (an outbox backfill that arrived after newer data) were recorded but
never shown live; an export is of the recording, so they are included, in seq order, as
re-analysis does by default (``complete_order``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from attune.hrv.artefacts import ArtefactKind
from attune.hrv.engine import EngineConfig
from attune.hrv.series import GAP_TOLERANCE_S, RrSeries, series_from_beats
from attune.hrv.summary import screen
from attune.protocol.live import (
    BatteryMessage,
    BeatMessage,
    CalmMessage,
    GapMessage,
    LinkMessage,
    MetricsMessage,
    QualityMessage,
    RejectedMessage,
)
from attune.sensor.hrm import rr_ms_to_1024
from attune.sensor.timeline import Beat, Gap, GapCause
from attune.store import CueShownRow, MarkerRow, PacerChangeRow, ParticipantRow, SessionRow
from attune.store.recording import RecordedInput, complete_order


@dataclass(frozen=True, slots=True)
class ExportBeat:
    """One RR interval ending at session time ``t_s``.

    ``rr_1024`` is the strap's own value (1/1024 s, Heart Rate Service 1.0 §3.1) and ``rr_ms``
    its exact conversion. ``artefact`` is the offline centred Lipponen-Tarvainen flag (what
    summaries and the report use), ``artefact_live`` the live engine's causal one. After a gap
    (and at the first beat) ``after_gap`` is set: no difference may span it; ``gap_before_s``
    is the length of the gap that ended where this interval began, ``gap_cause`` its cause.
    """

    index: int
    t_s: float
    rr_ms: float
    rr_1024: int
    after_gap: bool
    artefact: ArtefactKind | None
    artefact_live: ArtefactKind | None
    gap_before_s: float
    gap_cause: GapCause | None

    @property
    def hr_bpm(self) -> float:
        return 60000.0 / self.rr_ms


@dataclass(frozen=True, slots=True)
class ExportGap:
    """A span without trustworthy beats; ``open_at_end`` when the recording ended inside it."""

    start_s: float
    end_s: float
    cause: GapCause
    open_at_end: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class ParticipantRecord:
    """Everything one participant's strap produced, decided and screened."""

    id: str
    role: str
    name: str
    label: str  # the role, numbered when several participants share it ("other2")
    sensor_name: str
    beats: tuple[ExportBeat, ...]
    gaps: tuple[ExportGap, ...]
    metrics: tuple[MetricsMessage, ...]
    calm: tuple[CalmMessage, ...]
    links: tuple[LinkMessage, ...]
    battery: tuple[BatteryMessage, ...]
    rejected_payloads: int

    def series(self) -> RrSeries:
        """The beats as an RR series with the gap before each (for the HRV summaries)."""
        t_s = np.array([b.t_s for b in self.beats], dtype=np.float64)
        rr_ms = np.array([b.rr_ms for b in self.beats], dtype=np.float64)
        gap_s = np.array([b.gap_before_s for b in self.beats], dtype=np.float64)
        return RrSeries(t_s, rr_ms, gap_s)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A recorded session as every export reads it. ``origin_s`` is the Unix time of session
    time zero (its start); ``start_s``..``end_s`` the session times the data span (from 0, or
    earlier when data preceded the start, to the stop or the newest data); ``exported_at_s``
    when this record was built."""

    session_id: str
    title: str
    origin_s: float
    started_at_s: float | None
    ended_at_s: float | None
    start_s: float
    end_s: float
    participants: tuple[ParticipantRecord, ...]
    markers: tuple[MarkerRow, ...]
    pacer_changes: tuple[PacerChangeRow, ...]
    cues: tuple[CueShownRow, ...]
    engine: EngineConfig
    late_messages: int
    exported_at_s: float

    def participant(self, participant_id: str) -> ParticipantRecord | None:
        return next((p for p in self.participants if p.id == participant_id), None)


@dataclass(frozen=True, slots=True)
class StoredSession:
    """What the store holds about a session, as the exports read it."""

    session: SessionRow
    participants: tuple[ParticipantRow, ...]
    collector_inputs: tuple[RecordedInput, ...]
    markers: tuple[MarkerRow, ...]
    pacer_changes: tuple[PacerChangeRow, ...]
    cues: tuple[CueShownRow, ...]


@dataclass(slots=True)
class _Collected:
    beats: list[BeatMessage] = field(default_factory=list)
    gaps: list[GapMessage] = field(default_factory=list)
    metrics: list[MetricsMessage] = field(default_factory=list)
    calm: list[CalmMessage] = field(default_factory=list)
    links: list[LinkMessage] = field(default_factory=list)
    battery: list[BatteryMessage] = field(default_factory=list)
    rejected: int = 0
    open_gap: QualityMessage | None = None


def build_record(
    stored: StoredSession, *, exported_at_s: float, config: EngineConfig | None = None
) -> SessionRecord:
    """Run a session's recording through the pipeline and collect what the exports need."""
    # Imported here: attune.api serves this room's files, so importing it at the top would
    # make the two packages import each other.
    from attune.api.analysis import run_stream  # noqa: PLC0415

    session, participants = stored.session, stored.participants
    engine = config or EngineConfig()
    collected = {p.id: _Collected() for p in participants}
    ordered = complete_order(stored.collector_inputs)
    for message in run_stream(ordered, session.origin_s, engine, finish=True):
        item = collected.get(getattr(message, "participant", ""))
        if item is not None:
            _collect(item, message)
    times = [m.t_s for c in collected.values() for m in (*c.beats, *c.gaps)]
    times += [m.t_s for m in stored.markers] + [c.t_s for c in stored.cues]
    times += [p.t_s for p in stored.pacer_changes]
    if session.ended_at_s is not None:
        times.append(session.ended_at_s - session.origin_s)
    starts = [b.t_s - b.rr_ms / 1000.0 for c in collected.values() for b in c.beats[:1]]
    starts += [g.start_s for c in collected.values() for g in c.gaps[:1]]
    end_s = max(times, default=0.0)
    labels = participant_labels(participants)
    return SessionRecord(
        session_id=session.id,
        title=session.title,
        origin_s=session.origin_s,
        started_at_s=session.started_at_s,
        ended_at_s=session.ended_at_s,
        start_s=min([0.0, *starts]),
        end_s=end_s,
        participants=tuple(
            _participant(p, labels[p.id], collected[p.id], end_s) for p in participants
        ),
        markers=tuple(sorted(stored.markers, key=lambda m: m.t_s)),
        pacer_changes=tuple(sorted(stored.pacer_changes, key=lambda c: c.t_s)),
        cues=tuple(sorted(stored.cues, key=lambda c: c.t_s)),
        engine=engine,
        late_messages=sum(not i.live for i in stored.collector_inputs),
        exported_at_s=exported_at_s,
    )


def _collect(item: _Collected, message: object) -> None:
    match message:
        case BeatMessage():
            item.beats.append(message)
        case GapMessage():
            item.gaps.append(message)
        case MetricsMessage():
            item.metrics.append(message)
        case CalmMessage():
            item.calm.append(message)
        case LinkMessage():
            item.links.append(message)
        case BatteryMessage():
            item.battery.append(message)
        case RejectedMessage():
            item.rejected = max(item.rejected, message.rejected_total)
        case QualityMessage():
            item.open_gap = message if message.gap_open is not None else None


def participant_labels(participants: Sequence[ParticipantRow]) -> dict[str, str]:
    """Each participant's role, numbered from 2 when the role repeats ("other", "other2")."""
    seen: dict[str, int] = {}
    labels = {}
    for p in participants:
        seen[p.role] = seen.get(p.role, 0) + 1
        labels[p.id] = p.role if seen[p.role] == 1 else f"{p.role}{seen[p.role]}"
    return labels


def _participant(row: ParticipantRow, label: str, c: _Collected, end_s: float) -> ParticipantRecord:
    gaps = [ExportGap(g.start_s, g.end_s, g.cause) for g in c.gaps]
    beats = _beats(c.beats, gaps)
    if c.open_gap is not None and c.open_gap.gap_open is not None:
        # Still open when the recording ended: it runs from the last beat to the end.
        start_s = beats[-1].t_s if beats else c.open_gap.t_s
        gaps.append(ExportGap(start_s, max(end_s, start_s), c.open_gap.gap_open, True))
    return ParticipantRecord(
        id=row.id,
        role=row.role,
        name=row.display_name,
        label=label,
        sensor_name=row.sensor_name,
        beats=beats,
        gaps=tuple(gaps),
        metrics=tuple(c.metrics),
        calm=tuple(c.calm),
        links=tuple(c.links),
        battery=tuple(c.battery),
        rejected_payloads=c.rejected,
    )


def _beats(messages: Sequence[BeatMessage], gaps: Sequence[ExportGap]) -> tuple[ExportBeat, ...]:
    """Beats with both flags, and the length and cause of the gap before each."""
    raw = [rr_ms_to_1024(m.rr_ms) for m in messages]
    beats = [Beat(i, m.t_s, m.rr_ms, raw[i], math.nan, m.after_gap) for i, m in enumerate(messages)]
    series = series_from_beats(beats, [Gap(g.start_s, g.end_s, g.cause) for g in gaps])
    offline = screen(series) if beats else []
    ends = np.array([g.end_s for g in gaps])
    out = []
    for i, m in enumerate(messages):
        cause = None
        if m.after_gap and i > 0:
            # The gap that closed where this interval began (the rule of series_from_beats).
            near = np.flatnonzero(np.abs(ends - (m.t_s - m.rr_ms / 1000.0)) < GAP_TOLERANCE_S)
            cause = gaps[int(near[-1])].cause if near.size else None
        out.append(
            ExportBeat(
                index=i,
                t_s=m.t_s,
                rr_ms=m.rr_ms,
                rr_1024=raw[i],
                after_gap=m.after_gap,
                artefact=offline[i],
                artefact_live=m.artefact,
                gap_before_s=float(series.gap_before_s[i]),
                gap_cause=cause,
            )
        )
    return tuple(out)
