"""Interim spectral helpers for the resonance-frequency assessment (numpy only).

THIS IS A SEAM, NOT A SECOND SPECTRAL ENGINE. ``hrv/spectral.py`` (Welch on a 4 Hz cubic
spline, bands, McCraty coherence; hrv-science.md §1.3 and §1.6) is being written on another
branch. ``resonance.py`` calls only the five functions below; once hrv's module is merged
they should delegate to it (or be replaced by it) and this file should go. Until then they
follow the same spec with two simplifications, both harmless for comparing steps with each
other: linear instead of cubic-spline interpolation, and one Hann-windowed segment over the
analysed span (the spec's choice for windows up to 2 min).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

FS_HZ = 4.0
NFFT_MIN = 4096  # 0.001 Hz bins at 4 Hz, fine enough to place a 0.075-0.11 Hz peak


@dataclass(frozen=True, slots=True)
class Spectrum:
    """One-sided power spectral density (units^2 / Hz)."""

    freq_hz: FloatArray
    psd: FloatArray


def uniform(t_s: FloatArray, values: FloatArray, t0_s: float, t1_s: float) -> FloatArray:
    """``values`` at beat times ``t_s`` interpolated on a 4 Hz grid over [t0_s, t1_s)."""
    grid = t0_s + np.arange(math.floor((t1_s - t0_s) * FS_HZ)) / FS_HZ
    return np.interp(grid, t_s, values)


def detrend(x: FloatArray) -> FloatArray:
    """Remove the mean and the least-squares line."""
    t = np.arange(x.size, dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1)
    out: FloatArray = x - (slope * t + intercept)
    return out


def psd(x: FloatArray) -> Spectrum:
    """Hann-windowed periodogram of a detrended 4 Hz series, scaled as scipy's
    ``welch(..., window='hann', scaling='density')`` with one segment."""
    window = np.hanning(x.size + 2)[1:-1]  # scipy's periodic-free Hann of the same length
    nfft = max(NFFT_MIN, 1 << (x.size - 1).bit_length())
    spec = np.abs(np.fft.rfft(x * window, nfft)) ** 2 / (FS_HZ * np.sum(window**2))
    spec[1:-1] *= 2.0  # one-sided
    freq_hz = np.fft.rfftfreq(nfft, 1.0 / FS_HZ).astype(np.float64)
    return Spectrum(freq_hz, spec)


def band_power(spectrum: Spectrum, lo_hz: float, hi_hz: float) -> float:
    """Trapezoidal integral of the PSD over [lo_hz, hi_hz]."""
    keep = (spectrum.freq_hz >= lo_hz) & (spectrum.freq_hz <= hi_hz)
    return float(np.trapezoid(spectrum.psd[keep], spectrum.freq_hz[keep]))


def peak(
    spectrum: Spectrum, lo_hz: float, hi_hz: float, half_width_hz: float
) -> tuple[float, float]:
    """Frequency of the highest PSD value in [lo_hz, hi_hz] and the power within
    +-``half_width_hz`` of it (McCraty's 0.030 Hz peak window, hrv-science.md §1.6)."""
    keep = (spectrum.freq_hz >= lo_hz) & (spectrum.freq_hz <= hi_hz)
    f_peak = float(spectrum.freq_hz[keep][np.argmax(spectrum.psd[keep])])
    return f_peak, band_power(spectrum, f_peak - half_width_hz, f_peak + half_width_hz)


def coherence_ratio(spectrum: Spectrum) -> float:
    """McCraty & Zayas (2014): peak power (0.030 Hz window around the highest peak in
    0.04-0.26 Hz) over the rest of the power in 0.0033-0.4 Hz."""
    _, peak_power = peak(spectrum, 0.04, 0.26, 0.015)
    total = band_power(spectrum, 0.0033, 0.4)
    return peak_power / (total - peak_power) if total > peak_power else math.inf


def phase_deg(x: FloatArray, reference: FloatArray, f_hz: float) -> float:
    """Phase of ``x`` relative to ``reference`` at ``f_hz`` (degrees, -180..180; > 0: ``x``
    leads), from their Fourier coefficients at that frequency over a Hann window."""
    t = np.arange(x.size) / FS_HZ
    kernel = np.hanning(x.size + 2)[1:-1] * np.exp(-2j * math.pi * f_hz * t)
    cross = np.sum(x * kernel) * np.conj(np.sum(reference * kernel))
    return float(np.degrees(np.angle(cross)))
