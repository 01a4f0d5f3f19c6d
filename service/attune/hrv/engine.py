"""Per-participant rolling metrics, updated on every beat.

The engine is pure and incremental: it is fed beats and gaps (with their times) and returns a
snapshot after each beat. It never reads a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from attune.hrv.time_domain import mean_hr_bpm, rmssd_ms, successive_differences_ms
from attune.sensor.timeline import Beat, Gap


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Window settings; defaults from hrv-science.md §0 (time domain: trailing 60 s,
    trustworthy from 30 s and 30 beats)."""

    window_s: float = 60.0
    min_window_s: float = 30.0
    min_beats: int = 30


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Rolling metrics after one beat.

    ``provisional`` is True while the window is shorter than the configured minimum, so the
    display can show the value as warming up rather than hide it.
    """

    t_s: float
    hr_bpm: float
    rmssd_ms: float | None
    n_beats: int
    window_s: float
    provisional: bool


@dataclass(slots=True)
class ParticipantEngine:
    """Rolling HR and RMSSD over a trailing window of beats."""

    config: EngineConfig = field(default_factory=EngineConfig)
    _beats: deque[Beat] = field(default_factory=deque)

    def add_gap(self, gap: Gap) -> None:
        """Record a gap; beats already carry ``after_gap``, so nothing spans it."""
        del gap  # the timeline marks the first beat after the gap

    def add_beat(self, beat: Beat) -> MetricsSnapshot:
        """Add one beat and return the metrics of the trailing window ending at it."""
        self._beats.append(beat)
        horizon_s = beat.t_s - self.config.window_s
        while self._beats and self._beats[0].t_s - self._beats[0].rr_ms / 1000.0 < horizon_s:
            self._beats.popleft()
        nn_ms = np.fromiter((b.rr_ms for b in self._beats), dtype=np.float64)
        after_gap = np.fromiter((b.after_gap for b in self._beats), dtype=np.bool_)
        diffs = successive_differences_ms(nn_ms, after_gap)
        span_s = float(nn_ms.sum()) / 1000.0
        return MetricsSnapshot(
            t_s=beat.t_s,
            hr_bpm=mean_hr_bpm(nn_ms),
            rmssd_ms=rmssd_ms(diffs) if diffs.size else None,
            n_beats=int(nn_ms.size),
            window_s=span_s,
            provisional=span_s < self.config.min_window_s or nn_ms.size < self.config.min_beats,
        )
