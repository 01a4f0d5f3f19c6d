"""The resonance assessment's view of the HRV engine's spectral analysis (hrv.spectral).

A thin adapter, not a second spectral engine: the density is ``hrv.spectral.welch`` (periodic
Hann, linear detrend, one-sided ms^2/Hz; hrv-science.md §1.3) with one segment over the
analysed span (the spec's choice for windows up to 2 min), and powers are
``hrv.spectral.band_power``. What is specific to the assessment stays here: putting beats on the
4 Hz grid of a step, the peak window (McCraty's 0.030 Hz, hrv-science.md §1.6) and the phase
of HR against the pacer at the pacer's frequency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attune.hrv.resample import RESAMPLE_HZ
from attune.hrv.spectral import band_power, welch

FloatArray = npt.NDArray[np.float64]

FS_HZ = RESAMPLE_HZ
COHERENCE_SEARCH_HZ = (0.04, 0.26)
COHERENCE_HALF_WIDTH_HZ = 0.015
COHERENCE_TOTAL_HZ = (0.0033, 0.4)


@dataclass(frozen=True, slots=True)
class Spectrum:
    """One-sided power spectral density (units^2 / Hz) on uniform bins from 0 Hz."""

    freq_hz: FloatArray
    psd: FloatArray


def uniform(t_s: FloatArray, values: FloatArray, t0_s: float, t1_s: float) -> FloatArray:
    """``values`` at beat times ``t_s`` on the 4 Hz grid over [t0_s, t1_s) (linear: the
    grid must start at the step's own t0 so HR lines up with the pacer's phase)."""
    grid = t0_s + np.arange(math.floor((t1_s - t0_s) * FS_HZ)) / FS_HZ
    return np.interp(grid, t_s, values)


def detrend(x: FloatArray) -> FloatArray:
    """Remove the mean and the least-squares line."""
    t = np.arange(x.size, dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1)
    out: FloatArray = x - (slope * t + intercept)
    return out


def psd(x: FloatArray) -> Spectrum:
    """The density of a 4 Hz series: hrv's Welch with one segment spanning it."""
    freqs, density, _ = welch(np.ascontiguousarray(x, dtype=np.float64), FS_HZ, x.size)
    return Spectrum(freqs, density)


def peak(
    spectrum: Spectrum, lo_hz: float, hi_hz: float, half_width_hz: float
) -> tuple[float, float]:
    """Frequency of the highest density in [lo_hz, hi_hz] and the power within
    +-``half_width_hz`` of it."""
    keep = (spectrum.freq_hz >= lo_hz) & (spectrum.freq_hz <= hi_hz)
    f_peak = float(spectrum.freq_hz[keep][np.argmax(spectrum.psd[keep])])
    window = (f_peak - half_width_hz, f_peak + half_width_hz)
    return f_peak, band_power(spectrum.freq_hz, spectrum.psd, window)


def coherence_ratio(spectrum: Spectrum) -> float:
    """McCraty & Zayas (2014), as hrv.coherence: peak power (0.030 Hz window around the
    highest peak in 0.04-0.26 Hz) over the rest of the power in 0.0033-0.4 Hz."""
    _, peak_power = peak(spectrum, *COHERENCE_SEARCH_HZ, COHERENCE_HALF_WIDTH_HZ)
    total = band_power(spectrum.freq_hz, spectrum.psd, COHERENCE_TOTAL_HZ)
    return peak_power / (total - peak_power) if total > peak_power else math.inf


def phase_deg(x: FloatArray, reference: FloatArray, f_hz: float) -> float:
    """Phase of ``x`` relative to ``reference`` at ``f_hz`` (degrees, -180..180; > 0: ``x``
    leads), from their Fourier coefficients at that frequency over a Hann window."""
    t = np.arange(x.size) / FS_HZ
    kernel = np.hanning(x.size + 2)[1:-1] * np.exp(-2j * math.pi * f_hz * t)
    cross = np.sum(x * kernel) * np.conj(np.sum(reference * kernel))
    return float(np.degrees(np.angle(cross)))
