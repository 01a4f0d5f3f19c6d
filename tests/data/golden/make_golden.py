"""Regenerate spectral.json: ``uv run python -m tests.data.golden.make_golden``.

Only after a deliberate change of the spectral pipeline; say why in the commit. The test
(tests/unit/test_hrv_golden.py) recomputes the same values with ``golden_values``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attune.hrv.coherence import coherence
from attune.hrv.spectral import FrequencyDomain, frequency_domain
from tests.conftest import load_rr_ms
from tests.unit.hrv_support import SERIES, beats_from, run_engine

GOLDEN = Path(__file__).with_name("spectral.json")
LIVE_FIELDS = (
    "lf_ms2",
    "hf_ms2",
    "lf_hf",
    "lf_nu",
    "hf_peak_hz",
    "freq_window_s",
    "coherence_ratio",
    "coherence_peak_fraction",
    "coherence_peak_hz",
    "breathing_rate_per_min",
    "breathing_confidence",
    "rsa_amplitude_ms",
    "dfa_alpha1",
    "stress_index",
)


def _bands(result: FrequencyDomain | None) -> dict[str, float | None]:
    assert result is not None
    return {
        "vlf_ms2": result.vlf_ms2,
        "lf_ms2": result.lf_ms2,
        "hf_ms2": result.hf_ms2,
        "lf_hf": result.lf_hf,
        "lf_nu": result.lf_nu,
        "hf_peak_hz": result.hf_peak_hz,
    }


def golden_values() -> dict[str, dict[str, object]]:
    """Offline spectra (whole window, 64 s segments), the last 64 s coherence, and the live
    engine's slow metrics at a few beats of each series."""
    values: dict[str, dict[str, object]] = {}
    for name, file in SERIES.items():
        rr = load_rr_ms(file)
        t = np.cumsum(rr) / 1000
        run = run_engine(beats_from(rr)).screened
        live = {}
        for k in sorted({len(run) // 2, len(run) - 1}):
            slow = run[k].metrics.slow
            live[str(k)] = {field: getattr(slow, field) for field in LIVE_FIELDS}
        coh = coherence(t, rr, float(t[-1]))
        assert coh is not None
        values[name] = {
            "welch_whole": _bands(frequency_domain(t, rr)),
            "welch_64s": _bands(frequency_domain(t, rr, segment_s=64.0)),
            "coherence_last_64s": {"ratio": coh.ratio, "peak_fraction": coh.peak_fraction},
            "live": live,
        }
    return values


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(golden_values(), indent=1, sort_keys=True) + "\n")
