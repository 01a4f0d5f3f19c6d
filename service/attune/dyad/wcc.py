"""Windowed cross-correlation with peak picking (Boker et al. 2002, Psychol Methods 7:338).

A window of the therapist's HR (A, ``window_n`` samples) is correlated with windows of the
client's HR (B) of the same length shifted by every lag in ``-lag_n..lag_n``: r(k) pairs
A[a : a + W] with B[a + k : a + k + W]. Keeping every B window full length (rather than
shrinking the overlap, as ``ccf`` does) keeps the variance of r equal across lags, so the peak
is not pulled towards the longest lags. A positive lag means the client's HR follows the
therapist's: the therapist leads.

Before correlating, each window is detrended by least squares onto its own basis: a constant
and a line (the per-window linear detrend of hrv-science.md §4.3) and, when a breathing pacer
runs during the window, sines and cosines at the pacer frequency and its second harmonic.
Two people breathing with the same pacer get in-phase RSA at that frequency, which is shared
pacing, not co-regulation (§4.4); regressing the known pacer frequency out of both removes it.

r is turned into Fisher z = atanh(r); the peak is the lag of largest |z|, refined to a
fraction of a sample with a parabola through the neighbouring lags.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

R_CLIP = 1.0 - 1e-9
# Residual energy below this share of the raw energy means a flat window: no correlation.
FLAT_RESIDUAL = 1e-10
FEW_ROWS = 16  # up to this many rows the flatness test runs in Python floats


@cache
def window_basis(window_n: int, fs_hz: float, pacer_hz: tuple[float, ...] = ()) -> FloatArray:
    """Orthonormal basis (window_n x k) of what a window's detrend removes."""
    t = np.arange(window_n) / fs_hz
    columns = [np.ones(window_n), t - t.mean()]
    for f_hz in pacer_hz:
        # The fundamental and the second harmonic: with an exhale longer than the inhale the
        # breathing cycle is not a sine, and neither is the RSA it drives.
        for harmonic in (1, 2):
            w = 2 * math.pi * harmonic * f_hz * t
            columns += [np.sin(w), np.cos(w)]
    q, _ = np.linalg.qr(np.column_stack(columns))
    basis: FloatArray = np.ascontiguousarray(q)
    return basis


def normalized_residuals(rows: FloatArray, basis: FloatArray) -> FloatArray:
    """Each row minus its projection on ``basis``, scaled to unit length; NaN for rows with
    missing samples or nothing left after detrending. Dot products of two such rows are
    Pearson correlations of the detrended windows."""
    out = rows - (rows @ basis) @ basis.T
    energy = np.einsum("ij,ij->i", out, out)
    # rows.mean(axis=1, keepdims=True), the same sum and division without its per-call costs.
    centred = rows - np.add.reduce(rows, axis=1, keepdims=True) / rows.shape[1]
    raw = np.einsum("ij,ij->i", centred, centred)
    if rows.shape[0] <= FEW_ROWS:
        # A live update's few rows: the same test in Python floats, and no error state to
        # set when every row is usable (a positive finite energy cannot warn).
        bad_rows = [
            i
            for i, (e, r) in enumerate(zip(energy.tolist(), raw.tolist(), strict=True))
            if not math.isfinite(e) or e <= FLAT_RESIDUAL * r or r <= 0.0
        ]
        if not bad_rows:
            out /= np.sqrt(energy)[:, None]
            return out
        bad: list[int] | npt.NDArray[np.bool_] = bad_rows
    else:
        bad = ~np.isfinite(energy) | (energy <= FLAT_RESIDUAL * raw) | (raw <= 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out /= np.sqrt(energy)[:, None]
    out[bad] = np.nan
    return out


def fisher_z(r: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """atanh(r), with r kept inside (-1, 1); into ``out`` (which may be ``r``) if given."""
    if out is None:
        z: FloatArray = np.arctanh(np.minimum(np.maximum(r, -R_CLIP), R_CLIP))
        return z
    np.maximum(r, -R_CLIP, out=out)
    np.minimum(out, R_CLIP, out=out)
    return np.arctanh(out, out=out)


def max_abs(profiles_z: FloatArray) -> FloatArray:
    """Largest |z| over the last axis (lags); NaN where any lag is unusable."""
    if profiles_z.ndim != 2:  # noqa: PLR2004 - the live case, below, is a 2-d stack
        peak: FloatArray = np.abs(profiles_z).max(axis=-1)
        return peak
    # Lags first: a reduction over the outer axis runs along whole rows of profiles at a
    # time, rather than once per profile over its few dozen lags.
    by_lag = np.abs(profiles_z.T, order="C")
    peaks: FloatArray = np.maximum.reduce(by_lag, axis=0)
    return peaks


@dataclass(frozen=True, slots=True)
class Peak:
    """The peak of one lag profile."""

    z: float  # signed Fisher z at the peak (in phase > 0)
    lag_s: float  # > 0: the therapist leads


def pick_peak(profile_z: FloatArray, fs_hz: float) -> Peak | None:
    """Peak of |z| over lags ``-L..L`` with sub-sample parabolic refinement; None if all NaN."""
    # In Python floats: for a few dozen lags numpy's per-call costs outweigh the arithmetic.
    values = profile_z.tolist()
    mag = [abs(v) for v in values]
    k, best = -1, -1.0
    for i, m in enumerate(mag):
        if m > best and math.isfinite(m):  # the first largest finite |z|
            k, best = i, m
    if k < 0:
        return None
    offset = 0.0
    if 0 < k < len(mag) - 1 and math.isfinite(mag[k - 1]) and math.isfinite(mag[k + 1]):
        curvature = mag[k - 1] - 2.0 * mag[k] + mag[k + 1]
        if curvature < 0:
            offset = min(max(0.5 * (mag[k - 1] - mag[k + 1]) / curvature, -0.5), 0.5)
    lag_n = (len(values) - 1) // 2
    return Peak(values[k], (k - lag_n + offset) / fs_hz)


@dataclass(frozen=True, slots=True)
class PacerTrack:
    """Pacer frequency over time, as a sorted list of changes (``None``: pacer off)."""

    changes: tuple[tuple[float, float | None], ...] = ()

    def with_change(self, t_s: float, hz: float | None) -> PacerTrack:
        kept = tuple(c for c in self.changes if c[0] < t_s)
        return PacerTrack((*kept, (t_s, hz)))

    def changes_within(self, t0_s: float, t1_s: float) -> bool:
        """Whether the pacer changed strictly between ``t0_s`` and ``t1_s`` (if not, every
        span inside has the rates of the whole)."""
        return any(t0_s < t_s < t1_s for t_s, _ in self.changes)

    def rates_between(self, t0_s: float, t1_s: float) -> tuple[float, ...]:
        """The distinct pacer frequencies active at some time in [t0_s, t1_s)."""
        rates: set[float] = set()
        current: float | None = None
        for t_s, hz in self.changes:
            if t_s >= t1_s:
                break
            if t_s > t0_s and current is not None:
                rates.add(current)
            current = hz
        if current is not None:
            rates.add(current)
        return tuple(sorted(rates))


@dataclass(slots=True)
class WindowNormalizer:
    """Normalised residual rows for windows starting at given grid samples, each with the
    basis its own span calls for."""

    window_n: int
    fs_hz: float
    pacer: PacerTrack = field(default_factory=PacerTrack)
    remove_pacer: bool = True

    def rows(
        self, series: FloatArray, first: int, starts: Sequence[int] | npt.NDArray[np.int64]
    ) -> FloatArray:
        """Rows for windows starting at ``starts`` (absolute samples); ``series[0]`` is sample
        ``first`` and must cover every window."""
        if len(starts) == 1 and series.flags.c_contiguous:
            # One window (the therapist's in a live update): a view of it is enough.
            start = int(starts[0])
            span = self._pacer_set(start, start + self.window_n)
            raw = series[None, start - first : start - first + self.window_n]
            return normalized_residuals(raw, window_basis(self.window_n, self.fs_hz, span))
        starts_arr = np.asarray(starts, dtype=np.int64)
        lo, hi = int(starts_arr[0]), int(starts_arr[-1]) + self.window_n
        span = self._pacer_set(lo, hi)
        if len(span) == 0 or not self.pacer.changes_within(lo / self.fs_hz, hi / self.fs_hz):
            # Nothing paced anywhere in the batch, or the same pacer throughout: one basis
            # for all (the common case).
            raw = series[_window_samples(starts_arr - first, self.window_n)]
            return normalized_residuals(raw, window_basis(self.window_n, self.fs_hz, span))
        out = np.empty((starts_arr.size, self.window_n))
        groups: dict[tuple[float, ...], list[int]] = {}
        for i, start in enumerate(starts_arr.tolist()):
            groups.setdefault(self._pacer_set(start, start + self.window_n), []).append(i)
        for pacer_hz, members in groups.items():
            idx = np.asarray(members)
            raw = series[_window_samples(starts_arr[idx] - first, self.window_n)]
            out[idx] = normalized_residuals(raw, window_basis(self.window_n, self.fs_hz, pacer_hz))
        return out

    def _pacer_set(self, start: int, end: int) -> tuple[float, ...]:
        if not self.remove_pacer:
            return ()
        return self.pacer.rates_between(start / self.fs_hz, end / self.fs_hz)


def _window_samples(offsets: npt.NDArray[np.int64], window_n: int) -> npt.NDArray[np.int64]:
    """Index of every sample of the windows starting at ``offsets`` (one row per window)."""
    index: npt.NDArray[np.int64] = offsets[:, None] + _sample_numbers(window_n)
    return index


@cache
def _sample_numbers(window_n: int) -> npt.NDArray[np.int64]:
    return np.arange(window_n)


# OpenBLAS splits a product over threads once m * n * k reaches 4 * 65536; for the small
# products of one live update the thread hand-off costs more than the arithmetic (measured
# 600 us instead of 50 us on a busy two-core machine), so they are cut below that size.
BLAS_SINGLE_THREAD_WORK = 4 * 65536 - 1


def small_matmul(a: FloatArray, b: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """``a @ b`` in row blocks small enough to stay on one BLAS thread (into ``out``, a
    C-contiguous array, if given)."""
    rows = max(1, BLAS_SINGLE_THREAD_WORK // max(1, a.shape[1] * b.shape[1]))
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    for i in range(0, a.shape[0], rows):
        np.matmul(a[i : i + rows], b, out=out[i : i + rows])
    return out
