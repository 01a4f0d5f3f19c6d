"""Uniform 4 Hz cubic-spline resampling of the NN series (hrv-science.md §1.3 step 2).

The interpolant is the not-a-knot cubic spline through the NN values placed at the end of
their intervals, i.e. exactly ``scipy.interpolate.CubicSpline(t, nn)``. We build it with
FITPACK (``splrep(s=0)``/``splev``), which yields the same interpolating spline (its knots are
the data points without the second and the second-last: the not-a-knot conditions) at a
fraction of ``CubicSpline``'s per-call overhead; ``tests/unit/test_hrv_spectral.py`` pins the
equality. Flagged beats are simply not knots, so the spline interpolates over them.

``StreamingResampler`` keeps the live 4 Hz series for the trailing spectral window without
refitting the whole window on every update: each update fits a spline to the knots that
arrived since the last update plus ``left_knots`` of context, and rewrites the samples after
the last *final* one. A sample becomes final once ``right_knots`` knots lie beyond it; since the
influence of a knot on a cubic spline decays by a factor of about 2 - sqrt(3) = 0.27 per knot,
final samples differ from a spline through the whole window by far less than the RR
resolution (the test bounds it).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.interpolate import splev, splrep

FloatArray = npt.NDArray[np.float64]

RESAMPLE_HZ = 4.0
_MIN_KNOTS = 4  # a cubic spline needs more knots than its degree


def cubic_resample(
    t_s: FloatArray, values: FloatArray, fs_hz: float = RESAMPLE_HZ
) -> tuple[FloatArray, FloatArray]:
    """Grid ``t_s[0] + k / fs`` up to (excluding) the last knot, and the spline's values there."""
    grid = np.arange(t_s[0], t_s[-1], 1.0 / fs_hz)
    if t_s.size < _MIN_KNOTS:
        return grid, np.interp(grid, t_s, values)
    return grid, np.asarray(splev(grid, splrep(t_s, values, s=0)), dtype=np.float64)


class StreamingResampler:
    """The trailing ``capacity_s`` of a 4 Hz spline resampling, on the absolute grid k / fs."""

    __slots__ = (
        "_buf",
        "_end_k",
        "_final_k",
        "_first_k",
        "_fs",
        "_knot_t",
        "_knot_v",
        "_left",
        "_right",
    )

    def __init__(
        self,
        capacity_s: float,
        fs_hz: float = RESAMPLE_HZ,
        *,
        left_knots: int = 8,
        right_knots: int = 6,
    ) -> None:
        self._fs = fs_hz
        self._buf = np.zeros(math.ceil(capacity_s * fs_hz), dtype=np.float64)
        self._left = left_knots
        self._right = right_knots
        self._knot_t: list[float] = []
        self._knot_v: list[float] = []
        self._first_k: int | None = None  # first grid index of the current run
        self._final_k = 0  # samples before this grid index are final
        self._end_k = 0  # one past the newest written sample

    @property
    def available_s(self) -> float:
        """Seconds of resampled signal in the current run (bounded by the capacity)."""
        if self._first_k is None:
            return 0.0
        return min(self._end_k - self._first_k, self._buf.size) / self._fs

    def add_knot(self, t_s: float, value: float) -> None:
        """An accepted NN interval ending at ``t_s``; cheap, the spline waits for ``update``."""
        self._knot_t.append(t_s)
        self._knot_v.append(value)

    def reset(self) -> None:
        """Start a new run (after a gap too long to interpolate over)."""
        self._knot_t.clear()
        self._knot_v.clear()
        self._first_k = None
        self._final_k = self._end_k = 0

    def update(self) -> None:
        """Resample up to the newest knot."""
        if len(self._knot_t) < _MIN_KNOTS:
            return
        t = np.array(self._knot_t)
        fs = self._fs
        if self._first_k is None:
            self._first_k = self._final_k = self._end_k = math.ceil(t[0] * fs)
        k_hi = math.floor(t[-1] * fs)
        if k_hi >= self._final_k:
            ks = np.arange(self._final_k, k_hi + 1)
            values = splev(ks / fs, splrep(t, np.array(self._knot_v), s=0))
            self._buf[ks % self._buf.size] = values
            self._end_k = k_hi + 1
        if len(t) > self._right:
            self._final_k = min(
                max(self._final_k, math.ceil(t[-1 - self._right] * fs)), self._end_k
            )
        # Keep ``left_knots`` knots before the first sample that will be rewritten.
        before = int(np.searchsorted(t, self._final_k / fs))
        drop = max(0, before - self._left)
        del self._knot_t[:drop], self._knot_v[:drop]

    @property
    def capacity(self) -> int:
        """Samples held."""
        return int(self._buf.size)

    @property
    def first_k(self) -> int | None:
        """Grid index of the run's first sample (None before the run has samples)."""
        return self._first_k

    @property
    def final_k(self) -> int:
        """Samples before this grid index are final."""
        return self._final_k

    @property
    def end_k(self) -> int:
        """One past the newest sample's grid index."""
        return self._end_k

    def samples(self, k0: int, k1: int) -> FloatArray:
        """Samples k0 .. k1 - 1 (they must still be held)."""
        return self._buf[np.arange(k0, k1) % self._buf.size]

    def latest(self, seconds: float) -> FloatArray:
        """The newest ``seconds`` of the run (less if the run is shorter), oldest first."""
        if self._first_k is None:
            return np.zeros(0)
        n = min(round(seconds * self._fs), self._end_k - self._first_k, self._buf.size)
        ks = np.arange(self._end_k - n, self._end_k) % self._buf.size
        return self._buf[ks]
