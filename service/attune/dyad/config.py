"""Synchrony settings, with the defaults of hrv-science.md §4.3 and their limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from attune.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SynchronyConfig:
    """Windowed cross-correlation (Boker et al. 2002) of HR resampled at ``fs_hz``.

    Windows:
    - ``window_s``, ``step_s``, ``max_lag_s``: 30 s windows every 1-5 s, lags within +-5 s;
    - ``max_bridge_s``: HR is interpolated across missing beats only over spans this short;
    - ``remove_pacer``: regress the pacer frequency out of windows during paced breathing.

    Live verdict (``LiveSynchrony``):
    - ``horizon_s``: the live index is the peak of the mean lag profile of this trailing span;
    - ``null_min_shift_s``..``null_max_shift_s``, every ``null_shift_stride`` steps: the null
      pairs each horizon window with the partner's window this far back (each way round),
      never closer than a window length;
    - ``min_surrogates``: the live null must have this many values (shifts x 2) before a
      verdict, and enough for p to reach ``alpha``;
    - ``effect_size_on``/``effect_size_off``, ``alpha``, ``sustain_s``: "above chance" switches
      on once the effect size has stayed >= ``effect_size_on`` with permutation p <=
      ``alpha`` for ``sustain_s``, and off when it falls below ``effect_size_off``;
    - ``min_valid_fraction``: share of usable windows in the horizon needed for a verdict;
    - ``stale_s``: a partner whose data lag this far behind is treated as missing (gap).

    Whole-session verdict (``session_synchrony``): ``segment_s`` (>= a window) and
    ``n_surrogates`` (>= 500) segment derangements.

    ``lead_threshold_s``: a lag shorter than this is reported as "together".
    """

    fs_hz: float = 4.0
    window_s: float = 30.0
    step_s: float = 2.0
    max_lag_s: float = 5.0
    max_bridge_s: float = 3.0
    remove_pacer: bool = True
    horizon_s: float = 120.0
    null_min_shift_s: float = 30.0
    null_max_shift_s: float = 300.0
    null_shift_stride: int = 1
    min_surrogates: int = 100
    effect_size_on: float = 4.5
    effect_size_off: float = 2.5
    alpha: float = 0.01
    sustain_s: float = 40.0
    min_valid_fraction: float = 0.6
    stale_s: float = 10.0
    segment_s: float = 60.0
    n_surrogates: int = 1000
    lead_threshold_s: float = 0.5

    def __post_init__(self) -> None:
        _within("fs_hz", self.fs_hz, 1.0, 10.0)
        _within("window_s", self.window_s, 10.0, 120.0)
        _within("step_s", self.step_s, 1.0, 5.0)
        _within("max_lag_s", self.max_lag_s, 0.0, self.window_s / 3)
        _within("max_bridge_s", self.max_bridge_s, 0.5, 10.0)
        _within("horizon_s", self.horizon_s, self.window_s, 1800.0)
        _within("null_min_shift_s", self.null_min_shift_s, self.window_s, 600.0)
        _within("null_max_shift_s", self.null_max_shift_s, self.null_min_shift_s, 3600.0)
        _within("null_shift_stride", self.null_shift_stride, 1, 30)
        _within("effect_size_on", self.effect_size_on, 0.0, 50.0)
        _within("effect_size_off", self.effect_size_off, 0.0, self.effect_size_on)
        _within("alpha", self.alpha, 0.0, 0.5)
        _within("sustain_s", self.sustain_s, 0.0, 300.0)
        _within("min_valid_fraction", self.min_valid_fraction, 0.1, 1.0)
        _within("stale_s", self.stale_s, 2.0, 120.0)
        _within("segment_s", self.segment_s, self.window_s, 600.0)
        _within("n_surrogates", self.n_surrogates, 500, 100_000)
        _within("min_surrogates", self.min_surrogates, 20, 10_000)
        _within("lead_threshold_s", self.lead_threshold_s, 0.0, self.max_lag_s)
        for name in ("window_s", "step_s", "max_lag_s"):
            _whole(name, getattr(self, name) * self.fs_hz, f"{name} x fs_hz")
        if self.alpha * (self.min_surrogates + 1) < 1.0:
            raise ConfigError(
                f"synchrony min_surrogates ({self.min_surrogates}) can never give p <= alpha "
                f"({self.alpha:g})"
            )
        shifts = (self.windows(self.null_max_shift_s) - self.windows(self.null_min_shift_s)) // (
            self.null_shift_stride
        ) + 1
        if 2 * shifts < self.min_surrogates:
            raise ConfigError(
                f"synchrony: shifts of {self.null_min_shift_s:g}-{self.null_max_shift_s:g} s "
                f"every {self.null_shift_stride} step(s) give {2 * shifts} surrogates, fewer "
                f"than min_surrogates ({self.min_surrogates})"
            )

    @property
    def window_n(self) -> int:
        return round(self.window_s * self.fs_hz)

    @property
    def step_n(self) -> int:
        return round(self.step_s * self.fs_hz)

    @property
    def lag_n(self) -> int:
        return round(self.max_lag_s * self.fs_hz)

    def windows(self, seconds: float) -> int:
        """A span in seconds as a whole number of window steps (rounded up: spans here are
        minimum lengths, e.g. a segment must cover a window)."""
        return math.ceil(seconds / self.step_s - 1e-9)


def _within(name: str, value: float, lo: float, hi: float) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ConfigError(f"synchrony {name} must be within {lo:g}-{hi:g}, got {value!r}")


def _whole(name: str, value: float, what: str) -> None:
    if not math.isclose(value, round(value), abs_tol=1e-9):
        raise ConfigError(f"synchrony {name}: {what} must be a whole number, got {value:g}")
