"""The 64 s spectrum of the live display: McCraty coherence, breathing hint, RSA amplitude
(hrv-science.md §1.5, §1.6).

One spectrum serves all three, as in HeartMath's product (§1.6): the last 64 s of NN, linearly
interpolated at 2 Hz (IBIs "stored interpolated every 500 ms"), linearly detrended, a
(symmetric) Hann window, an FFT of 1024 points (0.00195 Hz bins), one-sided density in ms^2/Hz.
With these exact choices it reproduces the "coherence_last64s" reference values of
tests/data/rr/reference_values.json.

Coherence ratio, McCraty & Childre (2010) as quoted by McCraty & Zayas (2014, Front Psychol
5:1090): the highest peak in 0.04-0.26 Hz, its power integrated (trapezoid) over a 0.030 Hz
window centred on it, over the total power of 0.0033-0.4 Hz (McCraty et al. 2009):
CR = Ppeak / (Ptot - Ppeak), an odds, not squared. The peak fraction Ppeak / Ptot (0-1) sits
beside it. CR depends on the window and taper (a pure 0.1 Hz sine gives about 6.2, white noise
about 0.36), so display thresholds must be calibrated on this pipeline; it is not emWave's
proprietary 0-16 score.

Breathing hint (§1.5): the highest peak of the same spectrum in 0.065-0.5 Hz, below the
beat-sampling Nyquist frequency HR/2; rate = 60 f. A hint, not a vital sign: on spontaneous
speech-like breathing the 0.1 Hz baroreflex wave can win. ``confidence`` is the share of the
band's power within +-0.031 Hz (the Hann main lobe of 64 s) of the peak, 0 without a clear
peak (a maximum on the band's edge). RSA amplitude is the peak-to-trough RR swing of that
rhythm: twice the amplitude of the least-squares sinusoid at the breathing frequency fitted
(with a mean and a linear trend) to the beats of the window themselves. Read off the spectrum
it would come out low: linear interpolation between beats about 1 s apart is a low-pass
filter, sinc^2(f T), which takes 19 % off the amplitude at 15 breaths/min.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

WINDOW_S = 64.0
FS_HZ = 2.0
NFFT = 1024
COHERENCE_SEARCH_HZ = (0.04, 0.26)
COHERENCE_HALF_WIDTH_HZ = 0.015
COHERENCE_TOTAL_HZ = (0.0033, 0.4)
# 3.9-30 breaths/min: low enough for resonance breathing at 4.5/min (Lehrer & Gevirtz 2014),
# high enough to leave most of the VLF leakage that otherwise wins on resting data.
BREATHING_HZ = (0.065, 0.5)
RSA_HALF_WIDTH_HZ = 2 / WINDOW_S  # Hann main lobe of 64 s, +-0.031 Hz (§1.5: peak +-0.03 Hz)

_N = int(WINDOW_S * FS_HZ)
_OFFSETS = np.arange(_N) / FS_HZ - WINDOW_S  # grid relative to the window's end
_WINDOW = np.hanning(_N)
_CENTRED = np.arange(_N) - (_N - 1) / 2
# Linear detrending folded into the transform, by linearity (see spectral._WelchPlan): the
# mean and slope come from one product with _TREND, their spectra from one with _TREND_SPECTRA.
_TREND = np.column_stack((np.full(_N, 1.0 / _N), _CENTRED / float(_CENTRED @ _CENTRED)))
_TREND_SPECTRA = np.vstack((np.fft.rfft(_WINDOW, NFFT), np.fft.rfft(_WINDOW * _CENTRED, NFFT)))
DF_HZ = FS_HZ / NFFT
FREQS_HZ = np.fft.rfftfreq(NFFT, 1 / FS_HZ)
_SCALE = np.full(FREQS_HZ.size, 2.0 / (FS_HZ * float(_WINDOW @ _WINDOW)))
_SCALE[0] /= 2
_SCALE[-1] /= 2


def _bins(lo_hz: float, hi_hz: float) -> slice:
    """Bins with lo <= f <= hi (inclusive, as in the reference implementation)."""
    return slice(math.ceil(lo_hz / DF_HZ), math.floor(hi_hz / DF_HZ) + 1)


_SEARCH = _bins(*COHERENCE_SEARCH_HZ)
_TOTAL = _bins(*COHERENCE_TOTAL_HZ)
_PEAK_HALF = math.floor(COHERENCE_HALF_WIDTH_HZ / DF_HZ)
_RSA_HALF = math.floor(RSA_HALF_WIDTH_HZ / DF_HZ)


def short_spectrum(t_s: FloatArray, nn_ms: FloatArray, end_s: float) -> FloatArray | None:
    """Density (ms^2/Hz, on ``FREQS_HZ``) of the 64 s of NN ending at ``end_s``; None unless
    the knots (NN values at the end of their intervals) cover the window."""
    if t_s.size < 2 or t_s[0] > end_s - WINDOW_S:  # noqa: PLR2004
        return None
    x = np.interp(end_s + _OFFSETS, t_s, nn_ms)
    spectrum = np.fft.rfft(x * _WINDOW, NFFT) - (x @ _TREND) @ _TREND_SPECTRA
    density: FloatArray = (spectrum.real**2 + spectrum.imag**2) * _SCALE
    return density


def _trapezoid(values: FloatArray) -> float:
    """Trapezoid over uniform bins, in units of the bin width."""
    return float(values.sum() - 0.5 * (values[0] + values[-1]))


@dataclass(frozen=True, slots=True)
class Coherence:
    """McCraty coherence ratio with its peak fraction."""

    ratio: float
    peak_fraction: float
    peak_hz: float


def coherence_of(density: FloatArray) -> Coherence | None:
    """The coherence ratio of a ``short_spectrum``."""
    peak = _SEARCH.start + int(np.argmax(density[_SEARCH]))
    p_peak = _trapezoid(density[peak - _PEAK_HALF : peak + _PEAK_HALF + 1])
    p_total = _trapezoid(density[_TOTAL])
    if p_total <= 0 or p_total <= p_peak:
        return None
    return Coherence(p_peak / (p_total - p_peak), p_peak / p_total, float(FREQS_HZ[peak]))


def coherence(t_s: FloatArray, nn_ms: FloatArray, end_s: float) -> Coherence | None:
    """Coherence of the 64 s of NN ending at ``end_s`` (None if they are not covered)."""
    density = short_spectrum(t_s, nn_ms, end_s)
    return None if density is None else coherence_of(density)


@dataclass(frozen=True, slots=True)
class Respiration:
    """The breathing hint and the RSA amplitude (see the module doc)."""

    rate_per_min: float | None
    confidence: float
    rsa_amplitude_ms: float | None


NO_RESPIRATION = Respiration(None, 0.0, None)


def rsa_amplitude_ms(t_s: FloatArray, nn_ms: FloatArray, end_s: float, freq_hz: float) -> float:
    """Peak-to-trough swing of the sinusoid at ``freq_hz`` fitted by least squares, with a mean
    and a slope, to the NN values that end in the 64 s before ``end_s`` (normal equations: the
    four columns are well conditioned over a 64 s window)."""
    first = int(np.searchsorted(t_s, end_s - WINDOW_S, side="right"))
    design = np.empty((4, t_s.size - first))
    design[0] = 1.0
    t = np.subtract(t_s[first:], end_s, out=design[1])
    phase = (2 * math.pi * freq_hz) * t
    np.cos(phase, out=design[2])
    np.sin(phase, out=design[3])
    coef = np.linalg.solve(design @ design.T, design @ nn_ms[first:])
    return 2.0 * math.hypot(float(coef[2]), float(coef[3]))


def respiration(
    t_s: FloatArray, nn_ms: FloatArray, end_s: float, density: FloatArray, mean_hr_bpm: float
) -> Respiration:
    """The breathing hint of a ``short_spectrum`` of these NN values, with the RSA amplitude."""
    hint = breathing_of(density, mean_hr_bpm)
    if hint.rate_per_min is None:
        return hint
    amplitude = rsa_amplitude_ms(t_s, nn_ms, end_s, hint.rate_per_min / 60.0)
    return Respiration(hint.rate_per_min, hint.confidence, amplitude)


def breathing_of(density: FloatArray, mean_hr_bpm: float) -> Respiration:
    """Rate and confidence from a ``short_spectrum`` (no amplitude). Power sums use the
    rectangle rule, which integrates a narrow peak exactly (the trapezoid would lose part of
    its main lobe)."""
    first = math.ceil(BREATHING_HZ[0] / DF_HZ)
    last = math.floor(min(BREATHING_HZ[1], mean_hr_bpm / 120.0) / DF_HZ) + 1  # one past
    if last - first < 3:  # noqa: PLR2004 - a peak needs a neighbour on each side
        return NO_RESPIRATION
    band = density[first:last]
    i = int(np.argmax(band))
    if i in (0, band.size - 1):  # a maximum on the band's edge is not a peak
        return NO_RESPIRATION
    lo, mid, hi = float(band[i - 1]), float(band[i]), float(band[i + 1])
    curvature = lo - 2 * mid + hi
    shift = 0.5 * (lo - hi) / curvature if curvature < 0 else 0.0  # parabolic interpolation
    p_peak = float(band[max(0, i - _RSA_HALF) : i + _RSA_HALF + 1].sum()) * DF_HZ
    p_band = float(band.sum()) * DF_HZ
    if p_band <= 0:
        return NO_RESPIRATION
    rate = 60.0 * (float(FREQS_HZ[first + i]) + shift * DF_HZ)
    return Respiration(rate, p_peak / p_band, None)
