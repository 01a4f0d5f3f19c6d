"""Null distributions for synchrony and the verdict they give (hrv-science.md §4.4).

Two nulls, both keeping each person's own dynamics and breaking only their alignment:

- Whole session: segment shuffling (Moulder et al. 2018, Psychol Methods 23:757). The
  session's windows are cut into segments of at least a window, and a derangement sigma
  pairs each therapist window, in segment s at offset o, with the client window at offset o
  in segment sigma(s). Evaluated on window pairs, so no pair straddles an artificial splice.
- Live: displaced partners ("pseudo-synchrony" of SUSY, Tschacher & Meier 2020; the
  section-sliding family of Moulder et al.): the horizon's therapist windows are paired with
  the client's windows D steps earlier, and the client's with the therapist's D steps
  earlier, for every shift D from a window length up to several minutes. Each displaced
  horizon keeps the contiguous structure of the real one. Derangements within a live horizon
  fit poorly: a 2-min horizon holds 4 segments of 30 s, whose 9 derangements can never give
  p <= .05; a 3-min horizon's segments can, but the real pairing runs on across segment
  borders while shuffled ones break there, and on independent simulated dyads their effect
  sizes spread wider than a calibrated null's (``attune bench synchrony`` measures both).

Either way the null is that of the statistic itself (the peak of the mean lag profile), so
the effect size (real - mean) / SD and the permutation p = (1 + #null >= real) / (1 + K) are on
the scale of the decision, as SUSY's effect size is.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Up to this many segments every derangement is enumerated (8 segments have 14833).
ENUMERATE_UP_TO = 8
MIN_SEGMENTS = 2
MIN_NULL = 2  # values needed for a spread


def nanmean(x: FloatArray, axis: int | None = None) -> FloatArray:
    """Mean of the finite values (NaN where there are none), without numpy's warning."""
    finite = np.isfinite(x)
    count = finite.sum(axis=axis)
    total = np.where(finite, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: FloatArray = np.asarray(total / count, dtype=np.float64)
    return mean


def derangements(m: int, count: int, rng: np.random.Generator) -> IntArray:
    """Up to ``count`` distinct derangements of ``range(m)``, one per row: all of them when
    there are no more than ``count`` (small m), else a uniform sample by rejection."""
    if m < MIN_SEGMENTS:
        raise ValueError("a derangement needs at least 2 segments")
    ident = np.arange(m)
    if m <= ENUMERATE_UP_TO:
        every = np.array(
            [p for p in itertools.permutations(range(m)) if not np.any(np.array(p) == ident)],
            dtype=np.int64,
        )
        if every.shape[0] <= count:
            return every
        return every[np.sort(rng.choice(every.shape[0], size=count, replace=False))]
    rows: list[IntArray] = []
    seen: set[bytes] = set()
    while len(rows) < count:
        p = rng.permutation(m)
        if np.any(p == ident) or p.tobytes() in seen:
            continue
        seen.add(p.tobytes())
        rows.append(p)
    return np.array(rows, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Verdict:
    index: float
    null_mean: float
    null_sd: float
    effect_size: float
    p_value: float
    n_surrogates: int


def verdict(index: float, null: FloatArray) -> Verdict | None:
    """Compare ``index`` with the finite values of ``null``; None when that is degenerate."""
    finite = np.isfinite(null)
    if not finite.all():
        null = null[finite]
    n = null.size
    if n < MIN_NULL or not math.isfinite(index):
        return None
    # null.mean() and null.std(ddof=1) as numpy computes them (the same sums, to the bit),
    # without their per-call costs.
    mean = float(np.add.reduce(null)) / n
    deviation = null - mean
    sd = math.sqrt(float(np.add.reduce(np.multiply(deviation, deviation, out=deviation))) / (n - 1))
    if sd <= 0.0:
        return None
    return Verdict(
        index=index,
        null_mean=mean,
        null_sd=sd,
        effect_size=(index - mean) / sd,
        p_value=(1.0 + int(np.count_nonzero(null >= index))) / (1.0 + n),
        n_surrogates=n,
    )
