"""DFA alpha1 in the 4-16 beat non-overlapping convention (pyHRV/nolds) and the Baevsky
stress index (hrv-science.md §1.4, §3.1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attune.hrv.nonlinear import baevsky, dfa_alpha1
from tests.conftest import DATA, load_rr_ms
from tests.unit.hrv_support import SERIES

REFERENCE = json.loads((DATA / "rr" / "reference_values.json").read_text())["series"]


def straightforward_dfa_alpha1(nn: np.ndarray) -> float:
    """Peng et al. 1995 as nolds 0.6.3 does it, box by box with numpy.polyfit: an independent
    check of the prefix-sum implementation."""
    walk = np.cumsum(nn - nn.mean())
    scales = np.arange(4, 17)
    fluctuation = []
    for n in scales:
        boxes = walk[: walk.size // n * n].reshape(-1, n)
        x = np.arange(n)
        residuals = [box - np.polyval(np.polyfit(x, box, 1), x) for box in boxes]
        fluctuation.append(np.sqrt(np.mean(np.square(residuals))))
    return float(np.polyfit(np.log(scales), np.log(fluctuation), 1)[0])


@pytest.mark.parametrize("name", SERIES)
def test_dfa_alpha1_equals_pyhrv(name) -> None:
    alpha1 = dfa_alpha1(load_rr_ms(SERIES[name]))
    assert alpha1 == pytest.approx(REFERENCE[name]["pyhrv"]["dfa.alpha1_4_16"], abs=1e-6)


@pytest.mark.parametrize("n", [17, 120, 157, 300])
@pytest.mark.parametrize("seed", [0, 1])
def test_dfa_alpha1_equals_the_straightforward_implementation(n, seed) -> None:
    rr = load_rr_ms("pyhrv_nsrdb_long_60min_ms.txt")
    start = np.random.default_rng(seed).integers(0, rr.size - n)
    window = rr[start : start + n]
    assert dfa_alpha1(window) == pytest.approx(straightforward_dfa_alpha1(window), abs=1e-9)


def test_dfa_alpha1_tells_noise_from_a_random_walk() -> None:
    rng = np.random.default_rng(7)
    noise = 800 + rng.normal(0, 30, 600)
    walk = 800 + np.cumsum(rng.normal(0, 5, 600))
    assert dfa_alpha1(noise) == pytest.approx(0.5, abs=0.15)  # uncorrelated
    assert dfa_alpha1(walk) == pytest.approx(1.5, abs=0.15)  # integrated noise


def test_dfa_needs_more_beats_than_its_largest_scale() -> None:
    assert dfa_alpha1(np.full(16, 800.0) + np.arange(16)) is None
    assert dfa_alpha1(np.full(40, 800.0)) is None  # no fluctuation at all


@pytest.mark.parametrize("name", SERIES)
def test_baevsky_index_equals_the_reference(name) -> None:
    index = baevsky(load_rr_ms(SERIES[name]))
    ref = REFERENCE[name]["baevsky"]
    assert index.mode_s == pytest.approx(ref["Mo_s"], rel=1e-12)
    assert index.amplitude_mode_pct == pytest.approx(ref["AMo_pct"], rel=1e-12)
    assert index.range_s == pytest.approx(ref["MxDMn_s"], rel=1e-9)
    assert index.stress_index == pytest.approx(ref["SI"], rel=1e-9)


def test_baevsky_rises_when_variability_falls() -> None:
    rng = np.random.default_rng(3)
    relaxed = baevsky(850 + rng.normal(0, 60, 300)).stress_index
    stressed = baevsky(650 + rng.normal(0, 12, 300)).stress_index
    assert stressed > 5 * relaxed
    assert baevsky(np.full(10, 800.0)) is None
