"""Resonance-frequency assessment: a stepped paced-breathing protocol as a pure state machine.

Lehrer, Vaschillo & Vaschillo (2000): breathe at 6.5, 6.0, 5.5, 5.0 and 4.5 breaths/min for
about 2 minutes each; the resonance frequency (RF) is the rate with the largest low-frequency
HRV response, HR in phase with breathing and the smoothest HR curve. Later protocols keep one or
two criteria (Shaffer & Meehan 2020); we follow hrv-science.md §1.7: per step, measure the LF
peak frequency and power, peak-to-trough HR per breath, the coherence ratio and the HR-pacer
phase; pick the rate with the largest LF peak power, breaking near-ties (within
``tie_tolerance``) by the phase closest to 0 deg.

Driven by time: ``start`` begins step 1 (and the pacer), ``add_beat`` files beats by their own
times, ``tick`` moves on at each step's end (exactly on a breath boundary: each step runs a
whole number of breaths) and measures a step once ``grace_s`` has passed, for late beats.
Every step change is a ``PacerEvent``, so the pacer on the client's screen, the recording and
the simulated lungs all follow the same schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from attune.cues import spectral
from attune.cues.pacer import Pacer, PacerEvent, PacerSettings, pacer_phase
from attune.errors import ConfigError

LF_BAND_HZ = (0.04, 0.15)
STEP_S_RANGE = (60.0, 600.0)
MIN_RATES = 2
MIN_VALID_STEPS = 3
MIN_STEP_BEATS = 10
PEAK_HALF_WIDTH_HZ = 0.015
ASSESSMENT_SOURCE = "resonance-assessment"  # the pacer events' source


@dataclass(frozen=True, slots=True)
class ResonanceProtocol:
    """The stepped protocol; each step lasts the whole number of breaths nearest ``step_s``."""

    rates_bpm: tuple[float, ...] = (6.5, 6.0, 5.5, 5.0, 4.5)
    step_s: float = 120.0
    settle_s: float = 20.0
    exhale_ratio: float = 1.5
    grace_s: float = 5.0
    min_coverage: float = 0.8
    tie_tolerance: float = 0.1

    def __post_init__(self) -> None:
        if len(self.rates_bpm) < MIN_RATES:
            raise ConfigError("a resonance protocol needs at least 2 rates")
        for rate in self.rates_bpm:
            PacerSettings(rate, self.exhale_ratio)  # validates rate and ratio
        if not STEP_S_RANGE[0] <= self.step_s <= STEP_S_RANGE[1]:
            raise ConfigError(f"resonance step_s must be within 60-600 s, got {self.step_s}")
        if not 0.0 <= self.settle_s <= self.step_s / 2:
            raise ConfigError("resonance settle_s must be within 0 and half a step")
        if not 0.0 <= self.tie_tolerance < 1.0:
            raise ConfigError("resonance tie_tolerance must be within 0-1")

    def step_duration_s(self, rate_bpm: float) -> float:
        return round(self.step_s * rate_bpm / 60.0) * 60.0 / rate_bpm


@dataclass(frozen=True, slots=True)
class StepMeasurement:
    """What one step showed. ``valid`` is False when too few usable beats were recorded."""

    index: int
    breaths_per_min: float
    start_s: float
    end_s: float
    valid: bool
    coverage: float
    lf_peak_hz: float | None = None
    lf_peak_power_ms2: float | None = None
    peak_to_trough_bpm: float | None = None
    coherence_ratio: float | None = None
    hr_pacer_phase_deg: float | None = None


@dataclass(frozen=True, slots=True)
class ResonanceResult:
    """The pick (None when too few steps were measurable) and why."""

    resonance_bpm: float | None
    steps: tuple[StepMeasurement, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class StepStarted:
    t_s: float
    index: int
    breaths_per_min: float
    end_s: float


@dataclass(frozen=True, slots=True)
class StepMeasured:
    t_s: float
    measurement: StepMeasurement


@dataclass(frozen=True, slots=True)
class AssessmentFinished:
    t_s: float
    result: ResonanceResult


AssessmentEvent = StepStarted | StepMeasured | AssessmentFinished | PacerEvent


@dataclass(slots=True)
class _Step:
    index: int
    rate_bpm: float
    start_s: float
    end_s: float
    t_s: list[float] = field(default_factory=list)
    rr_ms: list[float] = field(default_factory=list)


@dataclass(slots=True)
class ResonanceAssessment:
    """One client's assessment; feed it beats and ticks with their times."""

    protocol: ResonanceProtocol = field(default_factory=ResonanceProtocol)
    pacer: Pacer = field(default_factory=Pacer)
    _steps: list[_Step] = field(default_factory=list)
    _measured: list[StepMeasurement] = field(default_factory=list)
    _current: int = -1
    _result: ResonanceResult | None = None

    @property
    def result(self) -> ResonanceResult | None:
        return self._result

    def start(self, t_s: float) -> list[AssessmentEvent]:
        """Begin step 1 at ``t_s`` (the pacer starts with an inhale)."""
        if self._steps:
            raise ConfigError("this assessment has already started")
        start_s = t_s
        for i, rate in enumerate(self.protocol.rates_bpm):
            end_s = start_s + self.protocol.step_duration_s(rate)
            self._steps.append(_Step(i, rate, start_s, end_s))
            start_s = end_s
        return self._enter(0, t_s)

    def add_beat(self, t_s: float, rr_ms: float, *, usable: bool = True) -> None:
        """A beat ending at ``t_s``; artefacts (``usable=False``) are left out."""
        if not usable:
            return
        for step in self._steps:
            if step.start_s + self.protocol.settle_s <= t_s < step.end_s:
                step.t_s.append(t_s)
                step.rr_ms.append(rr_ms)
                return

    def tick(self, t_s: float) -> list[AssessmentEvent]:
        """Advance to ``t_s``: start due steps, measure finished ones, finish at the end."""
        events: list[AssessmentEvent] = []
        if not self._steps or self._result is not None:
            return events
        while (
            self._current + 1 < len(self._steps) and t_s >= self._steps[self._current + 1].start_s
        ):
            events += self._enter(self._current + 1, self._steps[self._current + 1].start_s)
        last = self._steps[-1]
        if t_s >= last.end_s and not any(isinstance(e, PacerEvent) for e in events):
            stop = self.pacer.stop(last.end_s, source=ASSESSMENT_SOURCE)
            if stop is not None:
                events.append(stop)
        while len(self._measured) < len(self._steps):
            step = self._steps[len(self._measured)]
            if t_s < step.end_s + self.protocol.grace_s:
                break
            measurement = self._measure(step)
            self._measured.append(measurement)
            events.append(StepMeasured(t_s, measurement))
        if len(self._measured) == len(self._steps):
            self._result = pick_resonance(tuple(self._measured), self.protocol.tie_tolerance)
            events.append(AssessmentFinished(t_s, self._result))
        return events

    def _enter(self, index: int, t_s: float) -> list[AssessmentEvent]:
        self._current = index
        step = self._steps[index]
        settings = PacerSettings(step.rate_bpm, self.protocol.exhale_ratio)
        pacer_event = self.pacer.start(t_s, settings, source=ASSESSMENT_SOURCE)
        return [pacer_event, StepStarted(t_s, index, step.rate_bpm, step.end_s)]

    def _measure(self, step: _Step) -> StepMeasurement:
        p = self.protocol
        t0_s, t1_s = step.start_s + p.settle_s, step.end_s
        t_s, rr_ms = np.array(step.t_s), np.array(step.rr_ms)
        coverage = float(rr_ms.sum() / 1000.0 / (t1_s - t0_s)) if rr_ms.size else 0.0
        base = StepMeasurement(step.index, step.rate_bpm, step.start_s, step.end_s, False, coverage)
        if coverage < p.min_coverage or rr_ms.size < MIN_STEP_BEATS:
            return base
        # Beats before the analysed span are not kept, so the grid starts at the first beat.
        t0_s = max(t0_s, float(t_s[0]))
        rr_grid = spectral.uniform(t_s, rr_ms, t0_s, t1_s)
        # For timing against the pacer an interval's HR belongs to its middle, not its end:
        # placed at the end it would lag breathing by half a beat (about 15 deg at 5.5/min).
        mid_s = t_s - rr_ms / 2000.0
        hr_grid = spectral.uniform(mid_s, 60000.0 / rr_ms, t0_s, t1_s)
        rr_spectrum = spectral.psd(spectral.detrend(rr_grid))
        lf_hz, lf_power = spectral.peak(rr_spectrum, *LF_BAND_HZ, PEAK_HALF_WIDTH_HZ)
        settings = PacerSettings(step.rate_bpm, p.exhale_ratio)
        grid_s = t0_s + np.arange(hr_grid.size) / spectral.FS_HZ
        phases = [pacer_phase(settings, step.start_s, float(t)) for t in grid_s]
        volume = np.array([ph.volume for ph in phases])
        breaths = np.array([ph.breath for ph in phases])
        swings = [
            float(np.ptp(hr_grid[breaths == b]))
            for b in np.unique(breaths)
            if np.sum(breaths == b) >= 0.9 * settings.period_s * spectral.FS_HZ
        ]
        return StepMeasurement(
            step.index,
            step.rate_bpm,
            step.start_s,
            step.end_s,
            valid=True,
            coverage=coverage,
            lf_peak_hz=lf_hz,
            lf_peak_power_ms2=lf_power,
            peak_to_trough_bpm=float(np.mean(swings)) if swings else None,
            coherence_ratio=spectral.coherence_ratio(rr_spectrum),
            hr_pacer_phase_deg=spectral.phase_deg(
                spectral.detrend(hr_grid), spectral.detrend(volume), settings.hz
            ),
        )


def pick_resonance(steps: tuple[StepMeasurement, ...], tie_tolerance: float) -> ResonanceResult:
    """The rate with the largest LF peak power; among steps within ``tie_tolerance`` of it,
    the one whose HR is closest to in phase with the pacer (hrv-science.md §1.7)."""
    valid = [s for s in steps if s.valid and s.lf_peak_power_ms2 is not None]
    if len(valid) < MIN_VALID_STEPS:
        return ResonanceResult(None, steps, f"only {len(valid)} of {len(steps)} steps measurable")
    best_power = max(s.lf_peak_power_ms2 or 0.0 for s in valid)
    ties = [s for s in valid if (s.lf_peak_power_ms2 or 0.0) >= (1.0 - tie_tolerance) * best_power]
    chosen = min(
        ties,
        key=lambda s: abs(s.hr_pacer_phase_deg) if s.hr_pacer_phase_deg is not None else math.inf,
    )
    reason = (
        f"largest LF peak power ({chosen.lf_peak_power_ms2:.0f} ms2) "
        f"at {chosen.breaths_per_min:g}/min"
        if len(ties) == 1
        else f"{len(ties)} steps within {tie_tolerance:.0%} of the largest LF peak power; "
        f"{chosen.breaths_per_min:g}/min has HR closest to in phase with breathing "
        f"({chosen.hr_pacer_phase_deg:+.0f} deg)"
    )
    return ResonanceResult(chosen.breaths_per_min, steps, reason)
