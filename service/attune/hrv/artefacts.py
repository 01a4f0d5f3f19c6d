"""Artefact screening of RR intervals: Lipponen & Tarvainen (2019) plus a hard range.

Lipponen JA, Tarvainen MP (2019), "A robust algorithm for heart rate variability time series
artefact correction using novel beat classification", J Med Eng Technol 43(3):173-181; the
Kubios "automatic correction". hrv-science.md §2.2 gives the steps, §2.3 the causal variant:

- dRR_i = RR_i - RR_(i-1), normalised by Th1 = alpha * QD(|dRR|) over 91 beats,
  with QD = (Q3 - Q1) / 2 and alpha = 5.2;
- mRR_i = RR_i - median_11(RR), negative values doubled, normalised by Th2 = alpha * QD(|mRR|);
- the subspaces S12 (ectopic test) and S22 (long/short test) with c1 = 0.13, c2 = 0.17;
- missed if a long beat is about twice the median, extra if a short beat and its successor add
  up to about the median.

Two forms share the per-beat decision (``_classify``, in the flow of NeuroKit2's implementation):

- ``CausalScreen`` (live): *trailing* 91-beat thresholds and a *trailing* 11-beat median;
  beat i is decided when beat i+2 arrives (the 2-beat decision delay, about 2 s). On real Holter
  RR it agrees with the offline form on 98-99 % of beats (hrv-science.md §2.3, measured).
  Ours: each threshold is the larger of the 91-beat one and one over the last 21 beats. A
  trailing window learns a rise in variability late: when a client starts slow deep breathing
  (RSA from +-15 to +-250 ms), the 91-beat quartiles stay small for some 25 beats and 10-13 of
  the first 120 beats were flagged, enough to grey out RMSSD and freeze the calm meter just as
  the breathing works; the 21-beat term raises the thresholds within a few beats (0-2 flags).
  It also halves the flags on clean real RR (2.0 -> 1.1 % on the 60 min NSRDB record), and
  costs sensitivity only when artefacts are dense (a quarter of 21 beats): 0.97 instead of
  0.99 at one artefact per 15 beats on that record (tests/unit/test_hrv_artefacts.py).
- ``screen_centred`` (offline, replay, re-analysis): the published centred windows.

Every interval outside the hard range 300-2000 ms (hrv-science.md §0 and §2.1 step 4) is
flagged long or short and kept out of the statistics. Flags sit beside the raw values: nothing
is corrected here. Difference-based metrics leave flagged beats out; spectral work
interpolates over them (``attune.hrv.engine``).
"""

from __future__ import annotations

import enum
import functools
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from attune.sensor.timeline import RR_MAX_MS, RR_MIN_MS

ALPHA = 5.2  # threshold multiplier on the quartile deviation (L&T 2019)
C1 = 0.13  # ectopic decision boundary slope (L&T 2019)
C2 = 0.17  # ectopic decision boundary offset (L&T 2019)
QD_WINDOW = 91  # beats over which Th1 and Th2 are estimated
FAST_QD_WINDOW = 21  # ours: the causal form's second, quicker threshold window (see above)
MEDIAN_WINDOW = 11  # beats of the median that mRR is measured against
DECISION_DELAY = 2  # S22 needs dRR of the two following beats
# Ours, not the paper's: thresholds need a few values before they mean anything, so the first
# intervals after a start or a long gap are screened by the hard range only; and a floor on the
# quartile deviation keeps a flat (synthetic or heavily quantised) series from dividing by zero.
MIN_STAT_VALUES = 8
QD_FLOOR_MS = 2.0


class ArtefactKind(enum.StrEnum):
    """Why a beat was flagged (L&T 2019 classes; long/short also covers the hard range)."""

    ECTOPIC = "ectopic"
    MISSED = "missed"
    EXTRA = "extra"
    LONG = "long"
    SHORT = "short"


# Compact codes for numpy storage; 0 is a normal beat.
KIND_CODES: dict[ArtefactKind | None, int] = {None: 0} | {
    kind: i for i, kind in enumerate(ArtefactKind, start=1)
}
KINDS_BY_CODE: tuple[ArtefactKind | None, ...] = (None, *ArtefactKind)


def hard_range_kind(rr_ms: float) -> ArtefactKind | None:
    """LONG or SHORT for an interval outside 300-2000 ms, else None."""
    if rr_ms > RR_MAX_MS:
        return ArtefactKind.LONG
    if rr_ms < RR_MIN_MS:
        return ArtefactKind.SHORT
    return None


class _Stats(NamedTuple):
    """What the decision needs to know about one beat (a tuple: made on every beat)."""

    rr_ms: float
    drr_n: float  # dRR / Th1; 0 where dRR is undefined (after a break) or Th1 not yet known
    mrr_n: float  # mRR / Th2; 0 while Th2 is not yet known
    median_ms: float
    th2_ms: float  # 0 while not yet known
    contiguous: bool  # dRR with the previous interval is defined
    preset: ArtefactKind | None  # hard-range verdict, decided before any statistics


_NEUTRAL = _Stats(0.0, 0.0, 0.0, 0.0, 0.0, False, None)
# ``_Stats`` from a tuple in one C call (the generated ``__new__`` adds a Python frame per beat).
_new_stats = functools.partial(tuple.__new__, _Stats)


def _decide(seq: Sequence[_Stats], j: int, follow_on: bool) -> tuple[ArtefactKind | None, bool]:
    """The verdict on ``seq[j]``, and whether the next beat is a follow-on candidate.

    Neighbours that do not exist yet, or lie across a break in the dRR chain (a gap or an
    out-of-range interval), count as no evidence. ``follow_on`` says the previous beat opened
    the long/short test for this one (see ``_classify``).
    """
    cur = seq[j]
    prev = seq[j - 1] if j > 0 and cur.contiguous else _NEUTRAL
    nxt = seq[j + 1] if j + 1 < len(seq) and seq[j + 1].contiguous else _NEUTRAL
    nxt2 = _NEUTRAL
    if nxt is not _NEUTRAL and j + 2 < len(seq) and seq[j + 2].contiguous:
        nxt2 = seq[j + 2]
    return _classify(prev, cur, nxt, nxt2, follow_on=follow_on)


def _classify(  # noqa: PLR0911 - one exit per branch of the paper's decision tree
    prev: _Stats, cur: _Stats, nxt: _Stats, nxt2: _Stats, *, follow_on: bool
) -> tuple[ArtefactKind | None, bool]:
    """L&T 2019 decision (hrv-science.md §2.2 steps 4-6) in the flow of the paper's Figure 1
    as NeuroKit2 0.3.0 implements it (``signal_fixpeaks._find_artifacts``):

    - only a beat with |dRR'| > 1 is examined; it is ectopic if (dRR', S12) falls in the
      ectopic regions;
    - otherwise it is long if dRR' > 1 and S22 < -1, short if dRR' < -1 and S22 > 1, and long
      or short if |mRR'| > 3; a long beat of about twice the median is missed, a short beat
      that adds up with its successor to about the median is extra;
    - when an examined, non-ectopic beat is followed by a smaller jump than the one after it,
      the following beat gets the long/short test too (the "follow-on" candidate).
    """
    if cur.preset is not None:
        return cur.preset, False
    d = cur.drr_n
    examined = abs(d) > 1
    if not (examined or follow_on):
        return None, False
    if d > 0:
        s12 = max(prev.drr_n, nxt.drr_n)
    elif d < 0:
        s12 = min(prev.drr_n, nxt.drr_n)
    else:
        s12 = 0.0
    if examined and ((d > 1 and s12 < -C1 * d - C2) or (d < -1 and s12 > -C1 * d + C2)):
        return ArtefactKind.ECTOPIC, False
    next_too = examined and abs(nxt.drr_n) < abs(nxt2.drr_n)
    s22 = min(nxt.drr_n, nxt2.drr_n) if d >= 0 else max(nxt.drr_n, nxt2.drr_n)
    long_beat = d > 1 and s22 < -1
    short_beat = d < -1 and s22 > 1
    if not (long_beat or short_beat or abs(cur.mrr_n) > 3):  # noqa: PLR2004 - |mRR'| > 3
        return None, next_too
    med, th2 = cur.median_ms, cur.th2_ms
    if short_beat and nxt.contiguous and abs(cur.rr_ms + nxt.rr_ms - med) < th2:
        return ArtefactKind.EXTRA, next_too
    if long_beat and abs(cur.rr_ms / 2 - med) < th2:
        return ArtefactKind.MISSED, next_too
    if long_beat or short_beat:
        return (ArtefactKind.LONG if long_beat else ArtefactKind.SHORT), next_too
    return (ArtefactKind.LONG if cur.rr_ms > med else ArtefactKind.SHORT), next_too


@functools.lru_cache(maxsize=256)  # window lengths (up to 91 live), shared by every screen
def _quartile_positions(n: int) -> tuple[int, float, int, float]:
    """Where Q1 and Q3 of ``n`` sorted values fall: (index, fraction to the next) each."""
    lo, hi = 0.25 * (n - 1), 0.75 * (n - 1)
    i, j = int(lo), int(hi)
    return i, lo - i, j, hi - j


class _SortedWindow:
    """The last ``size`` values kept sorted, for running quantiles in O(size) per update."""

    __slots__ = ("_fifo", "_full", "_size", "_sorted")

    def __init__(self, size: int) -> None:
        self._size = size
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []
        self._full = _quartile_positions(size)  # a full window's, the steady state

    def __len__(self) -> int:
        return len(self._sorted)

    def push(self, value: float) -> None:
        fifo, ordered = self._fifo, self._sorted
        if len(fifo) == self._size:
            del ordered[bisect_left(ordered, fifo.popleft())]
        fifo.append(value)
        insort(ordered, value)

    def add(self, value: float) -> None:
        """Insert without FIFO bookkeeping (the centred form removes values itself)."""
        insort(self._sorted, value)

    def remove(self, value: float) -> None:
        del self._sorted[bisect_left(self._sorted, value)]

    def clear(self) -> None:
        self._fifo.clear()
        self._sorted.clear()

    def quantile(self, q: float) -> float:
        """Linear interpolation between order statistics (numpy's and pandas' default)."""
        s = self._sorted
        pos = q * (len(s) - 1)
        lo = int(pos)
        frac = pos - lo
        return s[lo] if frac == 0.0 else s[lo] + (s[lo + 1] - s[lo]) * frac

    def push_median(self, value: float) -> float:
        """``push`` then ``quantile(0.5)``; a full window of odd size reads its middle value."""
        self.push(value)
        s = self._sorted
        if len(s) == self._size and self._size % 2:
            return s[self._size // 2]  # quantile(0.5) with no fraction: the same value
        return self.quantile(0.5)

    def push_threshold(self, value: float) -> float:
        """``push`` then ``threshold``, in one call (twice per window on every beat)."""
        fifo, s = self._fifo, self._sorted
        if len(fifo) == self._size:
            del s[bisect_left(s, fifo.popleft())]
        fifo.append(value)
        insort(s, value)
        return self.threshold()

    def threshold(self) -> float:
        """alpha * QD, or 0 while there are too few values to estimate it."""
        s = self._sorted
        n = len(s)
        if n == self._size:
            i, di, j, dj = self._full
        elif n < MIN_STAT_VALUES:
            return 0.0
        else:
            i, di, j, dj = _quartile_positions(n)
        # Q3 - Q1 with linear interpolation, as ``quantile`` (inlined: runs four times a beat).
        q1 = s[i] + (s[i + 1] - s[i]) * di if di else s[i]
        q3 = s[j] + (s[j + 1] - s[j]) * dj if dj else s[j]
        qd = (q3 - q1) / 2
        # Conditionals rather than max(): the builtin's generic call costs more, four times a beat.
        return ALPHA * (QD_FLOOR_MS if qd < QD_FLOOR_MS else qd)  # noqa: FURB136


def _deviation_ms(rr_ms: float, median_ms: float) -> float:
    """mRR: deviation from the median, negative values doubled (L&T 2019)."""
    m = rr_ms - median_ms
    return 2 * m if m < 0 else m


class CausalScreen:
    """Live L&T screen: push intervals in order, get each verdict two intervals later.

    ``push`` returns the verdicts that became final (normally exactly one, for the interval
    pushed two calls earlier); ``flush`` decides everything still pending, treating the missing
    future as "no evidence", and is called at gaps and when the signal is lost. ``reset`` forgets
    the trailing statistics (after gaps longer than about 10 s, hrv-science.md §2.1 step 3).
    """

    __slots__ = (
        "_abs_drr",
        "_abs_mrr",
        "_fast_drr",
        "_fast_mrr",
        "_follow_on",
        "_median",
        "_prev_rr",
        "_recent",
        "_undecided",
    )

    def __init__(self) -> None:
        self._abs_drr = _SortedWindow(QD_WINDOW)
        self._abs_mrr = _SortedWindow(QD_WINDOW)
        self._fast_drr = _SortedWindow(FAST_QD_WINDOW)
        self._fast_mrr = _SortedWindow(FAST_QD_WINDOW)
        self._median = _SortedWindow(MEDIAN_WINDOW)
        self._recent: deque[_Stats] = deque(maxlen=DECISION_DELAY + 2)
        self._undecided = 0
        self._prev_rr: float | None = None
        self._follow_on = False

    @property
    def pending(self) -> int:
        """Intervals pushed but not yet decided."""
        return self._undecided

    def push(self, rr_ms: float, *, contiguous: bool = True) -> list[ArtefactKind | None]:
        """Add the next interval; ``contiguous`` is False for the first one after a gap."""
        if not contiguous:
            self._prev_rr = None
        self._recent.append(self._stats(rr_ms))
        self._undecided += 1
        if self._undecided <= DECISION_DELAY:
            return []
        return [self._decide_oldest()]

    def flush(self) -> list[ArtefactKind | None]:
        """Decide every pending interval now, without the beats that never came."""
        verdicts = [self._decide_oldest() for _ in range(self._undecided)]
        self._recent.clear()
        self._prev_rr = None
        self._follow_on = False
        return verdicts

    def reset(self) -> None:
        """Forget the trailing statistics (call after ``flush``)."""
        for window in (self._abs_drr, self._abs_mrr, self._fast_drr, self._fast_mrr, self._median):
            window.clear()
        self._recent.clear()
        self._prev_rr = None
        self._follow_on = False

    def _stats(self, rr_ms: float) -> _Stats:
        preset = hard_range_kind(rr_ms)
        if preset is not None:
            # Out-of-range values never enter the statistics, and break the dRR chain.
            self._prev_rr = None
            return _Stats(rr_ms, 0.0, 0.0, rr_ms, 0.0, False, preset)
        prev_rr = self._prev_rr
        self._prev_rr = rr_ms
        contiguous = prev_rr is not None
        drr_n = 0.0
        if prev_rr is not None:  # Th1 is only needed where dRR is defined
            drr = rr_ms - prev_rr
            th1 = self._abs_drr.push_threshold(abs(drr))
            fast = self._fast_drr.push_threshold(abs(drr))
            th1 = fast if fast > th1 else th1  # noqa: FURB136 - see threshold()
            drr_n = drr / th1 if th1 > 0 else 0.0
        median = self._median.push_median(rr_ms)
        mrr = _deviation_ms(rr_ms, median)
        th2 = self._abs_mrr.push_threshold(abs(mrr))
        fast = self._fast_mrr.push_threshold(abs(mrr))
        th2 = fast if fast > th2 else th2  # noqa: FURB136
        mrr_n = mrr / th2 if th2 > 0 else 0.0
        return _new_stats((rr_ms, drr_n, mrr_n, median, th2, contiguous, None))

    def _decide_oldest(self) -> ArtefactKind | None:
        # The oldest undecided interval sits ``_undecided`` places from the end.
        j = len(self._recent) - self._undecided
        verdict, self._follow_on = _decide(self._recent, j, self._follow_on)
        self._undecided -= 1
        return verdict


def _centred_thresholds(values: list[float | None], half: int) -> list[float]:
    """alpha * QD of the defined values within +-``half`` positions of each position."""
    window = _SortedWindow(len(values))
    out: list[float] = []
    hi = 0
    for j in range(len(values)):
        while hi < len(values) and hi <= j + half:
            if (v := values[hi]) is not None:
                window.add(v)
            hi += 1
        lo = j - half - 1
        if lo >= 0 and (v := values[lo]) is not None:
            window.remove(v)
        out.append(window.threshold())
    return out


def _centred_run(rr_ms: npt.NDArray[np.float64], contiguous: list[bool]) -> list[_Stats]:
    """Per-beat statistics of one run (no long gap inside) with centred windows."""
    n = rr_ms.size
    preset = [hard_range_kind(float(v)) for v in rr_ms]
    ok = [p is None for p in preset]
    # dRR is defined where this and the previous interval are usable and adjacent.
    chain = [ok[i] and i > 0 and ok[i - 1] and contiguous[i] for i in range(n)]
    drr = [float(rr_ms[i] - rr_ms[i - 1]) if chain[i] else None for i in range(n)]
    usable = [float(v) if ok[i] else None for i, v in enumerate(rr_ms)]
    med_half = MEDIAN_WINDOW // 2
    medians: list[float] = []
    window = _SortedWindow(n)
    hi = 0
    for j in range(n):
        while hi < n and hi <= j + med_half:
            if (v := usable[hi]) is not None:
                window.add(v)
            hi += 1
        if j - med_half - 1 >= 0 and (v := usable[j - med_half - 1]) is not None:
            window.remove(v)
        medians.append(window.quantile(0.5) if len(window) else float(rr_ms[j]))
    mrr = [_deviation_ms(v, medians[j]) if v is not None else None for j, v in enumerate(usable)]
    half = QD_WINDOW // 2
    th1 = _centred_thresholds([abs(v) if v is not None else None for v in drr], half)
    th2 = _centred_thresholds([abs(v) if v is not None else None for v in mrr], half)
    stats = []
    for j in range(n):
        if preset[j] is not None:
            stats.append(_Stats(float(rr_ms[j]), 0.0, 0.0, float(rr_ms[j]), 0.0, False, preset[j]))
            continue
        d, m = drr[j], mrr[j]
        drr_n = d / th1[j] if d is not None and th1[j] > 0 else 0.0
        mrr_n = m / th2[j] if m is not None and th2[j] > 0 else 0.0
        stats.append(_Stats(float(rr_ms[j]), drr_n, mrr_n, medians[j], th2[j], chain[j], None))
    return stats


def screen_centred(
    rr_ms: npt.NDArray[np.float64],
    after_gap: npt.NDArray[np.bool_] | None = None,
    *,
    long_gap: npt.NDArray[np.bool_] | None = None,
) -> list[ArtefactKind | None]:
    """Offline L&T with the published centred windows: one verdict per interval.

    ``after_gap`` marks intervals that follow a gap (no dRR across it); ``long_gap`` marks those
    after a gap long enough that the statistics restart, as the live screen does.
    """
    n = rr_ms.size
    gap = np.zeros(n, dtype=np.bool_) if after_gap is None else after_gap
    restart = np.zeros(n, dtype=np.bool_) if long_gap is None else long_gap
    starts = [0, *(int(i) for i in np.flatnonzero(restart) if i > 0)]
    verdicts: list[ArtefactKind | None] = []
    for a, b in zip(starts, [*starts[1:], n], strict=True):
        run = _centred_run(rr_ms[a:b], [not bool(g) for g in gap[a:b]])
        follow_on = False
        for j in range(len(run)):
            verdict, follow_on = _decide(run, j, follow_on)
            verdicts.append(verdict)
    return verdicts


def screen_causal(
    rr_ms: npt.NDArray[np.float64], after_gap: npt.NDArray[np.bool_] | None = None
) -> list[ArtefactKind | None]:
    """The live screen run over a whole series (for tests and comparisons)."""
    screen = CausalScreen()
    verdicts: list[ArtefactKind | None] = []
    for i, rr in enumerate(rr_ms):
        contiguous = i > 0 and not (after_gap is not None and bool(after_gap[i]))
        if not contiguous:
            verdicts += screen.flush()
        verdicts += screen.push(float(rr), contiguous=contiguous)
    return verdicts + screen.flush()
