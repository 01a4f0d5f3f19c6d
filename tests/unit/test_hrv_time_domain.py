"""Time domain and Poincaré against NeuroKit2 on real RR (hrv-science.md §1.2, §1.8).

NeuroKit2 0.3.0 is run here on the same series (it is a dev dependency); the reference JSON
(tests/data/rr/reference_values.json) supplies the values of libraries not installed
(hrv-analysis for mean HR). Convention adjustments, as listed in hrv-science.md §1.8:
NeuroKit2's pNN50 divides by N, ours by the N-1 differences.
"""

from __future__ import annotations

import json
import warnings
from functools import cache

import numpy as np
import pytest

from attune.hrv.engine import ScreenedBeat
from attune.hrv.time_domain import time_domain
from tests.conftest import DATA, load_rr_ms
from tests.unit.hrv_support import SERIES, beats_from, run_engine

REFERENCE = json.loads((DATA / "rr" / "reference_values.json").read_text())["series"]


@cache
def neurokit2():
    with warnings.catch_warnings():  # its import chain warns about deprecations we do not own
        warnings.simplefilter("ignore")
        import neurokit2 as nk  # noqa: PLC0415

    return nk


def nk_time(rr_ms: np.ndarray) -> dict[str, float]:
    """NeuroKit2's time domain of integer-ms intervals, via exact peaks at 1000 Hz (§5.4)."""
    assert np.all(rr_ms == np.round(rr_ms)), "exact peaks need integer ms"
    peaks = np.concatenate(([0], np.cumsum(rr_ms))).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = neurokit2().hrv_time(peaks, sampling_rate=1000)
    return {k: float(v) for k, v in frame.iloc[0].items()}


@pytest.mark.parametrize("name", SERIES)
def test_time_domain_equals_neurokit2(name: str) -> None:
    rr = load_rr_ms(SERIES[name])
    ours = time_domain(rr)
    nk = nk_time(rr)
    n = rr.size
    assert ours.mean_nn_ms == pytest.approx(nk["HRV_MeanNN"], rel=1e-9)
    assert ours.sdnn_ms == pytest.approx(nk["HRV_SDNN"], rel=1e-9)
    assert ours.rmssd_ms == pytest.approx(nk["HRV_RMSSD"], rel=1e-9)
    assert ours.sdsd_ms == pytest.approx(nk["HRV_SDSD"], rel=1e-9)
    # NeuroKit2 divides NN50 by N; we divide by the N - 1 differences.
    assert ours.pnn50_pct == pytest.approx(nk["HRV_pNN50"] * n / (n - 1), rel=1e-9)
    assert ours.ln_rmssd == pytest.approx(np.log(nk["HRV_RMSSD"]), rel=1e-12)


@pytest.mark.parametrize("name", SERIES)
def test_mean_hr_and_nn50_equal_hrv_analysis(name: str) -> None:
    ours = time_domain(load_rr_ms(SERIES[name]))
    ref = REFERENCE[name]["hrvanalysis"]
    assert ours.mean_hr_bpm == pytest.approx(ref["time.mean_hr"], rel=1e-9)
    assert ours.nn50 == ref["time.nni_50"]
    assert ours.pnn50_pct == pytest.approx(ref["time.pnni_50"], rel=1e-9)


@pytest.mark.parametrize("name", SERIES)
def test_poincare_matches_neurokit2_and_the_ddof0_libraries(name: str) -> None:
    ours = time_domain(load_rr_ms(SERIES[name]))
    ref = REFERENCE[name]
    # The issue asks 0.5 %; NeuroKit2 uses our definition, so we hold it to rounding.
    assert ours.sd1_ms == pytest.approx(ref["neurokit2"]["nonlinear.HRV_SD1"], rel=1e-9)
    assert ours.sd2_ms == pytest.approx(ref["neurokit2"]["nonlinear.HRV_SD2"], rel=1e-9)
    # pyHRV takes SD1 with ddof 0 over the N - 1 differences; rescaled, it is ours exactly.
    n_diff = REFERENCE[name]["n_intervals"] - 1
    ddof0_to_1 = np.sqrt(n_diff / (n_diff - 1))
    assert ours.sd1_ms == pytest.approx(ref["pyhrv"]["poincare.sd1"] * ddof0_to_1, rel=1e-9)
    # hrv-analysis and pyHRV compute SD2 another way: within 0.5 %.
    for other in (ref["hrvanalysis"]["poincare.sd2"], ref["pyhrv"]["poincare.sd2"]):
        assert ours.sd2_ms == pytest.approx(other, rel=0.005)


def test_live_windows_equal_neurokit2_on_the_same_beats() -> None:
    """The engine's rolling snapshot at several points of the 60 min series equals NeuroKit2
    recomputing the window from scratch (windows holding no flagged beat)."""
    rr = load_rr_ms("pyhrv_nsrdb_long_60min_ms.txt")
    run: list[ScreenedBeat] = run_engine(beats_from(rr)).screened
    flagged = np.array([s.artefact is not None for s in run])
    ends = np.array([s.beat.t_s for s in run])
    starts = ends - np.array([s.beat.rr_ms for s in run]) / 1000
    clean = []
    for k in range(100, len(run)):
        first = int(np.searchsorted(starts, ends[k] - 60.0))
        if not flagged[first : k + 1].any():
            clean.append((first, k))
    assert len(clean) > 100
    picks = [clean[i] for i in np.linspace(0, len(clean) - 1, 8).astype(int)]
    for first, k in picks:
        window = run[first : k + 1]
        values = np.array([s.beat.rr_ms for s in window])
        nk = nk_time(values)
        m = run[k].metrics
        n = values.size
        assert m.mean_nn_ms == pytest.approx(nk["HRV_MeanNN"], rel=1e-9)
        assert m.sdnn_ms == pytest.approx(nk["HRV_SDNN"], rel=1e-9)
        assert m.rmssd_ms == pytest.approx(nk["HRV_RMSSD"], rel=1e-9)
        assert m.pnn50_pct == pytest.approx(nk["HRV_pNN50"] * n / (n - 1), rel=1e-9)
        assert m.hr_bpm == pytest.approx(60000 / nk["HRV_MeanNN"], rel=1e-9)


def test_no_difference_spans_a_flagged_beat_or_a_gap() -> None:
    rr = np.array([800.0, 820, 5000, 810, 790, 805, 900, 880])
    accepted = np.array([True, True, False, True, True, True, True, True])
    gap = np.zeros(8, dtype=bool)
    gap[6] = True
    ours = time_domain(rr, accepted, gap)
    diffs = np.array([20.0, -20, 15, -20])  # 800-820, 810-790, 790-805, 900-880
    assert ours.n_differences == 4
    assert ours.rmssd_ms == pytest.approx(np.sqrt(np.mean(diffs**2)))
    assert ours.n_nn == 7
    assert ours.mean_nn_ms == pytest.approx(rr[accepted].mean())
