"""RR series for offline analysis: from plain values, from a text file's contents, from beats.

Text format (``parse_rr_text``), as exported by straps' apps and read by Kubios:

- one RR interval per line, or two columns: the beat time and the RR interval (Kubios-style);
- separated by whitespace, commas, semicolons or tabs; blank lines and lines starting with
  ``#`` are ignored, and so is one header line before the data;
- RR in ms, or in s when every value is below 10 (no heart beats once in 10 ms); times in s.

With a time column, a beat whose time advances more than its interval plus ``GAP_TOLERANCE_S``
follows a gap (the timeline's rule, ``attune.sensor.timeline``), so no difference spans it.
Nothing here reads a file: the CLI reads it and hands the text over.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attune.errors import DataError
from attune.sensor.timeline import Beat, Gap

FloatArray = npt.NDArray[np.float64]

GAP_TOLERANCE_S = 1.5  # as the live timeline (hrv-science.md §2.1 step 3)
SECONDS_BELOW = 10.0  # RR values all below this are in seconds
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class RrSeries:
    """RR intervals ending at ``t_s``, with the length of the gap before each (0: none)."""

    t_s: FloatArray
    rr_ms: FloatArray
    gap_before_s: FloatArray

    @property
    def after_gap(self) -> npt.NDArray[np.bool_]:
        return self.gap_before_s > 0

    def __len__(self) -> int:
        return int(self.rr_ms.size)


def series_from_rr(rr_ms: FloatArray) -> RrSeries:
    """Back-to-back intervals, the first one starting at 0 s."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    return RrSeries(np.cumsum(rr) / 1000.0, rr, np.zeros(rr.size))


def series_from_columns(t_s: FloatArray, rr_ms: FloatArray) -> RrSeries:
    """Beat times and intervals; a time step longer than the interval by more than
    ``GAP_TOLERANCE_S`` marks a gap before that beat."""
    t, rr = np.asarray(t_s, dtype=np.float64), np.asarray(rr_ms, dtype=np.float64)
    gap = np.zeros(rr.size)
    if rr.size > 1:
        missing_s = np.diff(t) - rr[1:] / 1000.0
        gap[1:] = np.where(missing_s > GAP_TOLERANCE_S, missing_s, 0.0)
    return RrSeries(t, rr, gap)


def series_from_beats(beats: Sequence[Beat], gaps: Sequence[Gap] = ()) -> RrSeries:
    """Recorded beats (replay, re-analysis) with the gaps between them."""
    t = np.array([b.t_s for b in beats], dtype=np.float64)
    rr = np.array([b.rr_ms for b in beats], dtype=np.float64)
    gap = np.zeros(len(beats))
    ends = np.array([g.end_s for g in gaps])
    lengths = np.array([g.end_s - g.start_s for g in gaps])
    for i, beat in enumerate(beats):
        if beat.after_gap and i > 0:
            # The gap that closed where this beat's interval began; its length if recorded.
            start_s = beat.t_s - beat.rr_ms / 1000.0
            near = np.flatnonzero(np.abs(ends - start_s) < GAP_TOLERANCE_S)
            gap[i] = float(lengths[near[-1]]) if near.size else math.inf
    return RrSeries(t, rr, gap)


def _numbers(line: str, line_no: int) -> list[float] | None:
    fields = [f for f in _SEPARATORS.split(line.strip()) if f]
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in values):
        raise DataError(f"line {line_no}: not a finite number: {line.strip()!r}")
    return values


def _rows(text: str) -> list[list[float]]:
    """The numeric rows of an RR file: one or two values each, the same count throughout."""
    rows: list[list[float]] = []
    header_seen = False
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        values = _numbers(stripped, line_no)
        if values is None:
            if rows or header_seen:
                raise DataError(f"line {line_no}: expected numbers, got {stripped[:60]!r}")
            header_seen = True
            continue
        if len(values) not in (1, 2):
            raise DataError(
                f"line {line_no}: expected one value (RR) or two (time, RR), got {len(values)}"
            )
        if rows and len(values) != len(rows[0]):
            raise DataError(
                f"line {line_no}: {len(values)} columns where the file started with {len(rows[0])}"
            )
        rows.append(values)
    return rows


def parse_rr_text(text: str) -> RrSeries:
    """An RR series from the text of an RR file (see the module doc); DataError if unusable."""
    rows = _rows(text)
    if len(rows) < 2:  # noqa: PLR2004
        raise DataError(f"need at least 2 RR intervals, found {len(rows)}")
    data = np.array(rows, dtype=np.float64)
    rr = data[:, -1]
    if np.any(rr <= 0):
        first = int(np.flatnonzero(rr <= 0)[0])
        raise DataError(f"RR interval {first + 1} is not positive: {rr[first]:g}")
    if np.all(rr < SECONDS_BELOW):
        rr = rr * 1000.0
    if data.shape[1] == 1:
        return series_from_rr(rr)
    t = data[:, 0]
    if np.any(np.diff(t) <= 0):
        first = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise DataError(f"beat times must increase: value {first + 1} ({t[first]:g} s) does not")
    return series_from_columns(t, rr)
