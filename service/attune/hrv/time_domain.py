"""Time-domain HRV on NN intervals in ms (Task Force 1996; conventions in hrv-science.md §1.2)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def successive_differences_ms(nn_ms: FloatArray, after_gap: npt.NDArray[np.bool_]) -> FloatArray:
    """ΔNN between neighbours, leaving out every difference that would span a gap."""
    diffs = np.diff(nn_ms)
    return diffs[~after_gap[1:]]


def rmssd_ms(diffs_ms: FloatArray) -> float:
    """Root mean square of successive differences: sqrt(mean(ΔNN²))."""
    return float(np.sqrt(np.mean(np.square(diffs_ms))))


def mean_hr_bpm(nn_ms: FloatArray) -> float:
    """HR from the mean interval, 60000 / mean(NN); the live display value."""
    return float(60000.0 / np.mean(nn_ms))
