"""Time-domain and Poincaré HRV on RR intervals in ms (Task Force 1996; hrv-science.md §1.2, §1.4).

Conventions (hrv-science.md §1.2 table; the library each matches exactly):

- SDNN with ddof 1 (all four libraries);
- RMSSD = sqrt(mean(dNN^2)) over the N-1 differences (all four);
- SDSD = std(dNN, ddof 1) (NeuroKit2, systole);
- pNN50 = 100 * #(|dNN| > 50 ms) / number of differences, strict ">" (hrv-analysis, pyHRV,
  systole; NeuroKit2 divides by N instead, so multiply its value by N/(N-1));
- mean HR = mean(60000 / NN) (hrv-analysis, pyHRV, systole); 60000 / mean(NN) is the live
  display value and differs by about 1 %;
- SD1 = std(dNN / sqrt 2, ddof 1), SD2 = std((NN_i + NN_(i+1)) / sqrt 2, ddof 1) (NeuroKit2).

Artefacts and gaps: only accepted intervals count, and a difference is taken only between two
accepted intervals that follow each other with no gap between them, so no difference spans a
flagged beat or a gap (DESIGN.md, "Gaps are first-class").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NN50_MS = 50.0


def valid_pairs(accepted: BoolArray, after_gap: BoolArray) -> BoolArray:
    """For each interval, whether its difference with the previous one may be used."""
    ok = np.zeros(accepted.size, dtype=np.bool_)
    ok[1:] = accepted[1:] & accepted[:-1] & ~after_gap[1:]
    return ok


@dataclass(frozen=True, slots=True)
class TimeDomain:
    """Time-domain and Poincaré metrics; None where the data do not define them."""

    n_nn: int
    n_differences: int
    mean_nn_ms: float | None
    mean_hr_bpm: float | None
    hr_from_mean_nn_bpm: float | None
    sdnn_ms: float | None
    rmssd_ms: float | None
    ln_rmssd: float | None
    sdsd_ms: float | None
    nn50: int
    pnn50_pct: float | None
    sd1_ms: float | None
    sd2_ms: float | None


def _std(values: FloatArray) -> float | None:
    return float(np.std(values, ddof=1)) if values.size >= 2 else None  # noqa: PLR2004


def ln_or_none(value: float | None) -> float | None:
    """Natural log of a positive value (lnRMSSD, lnHF), else None."""
    return math.log(value) if value is not None and value > 0 else None


def time_domain(
    rr_ms: FloatArray,
    accepted: BoolArray | None = None,
    after_gap: BoolArray | None = None,
) -> TimeDomain:
    """Metrics of the accepted intervals of ``rr_ms``; differences never span a rejected
    interval or a gap (``after_gap`` marks the first interval after one)."""
    n = rr_ms.size
    ok = np.ones(n, dtype=np.bool_) if accepted is None else accepted
    gap = np.zeros(n, dtype=np.bool_) if after_gap is None else after_gap
    nn = rr_ms[ok]
    pairs = valid_pairs(ok, gap)
    diffs = (rr_ms[1:] - rr_ms[:-1])[pairs[1:]]
    sums = (rr_ms[1:] + rr_ms[:-1])[pairs[1:]]
    mean_nn = float(np.mean(nn)) if nn.size else None
    rmssd = float(np.sqrt(np.mean(np.square(diffs)))) if diffs.size else None
    nn50 = int(np.count_nonzero(np.abs(diffs) > NN50_MS))
    sdsd = _std(diffs)
    sd2 = _std(sums)
    return TimeDomain(
        n_nn=int(nn.size),
        n_differences=int(diffs.size),
        mean_nn_ms=mean_nn,
        mean_hr_bpm=float(np.mean(60000.0 / nn)) if nn.size else None,
        hr_from_mean_nn_bpm=60000.0 / mean_nn if mean_nn else None,
        sdnn_ms=_std(nn),
        rmssd_ms=rmssd,
        ln_rmssd=ln_or_none(rmssd),
        sdsd_ms=sdsd,
        nn50=nn50,
        pnn50_pct=100.0 * nn50 / diffs.size if diffs.size else None,
        sd1_ms=sdsd / math.sqrt(2) if sdsd is not None else None,
        sd2_ms=sd2 / math.sqrt(2) if sd2 is not None else None,
    )
