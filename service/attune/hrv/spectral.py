"""Frequency-domain HRV by Welch on the 4 Hz resampled NN series (hrv-science.md §1.3).

Welch pipeline (the spec of hrv-science.md §1.3, which reproduces the reference values of
tests/data/rr/reference_values.json "spec_freq_welch_*" to rounding):

1. NN at the end of each interval, resampled at 4 Hz with a cubic spline (``resample``);
2. Welch with a periodic Hann window, each segment linearly detrended (mean and slope),
   one-sided density in ms^2/Hz (``scipy.signal.welch(..., detrend="linear")``): offline one
   segment spanning the whole recording (the reference's "fullwindow"), live 64 s segments
   with 50 % overlap over the trailing 5 min (``WelchCache``);
3. band power = trapezoid over [lo, hi) (NeuroKit2, hrv-analysis and systole integrate so);
   Task Force bands VLF 0.0033-0.04, LF 0.04-0.15, HF 0.15-0.4 Hz;
4. LF/HF, LFnu = 100 LF/(LF+HF), lnHF, HF peak frequency.

Frequency-domain values are pipeline-defined (libraries spread by +-7 % on LF and +-22 % on HF
over the same data, hrv-science.md §1.3), so ours are frozen by golden values.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from attune.hrv.resample import RESAMPLE_HZ, StreamingResampler, cubic_resample
from attune.hrv.time_domain import ln_or_none

FloatArray = npt.NDArray[np.float64]

VLF_HZ = (0.0033, 0.04)
LF_HZ = (0.04, 0.15)
HF_HZ = (0.15, 0.40)
SEGMENT_S = 64.0  # the live Welch segment (hrv-science.md §1.3 step 4)


@dataclass(frozen=True, slots=True)
class _WelchPlan:
    """Constants of a Welch estimate with one segment length.

    Detrending is folded into the transform: by linearity, the spectrum of a windowed,
    detrended segment is rfft(w x) - mean * rfft(w) - slope * rfft(w c), with c the centred
    sample index, so the two correction spectra are computed once.
    """

    window: FloatArray  # periodic Hann (scipy's "hann" for spectral analysis)
    centred: FloatArray
    inv_sxx: float
    window_spectrum: npt.NDArray[np.complex128]
    ramp_spectrum: npt.NDArray[np.complex128]
    scale: FloatArray  # one-sided density scale per bin
    freqs: FloatArray


@functools.lru_cache(maxsize=8)
def _welch_plan(nperseg: int, fs_hz: float) -> _WelchPlan:
    k = np.arange(nperseg, dtype=np.float64)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * k / nperseg)
    centred = k - (nperseg - 1) / 2
    scale = np.full(nperseg // 2 + 1, 2.0 / (fs_hz * float(window @ window)))
    scale[0] /= 2  # the DC bin and, for even lengths, the Nyquist bin are not doubled
    if nperseg % 2 == 0:
        scale[-1] /= 2
    return _WelchPlan(
        window=window,
        centred=centred,
        inv_sxx=1.0 / float(centred @ centred),
        window_spectrum=np.fft.rfft(window),
        ramp_spectrum=np.fft.rfft(window * centred),
        scale=scale,
        freqs=np.fft.rfftfreq(nperseg, 1.0 / fs_hz).astype(np.float64),
    )


def welch(
    x: FloatArray, fs_hz: float, nperseg: int, *, align_end: bool = False
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Welch PSD with 50 % overlap, each segment linearly detrended, periodic Hann window,
    one-sided density; returns (frequencies, mean density, newest segment's density).
    Segments start at the first sample (scipy's layout) or, with ``align_end``, end at the
    last one, so a live window always includes its newest data."""
    plan = _welch_plan(nperseg, fs_hz)
    step = nperseg // 2
    n_seg = 1 + (x.size - nperseg) // step
    start = (x.size - nperseg) - (n_seg - 1) * step if align_end else 0
    x = np.ascontiguousarray(x[start:])
    segments = as_strided(x, (n_seg, nperseg), (step * x.itemsize, x.itemsize), writeable=False)
    mean = segments.sum(axis=1) / nperseg
    slope = (segments @ plan.centred) * plan.inv_sxx
    spectra = np.fft.rfft(segments * plan.window, axis=1)
    spectra -= mean[:, None] * plan.window_spectrum + slope[:, None] * plan.ramp_spectrum
    power = (spectra.real**2 + spectra.imag**2) * plan.scale
    return plan.freqs, power.sum(axis=0) / n_seg, power[-1]


class WelchCache:
    """Live Welch over 64 s segments with 50 % overlap, aligned on the resampler's absolute
    grid: each segment's periodogram is computed once, when all of its samples are final, so
    a 5 min estimate costs one average instead of eight transforms. The estimate therefore
    covers the completed segments of the trailing window; it trails the newest beat by up to
    one step (32 s) plus the resampler's finalisation margin: LF/HF are slow metrics
    (hrv-science.md §1.3: "flagged in the UI as slow").
    """

    __slots__ = ("_count", "_fs", "_nperseg", "_power", "_starts")

    def __init__(self, nperseg: int, fs_hz: float, max_segments: int) -> None:
        self._nperseg = nperseg
        self._fs = fs_hz
        self._power = np.zeros((max_segments, nperseg // 2 + 1))
        self._starts = np.full(max_segments, -1, dtype=np.int64)  # grid index; -1: empty
        self._count = 0

    def reset(self) -> None:
        self._starts[:] = -1
        self._count = 0

    def _next_start(self, first_k: int) -> int:
        step = self._nperseg // 2
        k0 = -(-first_k // step) * step  # the first segment boundary inside the run
        return max(k0, int(self._starts.max()) + step) if self._count else k0

    def next_end_s(self, resampler: StreamingResampler) -> float | None:
        """When the next segment to complete ends (None before the run has samples)."""
        first = resampler.first_k
        return None if first is None else (self._next_start(first) + self._nperseg) / self._fs

    def update(self, resampler: StreamingResampler) -> bool:
        """Transform the segments that became final since the last update; True if any."""
        first = resampler.first_k
        if first is None:
            return False
        step = self._nperseg // 2
        k0 = self._next_start(first)
        oldest_held = resampler.end_k - resampler.capacity
        if k0 < oldest_held:  # never normally: skip what the resampler no longer holds
            k0 = -(-oldest_held // step) * step
        count = self._count
        while k0 + self._nperseg <= resampler.final_k:
            _, _, power = welch(resampler.samples(k0, k0 + self._nperseg), self._fs, self._nperseg)
            slot = self._count % self._starts.size  # a ring: the oldest row is recycled
            self._power[slot], self._starts[slot] = power, k0
            self._count += 1
            k0 += step
        return self._count > count

    def estimate(self, since_k: int) -> tuple[FloatArray, FloatArray, float, float] | None:
        """(frequencies, mean density, start s, end s) over the held segments that start at
        or after grid index ``since_k``; None if there are none."""
        use = self._starts >= max(since_k, 0)
        if not use.any():
            return None
        starts = self._starts[use]
        freqs = _welch_plan(self._nperseg, self._fs).freqs
        start_s, end_s = (
            int(starts.min()) / self._fs,
            (int(starts.max()) + self._nperseg) / self._fs,
        )
        return freqs, self._power[use].mean(axis=0), start_s, end_s


@functools.lru_cache(maxsize=16)
def _band_bins(df_hz: float, band: tuple[float, float]) -> slice:
    """The bins k of a uniform grid k * df with lo <= f < hi."""
    return slice(math.ceil(band[0] / df_hz - 1e-9), math.ceil(band[1] / df_hz - 1e-9))


def band_power(freqs: FloatArray, psd: FloatArray, band: tuple[float, float]) -> float:
    """Trapezoidal integral of the density over the bins in [lo, hi) (uniform bins from 0)."""
    df = float(freqs[1])
    inner = psd[_band_bins(df, band)]
    if inner.size < 2:  # noqa: PLR2004 - a trapezoid needs two points
        return 0.0
    return float(inner.sum() - 0.5 * (inner[0] + inner[-1])) * df


@dataclass(frozen=True, slots=True)
class FrequencyDomain:
    """Band powers of one spectrum (ms^2); ratios None where a denominator is zero."""

    window_s: float
    vlf_ms2: float
    lf_ms2: float
    hf_ms2: float
    lf_hf: float | None
    lf_nu: float | None
    hf_nu: float | None
    ln_hf: float | None
    hf_peak_hz: float | None


def bands(freqs: FloatArray, psd: FloatArray, window_s: float) -> FrequencyDomain:
    """Task Force band powers and the derived ratios of one spectrum."""
    lf, hf = band_power(freqs, psd, LF_HZ), band_power(freqs, psd, HF_HZ)
    hf_bins = _band_bins(float(freqs[1]), HF_HZ)
    peak = float(freqs[hf_bins][np.argmax(psd[hf_bins])]) if psd[hf_bins].size else None
    total = lf + hf
    return FrequencyDomain(
        window_s=window_s,
        vlf_ms2=band_power(freqs, psd, VLF_HZ),
        lf_ms2=lf,
        hf_ms2=hf,
        lf_hf=lf / hf if hf > 0 else None,
        lf_nu=100 * lf / total if total > 0 else None,
        hf_nu=100 * hf / total if total > 0 else None,
        ln_hf=ln_or_none(hf),
        hf_peak_hz=peak,
    )


def frequency_domain(
    t_s: FloatArray, nn_ms: FloatArray, *, segment_s: float | None = None
) -> FrequencyDomain | None:
    """Welch band powers of NN values ending at ``t_s`` (offline: one segment over the whole
    window unless ``segment_s`` is given; scipy's segment layout)."""
    if t_s.size < 2:  # noqa: PLR2004
        return None
    _, x = cubic_resample(t_s, nn_ms)
    window_s = x.size / RESAMPLE_HZ
    nperseg = x.size if segment_s is None else min(x.size, int(segment_s * RESAMPLE_HZ))
    if nperseg < 2:  # noqa: PLR2004
        return None
    freqs, psd, _ = welch(x, RESAMPLE_HZ, nperseg)
    return bands(freqs, psd, window_s)
