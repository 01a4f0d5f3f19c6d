"""Co-regulation stage of the session pipeline: the dyad's synchrony, the cue policy, the
breathing pacer and the resonance-frequency assessment, driven by the per-participant events
and by the session's controls (pacer and assessment commands).

Pure and deterministic like the rest of the pipeline: the same inputs in the same order give
the same events, so live, the rebuild after a restart, replay and analysis agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from attune.cues.config import CueConfig, default_cue_config
from attune.cues.model import ParticipantSnapshot
from attune.cues.pacer import Pacer, PacerEvent, PacerSettings
from attune.cues.policy import CuePolicy
from attune.cues.resonance import (
    ASSESSMENT_SOURCE,
    AssessmentEvent,
    AssessmentFinished,
    ResonanceAssessment,
    ResonanceProtocol,
    StepMeasured,
    StepStarted,
)
from attune.dyad.config import SynchronyConfig
from attune.dyad.live import LiveSynchrony
from attune.dyad.state import Role, SynchronyState
from attune.errors import ConflictError
from attune.hrv.calm import CalmReading
from attune.hrv.engine import MetricsSnapshot
from attune.pipeline.events import (
    AssessmentState,
    BeatEvent,
    CalmEvent,
    CoregEvent,
    CueEvent,
    MetricsEvent,
    PacerChanged,
    PipelineEvent,
    QualityEvent,
    ResonanceEvent,
    ResonanceStatus,
    SynchronyEvent,
)

CUE_UPDATE_S = 1.0  # the cue policy runs at most this often (session time), but on signal loss


@dataclass(slots=True)
class _Person:
    metrics: MetricsSnapshot | None = None
    calm: CalmReading | None = None
    signal_ok: bool = True

    def snapshot(self) -> ParticipantSnapshot | None:
        m, c = self.metrics, self.calm
        if m is None or c is None or c.calm is None or m.hr_bpm is None or m.hr_bpm <= 0:
            return None
        return ParticipantSnapshot(
            c.t_s, c.calm, c.confidence, m.hr_bpm, m.ln_rmssd, signal_ok=self.signal_ok
        )


@dataclass(slots=True)
class CoRegulation:
    """One session's dyad: feed it the therapist's and the client's pipeline events (by
    role) and the session's controls; it returns synchrony, cue, pacer and assessment events."""

    cue_config: CueConfig = field(default_factory=default_cue_config)
    synchrony_config: SynchronyConfig = field(default_factory=SynchronyConfig)
    resonance_protocol: ResonanceProtocol = field(default_factory=ResonanceProtocol)
    pacer: Pacer = field(default_factory=Pacer)
    _synchrony: LiveSynchrony = field(init=False)
    _policy: CuePolicy = field(init=False)
    _people: dict[Role, _Person] = field(init=False)
    _latest_synchrony: SynchronyState | None = None
    _assessment: ResonanceAssessment | None = None
    _resonance: ResonanceStatus | None = None
    _last_t_s: float = float("-inf")

    def __post_init__(self) -> None:
        self._synchrony = LiveSynchrony(self.synchrony_config)
        self._policy = CuePolicy(self.cue_config)
        self._people = {role: _Person() for role in Role}

    @property
    def resonance(self) -> ResonanceStatus | None:
        """The latest assessment's status (None: none was started in this session)."""
        return self._resonance

    @property
    def assessing(self) -> bool:
        return self._resonance is not None and self._resonance.state is AssessmentState.RUNNING

    @property
    def pacer_setting(self) -> PacerEvent | None:
        """The pacer's latest setting (in force, or waiting for the end of a breath); None
        when it is off."""
        events = self.pacer.events
        return events[-1] if events and events[-1].settings is not None else None

    # Participant events

    def follow(self, role: Role, events: list[PipelineEvent]) -> list[CoregEvent]:
        """What ``role``'s pipeline events lead to."""
        out: list[CoregEvent] = []
        person = self._people[role]
        for event in events:
            if isinstance(event, BeatEvent):
                out += self._beat(role, event)
            elif isinstance(event, MetricsEvent):
                person.metrics = event.snapshot
            elif isinstance(event, CalmEvent):
                person.calm = event.reading
                # Both meters move once a second; the rules' hold times are 5 s and more, so
                # one update a second of session time is enough.
                if event.reading.t_s >= self._last_t_s + CUE_UPDATE_S:
                    out += self._update_cues(event.reading.t_s)
            elif isinstance(event, QualityEvent):
                signal_ok = event.gap_open is None and event.contact is not False
                if signal_ok != person.signal_ok:
                    person.signal_ok = signal_ok
                    out += self._update_cues(event.t_s)  # a lost signal pauses cues at once
        return out

    def _beat(self, role: Role, event: BeatEvent) -> list[CoregEvent]:
        beat, usable = event.beat, event.artefact is None
        out: list[CoregEvent] = []
        for state in self._synchrony.add_beat(
            role, beat.t_s, beat.rr_ms, usable=usable, after_gap=beat.after_gap
        ):
            self._latest_synchrony = state
            out.append(SynchronyEvent(state))
        if self._assessment is not None and self.assessing:
            if role is Role.CLIENT:
                self._assessment.add_beat(beat.t_s, beat.rr_ms, usable=usable)
            out += self._assessment_events(self._assessment.tick(beat.t_s))
        return out

    def _update_cues(self, t_s: float) -> list[CoregEvent]:
        # Both people's readings arrive interleaved; the policy takes time in order.
        self._last_t_s = max(self._last_t_s, t_s)
        cues = self._policy.update(
            self._last_t_s,
            self._people[Role.THERAPIST].snapshot(),
            self._people[Role.CLIENT].snapshot(),
            self._latest_synchrony,
        )
        return [CueEvent(cue) for cue in cues]

    # Controls

    def set_pacer(
        self, t_s: float, settings: PacerSettings, source: str = "therapist"
    ) -> list[CoregEvent]:
        """Start the pacer, or change its settings from the end of the current breath; a
        therapist's setting ends a running assessment."""
        out = self.cancel_resonance(t_s) if self.assessing else []
        return out + self._pacer_events([self.pacer.start(self._pacer_time(t_s), settings, source)])

    def stop_pacer(self, t_s: float, source: str = "therapist") -> list[CoregEvent]:
        out = self.cancel_resonance(t_s) if self.assessing else []
        stopped = self.pacer.stop(self._pacer_time(t_s), source)
        return out + self._pacer_events([stopped] if stopped is not None else [])

    def start_resonance(self, t_s: float) -> list[CoregEvent]:
        """Begin the stepped protocol now; ConflictError if one is running."""
        if self.assessing:
            raise ConflictError("a resonance assessment is already running")
        start_s = self._pacer_time(t_s)
        self._assessment = ResonanceAssessment(self.resonance_protocol, self.pacer)
        self._resonance = ResonanceStatus(
            start_s, AssessmentState.RUNNING, start_s, None, None, None
        )
        return self._assessment_events(self._assessment.start(start_s))

    def cancel_resonance(self, t_s: float) -> list[CoregEvent]:
        """Stop a running assessment and its pacer; nothing if none is running."""
        if not self.assessing or self._resonance is None:
            return []
        self._assessment = None
        stopped = self.pacer.stop(self._pacer_time(t_s), ASSESSMENT_SOURCE)
        out = self._pacer_events([stopped] if stopped is not None else [])
        self._resonance = replace(self._resonance, t_s=t_s, state=AssessmentState.CANCELLED)
        return [*out, ResonanceEvent(self._resonance)]

    def _pacer_time(self, t_s: float) -> float:
        # Pacer commands must come in time order; the assessment files its steps at their
        # scheduled times, which a command stamped by another clock may precede by a hair.
        events = self.pacer.events
        return max(t_s, events[-1].t_s) if events else t_s

    def _pacer_events(self, events: list[PacerEvent]) -> list[CoregEvent]:
        for event in events:
            rate = event.settings.breaths_per_min if event.settings is not None else None
            self._synchrony.set_pacer(event.effective_s, rate)
        return [PacerChanged(event) for event in events]

    def _assessment_events(self, events: list[AssessmentEvent]) -> list[CoregEvent]:
        out: list[CoregEvent] = []
        status = self._resonance
        assert status is not None  # noqa: S101 - set when the assessment starts
        for event in events:
            if isinstance(event, PacerEvent):
                out += self._pacer_events([event])
                continue
            if isinstance(event, StepStarted):
                status = replace(
                    status,
                    t_s=event.t_s,
                    step=event.index,
                    breaths_per_min=event.breaths_per_min,
                    step_end_s=event.end_s,
                )
            elif isinstance(event, StepMeasured):
                status = replace(status, t_s=event.t_s, steps=(*status.steps, event.measurement))
            elif isinstance(event, AssessmentFinished):
                status = replace(
                    status,
                    t_s=event.t_s,
                    state=AssessmentState.FINISHED,
                    steps=event.result.steps,
                    resonance_bpm=event.result.resonance_bpm,
                    reason=event.result.reason,
                )
            out.append(ResonanceEvent(status))
        self._resonance = status
        return out
