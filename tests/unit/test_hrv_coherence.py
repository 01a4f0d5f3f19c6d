"""The 64 s spectrum: McCraty coherence (hrv-science.md §1.6) reproduced on the reference
series and synthetic checks; the breathing hint and RSA amplitude (§1.5)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attune.hrv.coherence import coherence, respiration, short_spectrum
from tests.conftest import DATA, load_rr_ms
from tests.unit.hrv_support import SERIES, Phase, simulate_rr, sine_rr

REFERENCE = json.loads((DATA / "rr" / "reference_values.json").read_text())


@pytest.mark.parametrize("name", SERIES)
def test_coherence_reproduces_the_reference_on_real_rr(name) -> None:
    rr = load_rr_ms(SERIES[name])
    t = np.cumsum(rr) / 1000
    result = coherence(t, rr, t[-1])
    ref = REFERENCE["series"][name]["coherence_last64s"]
    assert result is not None
    assert result.ratio == pytest.approx(ref["coherence_ratio"], rel=1e-9)
    assert result.peak_fraction == pytest.approx(ref["peak_fraction"], rel=1e-9)
    assert result.peak_hz == pytest.approx(ref["peak_Hz"], rel=1e-12)


def test_a_pure_slow_sine_is_highly_coherent() -> None:
    # The reference construction (§5.4): 1000 + 80 sin(2 pi 0.1 t), t at the interval's start.
    rr, t = [], 0.0
    while t < 300:
        rr.append(1000 + 80 * np.sin(2 * np.pi * 0.1 * t))
        t += rr[-1] / 1000
    values = np.array(rr)
    times = np.cumsum(values) / 1000
    result = coherence(times, values, times[-1])
    ref = REFERENCE["synthetic"]["sine_0.1Hz_amp80ms"]["coherence"]
    assert result.ratio == pytest.approx(ref["coherence_ratio"], rel=1e-9)
    assert result.peak_fraction == pytest.approx(ref["peak_fraction"], rel=1e-9)
    assert result.peak_hz == pytest.approx(0.1, abs=0.002)
    # An odds, not squared: about 6.2 with this window and taper (§1.6 calibration).
    assert result.ratio == pytest.approx(6.2, rel=0.05)


def test_white_noise_is_not_coherent() -> None:
    rr = 1000 + np.random.default_rng(0).normal(0, 40, 300)  # the reference's noise
    t = np.cumsum(rr) / 1000
    result = coherence(t, rr, t[-1])
    ref = REFERENCE["synthetic"]["white_noise_sd40ms"]["coherence"]
    assert result.ratio == pytest.approx(ref["coherence_ratio"], rel=1e-9)
    assert result.ratio < 0.5


def test_coherence_needs_the_whole_window() -> None:
    rr = np.full(60, 1000.0)  # 60 s of beats: not 64
    t = np.cumsum(rr) / 1000
    assert coherence(t, rr, t[-1]) is None


@pytest.mark.parametrize(
    ("breaths_per_min", "amplitude_ms", "mean_rr_ms"),
    [(6.0, 60.0, 1000.0), (4.5, 80.0, 900.0), (15.0, 25.0, 800.0)],
)
def test_the_breathing_hint_finds_paced_breathing(breaths_per_min, amplitude_ms, mean_rr_ms):
    rr = sine_rr(mean_rr_ms, amplitude_ms, breaths_per_min / 60, 120.0)
    rr += np.random.default_rng(1).normal(0, 5, rr.size)
    t = np.cumsum(rr) / 1000
    hint = respiration(t, rr, t[-1], short_spectrum(t, rr, t[-1]), 60000 / mean_rr_ms)
    assert hint.rate_per_min == pytest.approx(breaths_per_min, abs=0.3)
    assert hint.confidence > 0.8
    # Peak to trough of the sinusoid, 2 A, from a fit to the beats themselves.
    assert hint.rsa_amplitude_ms == pytest.approx(2 * amplitude_ms, rel=0.05)


def test_the_breathing_hint_is_unsure_about_noise() -> None:
    rr = 900 + np.random.default_rng(4).normal(0, 30, 200)
    t = np.cumsum(rr) / 1000
    hint = respiration(t, rr, t[-1], short_spectrum(t, rr, t[-1]), 66.0)
    assert hint.confidence < 0.4


def test_the_breathing_hint_stays_below_the_beat_nyquist_frequency() -> None:
    # 40 bpm: a rhythm above 0.33 Hz cannot be seen; the search stops there and the aliased
    # breathing at 0.45 Hz is not reported as 27 breaths/min.
    rr = simulate_rr([Phase(180, 40.0, rsa_ms=40.0, breath_hz=0.45, noise_ms=3.0)], seed=2)
    t = np.cumsum(rr) / 1000
    hint = respiration(t, rr, t[-1], short_spectrum(t, rr, t[-1]), 40.0)
    assert hint.rate_per_min is None or hint.rate_per_min < 40.0 / 2
