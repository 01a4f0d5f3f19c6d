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
    centred = rows - rows.mean(axis=1, keepdims=True)
    raw = np.einsum("ij,ij->i", centred, centred)
    bad = ~np.isfinite(energy) | (energy <= FLAT_RESIDUAL * raw) | (raw <= 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out /= np.sqrt(energy)[:, None]
    out[bad] = np.nan
    return out


def fisher_z(r: FloatArray) -> FloatArray:
    """atanh(r), with r kept inside (-1, 1)."""
    return np.arctanh(np.minimum(np.maximum(r, -R_CLIP), R_CLIP))


def max_abs(profiles_z: FloatArray) -> FloatArray:
    """Largest |z| over the last axis (lags); NaN where any lag is unusable."""
    peak: FloatArray = np.abs(profiles_z).max(axis=-1)
    return peak


@dataclass(frozen=True, slots=True)
class Peak:
    """The peak of one lag profile."""

    z: float  # signed Fisher z at the peak (in phase > 0)
    lag_s: float  # > 0: the therapist leads


def pick_peak(profile_z: FloatArray, fs_hz: float) -> Peak | None:
    """Peak of |z| over lags ``-L..L`` with sub-sample parabolic refinement; None if all NaN."""
    mag = np.abs(profile_z)
    finite = np.isfinite(mag)
    if not finite.any():
        return None
    k = int(np.argmax(np.where(finite, mag, -1.0)))
    offset = 0.0
    if 0 < k < mag.size - 1 and np.isfinite(mag[k - 1]) and np.isfinite(mag[k + 1]):
        curvature = mag[k - 1] - 2.0 * mag[k] + mag[k + 1]
        if curvature < 0:
            offset = float(np.clip(0.5 * (mag[k - 1] - mag[k + 1]) / curvature, -0.5, 0.5))
    lag_n = (profile_z.size - 1) // 2
    return Peak(float(profile_z[k]), (k - lag_n + offset) / fs_hz)


@dataclass(frozen=True, slots=True)
class PacerTrack:
    """Pacer frequency over time, as a sorted list of changes (``None``: pacer off)."""

    changes: tuple[tuple[float, float | None], ...] = ()

    def with_change(self, t_s: float, hz: float | None) -> PacerTrack:
        kept = tuple(c for c in self.changes if c[0] < t_s)
        return PacerTrack((*kept, (t_s, hz)))

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
        starts_arr = np.asarray(starts, dtype=np.int64)
        # Every window as a view (sliding_window_view's result, without its checks: they
        # cost more than the rows of one live update).
        step = series.strides[0]
        views = np.lib.stride_tricks.as_strided(
            series, (series.size - self.window_n + 1, self.window_n), (step, step), writeable=False
        )
        span = self._pacer_set(int(starts_arr[0]), int(starts_arr[-1]) + self.window_n)
        if len(span) == 0 or not self.remove_pacer:
            # Nothing paced anywhere in the batch: one basis for all (the common case).
            raw = views[starts_arr - first]
            return normalized_residuals(raw, window_basis(self.window_n, self.fs_hz))
        out = np.empty((starts_arr.size, self.window_n))
        groups: dict[tuple[float, ...], list[int]] = {}
        for i, start in enumerate(starts_arr):
            groups.setdefault(self._pacer_set(int(start), int(start) + self.window_n), []).append(i)
        for pacer_hz, members in groups.items():
            idx = np.asarray(members)
            raw = views[starts_arr[idx] - first]
            out[idx] = normalized_residuals(raw, window_basis(self.window_n, self.fs_hz, pacer_hz))
        return out

    def _pacer_set(self, start: int, end: int) -> tuple[float, ...]:
        if not self.remove_pacer:
            return ()
        return self.pacer.rates_between(start / self.fs_hz, end / self.fs_hz)


# OpenBLAS splits a product over threads once m * n * k reaches 4 * 65536; for the small
# products of one live update the thread hand-off costs more than the arithmetic (measured
# 600 us instead of 50 us on a busy two-core machine), so they are cut below that size.
BLAS_SINGLE_THREAD_WORK = 4 * 65536 - 1


def small_matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a @ b`` in row blocks small enough to stay on one BLAS thread."""
    rows = max(1, BLAS_SINGLE_THREAD_WORK // max(1, a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        out: FloatArray = a @ b
        return out
    return np.concatenate([a[i : i + rows] @ b for i in range(0, a.shape[0], rows)])
