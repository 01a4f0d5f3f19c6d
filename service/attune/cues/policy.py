"""The co-regulation cue policy: participant snapshots and synchrony in, cues out.

Pure and incremental: ``update`` is called with the time, each person's latest snapshot and
the latest synchrony state, and returns the cues that fire. Every rule has

- hysteresis: an "on" threshold to fire and a separate, less extreme "off" threshold to re-arm,
  so a value hovering at the threshold fires once, not at every crossing;
- a hold time: the on-condition must hold that long before the cue fires;
- a minimum interval between two cues of its kind (a re-armed rule that turns on again sooner
  becomes active without a cue).

While a strap has lost its signal (or its readings are stale) a "signal lost" cue fires and
every other rule pauses and forgets its progress: nothing is inferred from missing data.
Readings with a calm confidence below ``min_calm_confidence`` make that person "unknown":
rules needing them neither fire nor change state.

Calm trends are least-squares slopes (calm points per minute) over ``trend_window_s``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

import numpy as np

from attune.cues.config import (
    AttunedRule,
    ClientArousalRule,
    CueConfig,
    FallingCalmRule,
    RecoveringRule,
    Rule,
    default_cue_config,
)
from attune.cues.model import Cue, CueKind, ParticipantSnapshot, Reason
from attune.dyad.state import Role, SynchronyState

MIN_TREND_READINGS = 3
COMPACT_AFTER = 256  # readings dropped from a history before its lists are shortened
_SIGNAL_OK = {role: f"{role.value}_signal_ok" for role in Role}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A rule's reading of one update: its on- and off-conditions (None: cannot tell, the
    data it needs are missing) and the values behind them."""

    on: bool | None
    off: bool | None
    values: tuple[tuple[str, float | bool], ...]  # by name, as read (not rounded)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """The values as a cue shows them (floats to 3 decimals): made only when one fires."""
        return tuple(
            Reason(name, round(value, 3) if isinstance(value, float) else value)
            for name, value in self.values
        )


@dataclass(slots=True)
class _History:
    """Recent trusted calm readings of one person, in time order: ``times[first:]`` and
    ``calms[first:]`` (older entries are dropped in batches)."""

    keep_s: float
    times: list[float] = field(default_factory=list)
    calms: list[float] = field(default_factory=list)
    first: int = 0

    def add(self, t_s: float, calm: float) -> None:
        times = self.times
        if len(times) > self.first and t_s <= times[-1]:
            return  # the same reading again (or out of order)
        times.append(t_s)
        self.calms.append(calm)
        first, oldest_s = self.first, t_s - self.keep_s
        while first < len(times) and times[first] < oldest_s:
            first += 1
        if first > COMPACT_AFTER:
            del times[:first], self.calms[:first]
            first = 0
        self.first = first

    def clear(self) -> None:
        self.times.clear()
        self.calms.clear()
        self.first = 0

    def slope_per_min(self, t_s: float, window_s: float) -> float | None:
        """Least-squares slope over the trailing window; None without enough data (at least
        3 readings spanning half the window)."""
        times = self.times
        i = bisect_left(times, t_s - window_s, self.first)
        if len(times) - i < MIN_TREND_READINGS or times[-1] - times[i] < window_s / 2:
            return None
        t, c = np.array(times[i:]), np.array(self.calms[i:])
        # t.mean() and c.mean() as numpy computes them (the same sum and division), without
        # their per-call costs.
        n = t.size
        t = t - np.add.reduce(t) / n
        # The least-squares slope in closed form (np.polyfit's answer, at a tenth of its cost).
        return float((t @ (c - np.add.reduce(c) / n)) / (t @ t) * 60.0)

    def lowest_since(self, t_s: float) -> float | None:
        i = bisect_left(self.times, t_s, self.first)
        return min(self.calms[i:]) if i < len(self.times) else None


@dataclass(slots=True)
class _RuleState:
    active: bool = False
    pending_since_s: float | None = None
    last_fired_s: float | None = None


@dataclass(frozen=True, slots=True)
class _View:
    """What the rules look at in one update."""

    t_s: float
    calm: dict[Role, float | None]
    slope: dict[Role, float | None]
    lowest_client: float | None
    synchrony: SynchronyState | None


@dataclass(slots=True)
class CuePolicy:
    """Cue rules with hysteresis, hold times and minimum intervals (``CueConfig``)."""

    config: CueConfig = field(default_factory=default_cue_config)
    _history: dict[Role, _History] = field(init=False)
    _states: dict[CueKind, _RuleState] = field(init=False)

    def __post_init__(self) -> None:
        keep_s = max(self.config.general.trend_window_s, self.config.client_recovering.lookback_s)
        self._history = {role: _History(keep_s) for role in Role}
        self._states = {kind: _RuleState() for kind in CueKind}

    @property
    def paused(self) -> bool:
        """Cues are paused because a signal is lost."""
        return self._states[CueKind.SIGNAL_LOST].active

    def update(
        self,
        t_s: float,
        therapist: ParticipantSnapshot | None,
        client: ParticipantSnapshot | None,
        synchrony: SynchronyState | None = None,
    ) -> list[Cue]:
        """The cues that fire at ``t_s`` given the latest readings (None: none yet)."""
        g = self.config.general
        snapshots = {Role.THERAPIST: therapist, Role.CLIENT: client}
        # No snapshot yet is "warming up", not a lost signal; a snapshot that says so, or one
        # that has stopped being renewed, is.
        lost = {
            role: snap is not None and (not snap.signal_ok or t_s - snap.t_s > g.stale_after_s)
            for role, snap in snapshots.items()
        }
        signal = Evaluation(
            any(lost.values()),
            not any(lost.values()),
            tuple((_SIGNAL_OK[role], not gone) for role, gone in lost.items()),
        )
        cues = self._step(CueKind.SIGNAL_LOST, self.config.signal_lost, t_s, signal)
        if any(lost.values()):
            self._pause(lost)
            return cues
        for role, snap in snapshots.items():
            if snap is not None and snap.calm_confidence >= g.min_calm_confidence:
                self._history[role].add(snap.t_s, snap.calm)
        view = self._view(t_s, snapshots, synchrony)
        c = self.config
        cues += self._step(
            CueKind.CLIENT_AROUSAL_RISING,
            c.client_arousal_rising,
            t_s,
            _client_arousal(c.client_arousal_rising, view),
        )
        cues += self._step(
            CueKind.THERAPIST_AROUSAL_RISING,
            c.therapist_arousal_rising,
            t_s,
            _therapist_arousal(c.therapist_arousal_rising, view),
        )
        cues += self._step(CueKind.ATTUNED, c.attuned, t_s, _attuned(c.attuned, view))
        cues += self._step(
            CueKind.CLIENT_RECOVERING,
            c.client_recovering,
            t_s,
            _recovering(c.client_recovering, view),
        )
        return cues

    def _view(
        self,
        t_s: float,
        snapshots: dict[Role, ParticipantSnapshot | None],
        synchrony: SynchronyState | None,
    ) -> _View:
        g = self.config.general
        calm: dict[Role, float | None] = {}
        for role, snap in snapshots.items():
            trusted = snap is not None and snap.calm_confidence >= g.min_calm_confidence
            calm[role] = snap.calm if snap is not None and trusted else None
        slope = {role: h.slope_per_min(t_s, g.trend_window_s) for role, h in self._history.items()}
        lookback_s = self.config.client_recovering.lookback_s
        lowest = self._history[Role.CLIENT].lowest_since(t_s - lookback_s)
        return _View(t_s, calm, slope, lowest, synchrony)

    def _step(self, kind: CueKind, rule: Rule, t_s: float, reading: Evaluation) -> list[Cue]:
        state = self._states[kind]
        if not rule.enabled:
            return []
        if state.active:
            if reading.off is True:
                state.active, state.pending_since_s = False, None
            return []
        if reading.on is not True:
            state.pending_since_s = None
            return []
        if state.pending_since_s is None:
            state.pending_since_s = t_s
        if t_s - state.pending_since_s < rule.hold_s:
            return []
        state.active, state.pending_since_s = True, None
        if state.last_fired_s is not None and t_s - state.last_fired_s < rule.min_interval_s:
            return []  # too soon after the last one: active, but not shown again
        state.last_fired_s = t_s
        return [Cue(t_s, kind, rule.audience, rule.text, reading.reasons)]

    def _pause(self, lost: dict[Role, bool]) -> None:
        for kind, state in self._states.items():
            if kind is not CueKind.SIGNAL_LOST:
                state.active, state.pending_since_s = False, None
        for role, is_lost in lost.items():
            if is_lost:
                self._history[role].clear()


def _client_arousal(rule: ClientArousalRule, v: _View) -> Evaluation:
    cc, cs = v.calm[Role.CLIENT], v.slope[Role.CLIENT]
    tc, ts = v.calm[Role.THERAPIST], v.slope[Role.THERAPIST]
    if cc is None or cs is None or tc is None or ts is None:
        return Evaluation(None, None, ())
    steady = tc >= rule.therapist_min_calm and ts >= -rule.therapist_max_fall_per_min
    return Evaluation(
        cc < rule.calm_below and cs <= rule.slope_on_per_min and steady,
        cs >= rule.slope_off_per_min,
        _reasons(
            client_calm=cc, client_slope_per_min=cs, therapist_calm=tc, therapist_slope_per_min=ts
        ),
    )


def _therapist_arousal(rule: FallingCalmRule, v: _View) -> Evaluation:
    tc, ts = v.calm[Role.THERAPIST], v.slope[Role.THERAPIST]
    if tc is None or ts is None:
        return Evaluation(None, None, ())
    return Evaluation(
        tc < rule.calm_below and ts <= rule.slope_on_per_min,
        ts >= rule.slope_off_per_min,
        _reasons(therapist_calm=tc, therapist_slope_per_min=ts),
    )


def _attuned(rule: AttunedRule, v: _View) -> Evaluation:
    tc, cc, s = v.calm[Role.THERAPIST], v.calm[Role.CLIENT], v.synchrony
    if tc is None or cc is None:
        return Evaluation(None, None, ())
    reasons = _reasons(therapist_calm=tc, client_calm=cc)
    if s is not None and s.effect_size is not None and s.lag_s is not None:
        reasons += _reasons(synchrony_effect_size=s.effect_size, synchrony_lag_s=s.lag_s)
    in_step = s is not None and s.in_step
    above = s is not None and s.above_chance
    return Evaluation(
        tc >= rule.calm_on and cc >= rule.calm_on and in_step,
        tc < rule.calm_off or cc < rule.calm_off or not above,
        reasons,
    )


def _recovering(rule: RecoveringRule, v: _View) -> Evaluation:
    cc, cs, low = v.calm[Role.CLIENT], v.slope[Role.CLIENT], v.lowest_client
    if cc is None or cs is None or low is None:
        return Evaluation(None, None, ())
    return Evaluation(
        cs >= rule.slope_on_per_min and low <= rule.low_calm,
        cs <= rule.slope_off_per_min,
        _reasons(client_calm=cc, client_slope_per_min=cs, client_lowest_calm=low),
    )


def _reasons(**values: float) -> tuple[tuple[str, float], ...]:
    return tuple(values.items())
