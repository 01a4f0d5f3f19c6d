"""What the report and the JSON document say about a session beyond its raw data: HRV
summaries (whole session and 5 minute segments, ``attune.hrv.summary``), whole-session
synchrony (``attune.dyad.session_synchrony``), and artefact and gap accounting. Pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from attune.dyad.session import BeatSeries, SessionSynchrony, session_synchrony
from attune.dyad.wcc import PacerTrack
from attune.export.record import ParticipantRecord, SessionRecord
from attune.hrv.summary import ArtefactCounts, Summary, segment_summaries, summarize
from attune.pipeline.events import LinkState
from attune.sensor.timeline import GapCause

MIN_BEATS = 2


@dataclass(frozen=True, slots=True)
class GapTally:
    cause: GapCause
    count: int
    total_s: float


@dataclass(frozen=True, slots=True)
class Accounting:
    """Where a participant's data went: beats kept and flagged, gaps by cause, payloads the
    decoder refused, link losses, and how much of the span the beats cover."""

    beats: int
    artefacts: ArtefactCounts  # the offline (centred) screen
    artefacts_live: int  # the live (causal) screen
    gaps: tuple[GapTally, ...]
    rejected_payloads: int
    link_losses: int
    battery_min_pct: int | None
    gap_s: float  # all gaps together
    covered_s: float  # the sum of the beats' intervals
    span_s: float  # the session's span
    coverage_pct: float  # covered_s of span_s


@dataclass(frozen=True, slots=True)
class ParticipantOverview:
    participant: ParticipantRecord
    whole: Summary | None
    segments: tuple[Summary, ...]
    accounting: Accounting


@dataclass(frozen=True, slots=True)
class SessionOverview:
    participants: tuple[ParticipantOverview, ...]
    synchrony: SessionSynchrony | None  # a therapist and a client with beats: else None


def overview(record: SessionRecord) -> SessionOverview:
    """Summaries, synchrony and accounting of a recorded session."""
    return SessionOverview(
        participants=tuple(_participant(record, p) for p in record.participants),
        synchrony=_synchrony(record),
    )


def _participant(record: SessionRecord, p: ParticipantRecord) -> ParticipantOverview:
    series = p.series()
    enough = len(series) >= MIN_BEATS
    flags = [b.artefact for b in p.beats]
    whole = summarize(series, flags) if enough else None
    tallies: Counter[GapCause] = Counter()
    lengths: dict[GapCause, float] = {}
    for g in p.gaps:
        tallies[g.cause] += 1
        lengths[g.cause] = lengths.get(g.cause, 0.0) + g.duration_s
    covered_s = float(series.rr_ms.sum()) / 1000.0
    span_s = record.end_s - record.start_s
    return ParticipantOverview(
        participant=p,
        whole=whole,
        segments=tuple(segment_summaries(series)) if enough else (),
        accounting=Accounting(
            beats=len(p.beats),
            artefacts=whole.artefacts if whole else ArtefactCounts(0, 0, 0, 0, 0),
            artefacts_live=sum(b.artefact_live is not None for b in p.beats),
            gaps=tuple(GapTally(c, n, lengths[c]) for c, n in sorted(tallies.items())),
            rejected_payloads=p.rejected_payloads,
            link_losses=sum(m.state is LinkState.LOST for m in p.links),
            battery_min_pct=min((m.level_pct for m in p.battery), default=None),
            gap_s=sum(lengths.values()),
            covered_s=covered_s,
            span_s=span_s,
            coverage_pct=100.0 * min(covered_s / span_s, 1.0) if span_s > 0 else 0.0,
        ),
    )


def _synchrony(record: SessionRecord) -> SessionSynchrony | None:
    therapist = next((p for p in record.participants if p.role == "therapist"), None)
    client = next((p for p in record.participants if p.role == "client"), None)
    if therapist is None or client is None or not therapist.beats or not client.beats:
        return None
    pacer = PacerTrack(
        tuple(
            (c.t_s, c.breaths_per_min / 60.0 if c.breaths_per_min else None)
            for c in sorted(record.pacer_changes, key=lambda c: c.t_s)
        )
    )
    return session_synchrony(_beat_series(therapist), _beat_series(client), pacer=pacer)


def _beat_series(p: ParticipantRecord) -> BeatSeries:
    return BeatSeries(
        t_s=np.array([b.t_s for b in p.beats]),
        rr_ms=np.array([b.rr_ms for b in p.beats]),
        usable=np.array([b.artefact is None for b in p.beats], dtype=np.bool_),
        after_gap=np.array([b.after_gap for b in p.beats], dtype=np.bool_),
    )
