"""The breathing pacer: settings, the phase of a breath at any time, and its changes as events.

Slow breathing at 4-7 breaths/min with a longer exhale is the core of HRV biofeedback (Lehrer &
Gevirtz 2014; resonance frequency, hrv-science.md §1.7). The phase function is pure and small
on purpose: the client's browser mirrors it in JavaScript (same formula, same numbers) to draw
the pacer from the same settings and anchor time the service records.

A change of rate or ratio takes effect at the end of the current breath, so the animation never
jumps mid-breath; starting anchors the first inhale at the start time; stopping is immediate.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from attune.errors import ConfigError

RATE_MIN_BPM = 4.0
RATE_MAX_BPM = 7.0
RATE_STEP_BPM = 0.5
EXHALE_RATIO_MIN = 1.0
EXHALE_RATIO_MAX = 3.0
FLOAT_SLACK = 1e-9  # tolerance for float time and rates that should be exact


@dataclass(frozen=True, slots=True)
class PacerSettings:
    """Rate in breaths/min (4-7 in 0.5 steps) and the exhale's length relative to the inhale
    (I:E = 1:``exhale_ratio``, 1-3; e.g. 1.5 gives 4 s in, 6 s out at 6/min)."""

    breaths_per_min: float = 6.0
    exhale_ratio: float = 1.5

    def __post_init__(self) -> None:
        rate = self.breaths_per_min
        steps = (rate - RATE_MIN_BPM) / RATE_STEP_BPM
        if not (
            math.isfinite(rate)
            and RATE_MIN_BPM <= rate <= RATE_MAX_BPM
            and abs(steps - round(steps)) < FLOAT_SLACK
        ):
            raise ConfigError(
                f"pacer rate must be {RATE_MIN_BPM:g}-{RATE_MAX_BPM:g} breaths/min in steps of "
                f"{RATE_STEP_BPM:g}, got {rate!r}"
            )
        ratio = self.exhale_ratio
        if not (math.isfinite(ratio) and EXHALE_RATIO_MIN <= ratio <= EXHALE_RATIO_MAX):
            raise ConfigError(
                f"pacer exhale ratio (I:E = 1:x) must be within {EXHALE_RATIO_MIN:g}-"
                f"{EXHALE_RATIO_MAX:g}, got {ratio!r}"
            )

    @property
    def period_s(self) -> float:
        return 60.0 / self.breaths_per_min

    @property
    def inhale_fraction(self) -> float:
        return 1.0 / (1.0 + self.exhale_ratio)

    @property
    def hz(self) -> float:
        return self.breaths_per_min / 60.0


class Stage(enum.StrEnum):
    INHALE = "inhale"
    EXHALE = "exhale"


@dataclass(frozen=True, slots=True)
class PacerPhase:
    """Where the pacer is: ``progress`` 0-1 through the current stage, ``volume`` 0-1 the
    target lung volume (cosine-eased: 0 at the start of an inhale, 1 at its end)."""

    stage: Stage
    progress: float
    volume: float
    breath: int  # whole breaths since the anchor


def pacer_phase(settings: PacerSettings, anchor_s: float, t_s: float) -> PacerPhase:
    """The pacer's phase at ``t_s`` for breaths starting (with an inhale) at ``anchor_s``."""
    elapsed_s = t_s - anchor_s
    breath = math.floor(elapsed_s / settings.period_s)
    cycle = elapsed_s / settings.period_s - breath
    inhale = settings.inhale_fraction
    if cycle < inhale:
        progress = cycle / inhale
        return PacerPhase(Stage.INHALE, progress, (1.0 - math.cos(math.pi * progress)) / 2, breath)
    progress = (cycle - inhale) / (1.0 - inhale)
    return PacerPhase(Stage.EXHALE, progress, (1.0 + math.cos(math.pi * progress)) / 2, breath)


class PacerChange(enum.StrEnum):
    STARTED = "started"
    CHANGED = "changed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PacerEvent:
    """A pacer state change, for the live stream and the recording.

    Asked for at ``t_s``, in force from ``effective_s`` with breaths anchored at ``anchor_s``
    (the first inhale of the new settings). ``settings`` is None once stopped.
    """

    t_s: float
    change: PacerChange
    settings: PacerSettings | None
    effective_s: float
    anchor_s: float
    source: str = "therapist"


@dataclass(slots=True)
class Pacer:
    """The pacer of one session: takes commands with their times, returns events, and answers
    what the phase is at any time (replaying the events gives the same answers)."""

    _events: list[PacerEvent] = field(default_factory=list)

    @property
    def events(self) -> tuple[PacerEvent, ...]:
        return tuple(self._events)

    def start(self, t_s: float, settings: PacerSettings, source: str = "therapist") -> PacerEvent:
        """Start now (first inhale at ``t_s``), or change settings if already running."""
        if self.active_at(t_s) is not None:
            return self.change(t_s, settings, source)
        return self._record(PacerEvent(t_s, PacerChange.STARTED, settings, t_s, t_s, source))

    def change(self, t_s: float, settings: PacerSettings, source: str = "therapist") -> PacerEvent:
        """New settings from the end of the current breath."""
        current = self.active_at(t_s)
        if current is None:
            return self.start(t_s, settings, source)
        assert current.settings is not None  # noqa: S101 - active events carry settings
        period_s = current.settings.period_s
        # The next breath boundary at or after t_s (a hair's tolerance for float time).
        breaths = math.ceil((t_s - current.anchor_s) / period_s - FLOAT_SLACK)
        boundary_s = current.anchor_s + breaths * period_s
        return self._record(
            PacerEvent(t_s, PacerChange.CHANGED, settings, boundary_s, boundary_s, source)
        )

    def stop(self, t_s: float, source: str = "therapist") -> PacerEvent | None:
        """Stop now; None if the pacer was not running."""
        if self.active_at(t_s) is None:
            return None
        return self._record(PacerEvent(t_s, PacerChange.STOPPED, None, t_s, t_s, source))

    def apply(self, event: PacerEvent) -> None:
        """Replay a recorded event."""
        self._record(event)

    def active_at(self, t_s: float) -> PacerEvent | None:
        """The event whose settings are in force at ``t_s`` (None: pacer off)."""
        current: PacerEvent | None = None
        for event in self._events:
            if event.effective_s <= t_s:
                current = event
        return current if current is not None and current.settings is not None else None

    def phase_at(self, t_s: float) -> PacerPhase | None:
        current = self.active_at(t_s)
        if current is None or current.settings is None:
            return None
        return pacer_phase(current.settings, current.anchor_s, t_s)

    def _record(self, event: PacerEvent) -> PacerEvent:
        if self._events and event.t_s < self._events[-1].t_s:
            raise ConfigError("pacer commands must come in time order")
        if event.change is PacerChange.STOPPED:
            # Stopping cancels changes that were waiting for the end of a breath.
            self._events = [e for e in self._events if e.effective_s <= event.t_s]
        else:
            # A newer change replaces one still waiting for its breath boundary.
            self._events = [
                e
                for e in self._events
                if not (e.effective_s > event.t_s and e.change is PacerChange.CHANGED)
            ]
        self._events.append(event)
        return event
