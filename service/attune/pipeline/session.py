"""Per-session composition of the pure stages."""

from __future__ import annotations

from dataclasses import dataclass, field

from attune.cues.pacer import PacerSettings
from attune.dyad.state import Role
from attune.errors import PayloadError
from attune.hrv.calm import CalmBaseline, CalmReading
from attune.hrv.engine import EngineConfig, EngineOutput, ParticipantEngine
from attune.pipeline.coreg import CoRegulation
from attune.pipeline.events import (
    BatteryEvent,
    BeatEvent,
    CalmEvent,
    GapEvent,
    LinkEvent,
    LinkState,
    MetricsEvent,
    PayloadRejected,
    PipelineEvent,
    QualityEvent,
)
from attune.sensor.hrm import parse_hrm
from attune.sensor.timeline import BeatTimeline, GapCause, TimelineUpdate


@dataclass(slots=True)
class _Participant:
    timeline: BeatTimeline
    engine: ParticipantEngine
    contact: bool | None = None
    gap_open: GapCause | None = None
    rejected_total: int = 0


@dataclass(slots=True)
class SessionPipeline:
    """Feeds one session's recorded input through the pure stages.

    Times are session seconds (arrival time minus session start), supplied by the caller.
    ``baselines`` holds calm baselines stored from earlier sessions, by participant; without
    one, a participant's engine learns it from the first minutes of this session.
    ``roles`` says who is the therapist and who the client (by participant id): their events
    also go through the co-regulation stage (synchrony, cues, pacer, resonance assessment).
    """

    engine_config: EngineConfig = field(default_factory=EngineConfig)
    baselines: dict[str, CalmBaseline] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    coreg: CoRegulation = field(default_factory=CoRegulation)
    _participants: dict[str, _Participant] = field(default_factory=dict)

    def calm_baseline(self, participant_id: str) -> CalmBaseline | None:
        """The participant's calm baseline in use (stored, or learnt once ready): to persist."""
        p = self._participants.get(participant_id)
        return p.engine.calm_baseline if p else self.baselines.get(participant_id)

    def notification(self, participant_id: str, t_s: float, payload: bytes) -> list[PipelineEvent]:
        """One Heart Rate Measurement notification that arrived at session time ``t_s``."""
        p = self._participant(participant_id)
        try:
            hrm = parse_hrm(payload)
        except PayloadError as exc:
            p.rejected_total += 1
            return [PayloadRejected(participant_id, t_s, exc.reason, p.rejected_total)]
        return self._follow(
            participant_id, self._apply(participant_id, p, p.timeline.feed(hrm, t_s), t_s)
        )

    def link(
        self, participant_id: str, t_s: float, state: LinkState, reason: str | None
    ) -> list[PipelineEvent]:
        """A link state change reported by the participant's collector."""
        p = self._participant(participant_id)
        events: list[PipelineEvent] = [LinkEvent(participant_id, t_s, state, reason)]
        if state is not LinkState.STREAMING:
            events += self._apply(participant_id, p, p.timeline.link_lost(t_s), t_s)
        return self._follow(participant_id, events)

    def battery(self, participant_id: str, t_s: float, level_pct: int) -> list[PipelineEvent]:
        """A battery reading from the participant's strap."""
        self._participant(participant_id)
        return [BatteryEvent(participant_id, t_s, level_pct)]

    def flush(self) -> list[PipelineEvent]:
        """The end of a recording: decide every participant's beats still awaiting the
        artefact screen's look-ahead (live never reaches this point; analysis does)."""
        events: list[PipelineEvent] = []
        for participant_id, p in self._participants.items():
            events += self._follow(participant_id, _engine_events(participant_id, p.engine.flush()))
        return events

    def set_pacer(self, t_s: float, settings: PacerSettings, source: str) -> list[PipelineEvent]:
        """The pacer set (started or changed) at ``t_s``."""
        return list(self.coreg.set_pacer(t_s, settings, source))

    def stop_pacer(self, t_s: float, source: str) -> list[PipelineEvent]:
        return list(self.coreg.stop_pacer(t_s, source))

    def start_resonance(self, t_s: float) -> list[PipelineEvent]:
        """Start the stepped resonance-frequency protocol (ConflictError if one runs)."""
        return list(self.coreg.start_resonance(t_s))

    def cancel_resonance(self, t_s: float) -> list[PipelineEvent]:
        return list(self.coreg.cancel_resonance(t_s))

    def _follow(self, participant_id: str, events: list[PipelineEvent]) -> list[PipelineEvent]:
        role = self.roles.get(participant_id)
        return events if role is None else events + list(self.coreg.follow(role, events))

    def _participant(self, participant_id: str) -> _Participant:
        if participant_id not in self._participants:
            engine = ParticipantEngine(self.engine_config, self.baselines.get(participant_id))
            self._participants[participant_id] = _Participant(BeatTimeline(), engine)
        return self._participants[participant_id]

    def _apply(
        self, participant_id: str, p: _Participant, update: TimelineUpdate, t_s: float
    ) -> list[PipelineEvent]:
        events: list[PipelineEvent] = []
        for gap in update.gaps:
            # Beats pending before the gap are decided first, and come out before it.
            events += _engine_events(participant_id, p.engine.add_gap(gap))
            events.append(GapEvent(participant_id, gap))
        if (update.contact, update.gap_open) != (p.contact, p.gap_open):
            opened = update.gap_open is not None and p.gap_open is None
            p.contact, p.gap_open = update.contact, update.gap_open
            if opened:
                events += _engine_events(participant_id, p.engine.signal_lost(t_s))
            events.append(QualityEvent(participant_id, t_s, p.contact, p.gap_open))
        for beat in update.beats:
            events += _engine_events(participant_id, p.engine.add_beat(beat))
        return events


def _engine_events(participant_id: str, outputs: list[EngineOutput]) -> list[PipelineEvent]:
    events: list[PipelineEvent] = []
    for out in outputs:
        if isinstance(out, CalmReading):
            events.append(CalmEvent(participant_id, out))
        else:
            events.append(BeatEvent(participant_id, out.beat, out.artefact))
            events.append(MetricsEvent(participant_id, out.metrics))
    return events
