"""Heart rate on a uniform grid: beats in, HR samples at ``fs_hz`` out (hrv-science.md §4.3).

Each beat's HR (60000 / RR) is placed at the end of its interval, and the grid is filled by
linear interpolation between neighbouring beats. Sample ``n`` sits at session time
``n / fs_hz``, so two people's series share one grid. No sample is interpolated across a gap,
across a span longer than ``max_bridge_s`` (several rejected beats in a row) or before the
first beat: those samples are NaN, and every window touching one is unusable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MIN_BUFFER = 256  # samples: a live series holds about a window, the lag margin and a few beats


@dataclass(slots=True)
class HrSeries:
    """A growing window onto one person's HR grid, indexed by absolute sample number."""

    start: int | None = None
    # The samples from ``start`` on sit at ``_buffer[_offset : _offset + _size]``; the buffer
    # has room to grow, so adding a beat's few samples is a copy, not a new array.
    _buffer: FloatArray = field(default_factory=lambda: np.empty(0))
    _offset: int = 0
    _size: int = 0

    @property
    def end(self) -> int | None:
        """One past the newest sample (None before the first)."""
        return None if self.start is None else self.start + self._size

    def append(self, first: int, values: FloatArray | Sequence[float]) -> None:
        """Add samples ``first, first + 1, ...``; a jump forward is filled with NaN."""
        if self.start is None:
            self.start = first
        end = self.start + self._size
        if first < end:  # already covered (late data): keep what we had
            values, first = values[end - first :], end
        pad, count = first - end, len(values)
        tail = self._offset + self._size
        if tail + pad + count > self._buffer.size:
            tail = self._make_room(pad + count)
        buffer = self._buffer
        buffer[tail : tail + pad] = np.nan
        buffer[tail + pad : tail + pad + count] = values
        self._size += pad + count

    def _make_room(self, more: int) -> int:
        """Move the held samples to the front of a buffer with room for ``more``; returns
        where the next sample goes."""
        size, held = self._size, self._buffer[self._offset : self._offset + self._size]
        if 2 * (size + more) > self._buffer.size:
            buffer = np.empty(max(MIN_BUFFER, 2 * (size + more)))
            buffer[:size] = held
            self._buffer = buffer
        else:
            self._buffer[:size] = held  # numpy copies overlapping slices safely
        self._offset = 0
        return size

    def get(self, lo: int, hi: int) -> FloatArray:
        """Samples ``lo`` to ``hi`` (exclusive), NaN where unknown."""
        out = np.full(hi - lo, np.nan)
        if self.start is None:
            return out
        a, b = max(lo, self.start), min(hi, self.start + self._size)
        if a < b:
            at = self._offset - self.start
            out[a - lo : b - lo] = self._buffer[at + a : at + b]
        return out

    def forget_before(self, index: int) -> None:
        """Drop samples older than ``index`` (bounded memory for endless sessions)."""
        if self.start is not None and index > self.start:
            cut = min(index - self.start, self._size)
            self._offset += cut
            self._size -= cut
            self.start += cut


@dataclass(slots=True)
class HrResampler:
    """Incremental beats -> HR grid for one person."""

    fs_hz: float = 4.0
    max_bridge_s: float = 3.0
    series: HrSeries = field(default_factory=HrSeries)
    _last_t_s: float | None = None
    _last_hr_bpm: float = math.nan

    def add_beat(
        self, t_s: float, rr_ms: float, *, usable: bool = True, after_gap: bool = False
    ) -> None:
        """Add a beat ending at ``t_s``; ``usable=False`` (an artefact) leaves a hole that is
        bridged only if short; ``after_gap`` breaks the series before this beat."""
        if not usable:
            return
        hr_bpm = 60000.0 / rr_ms
        last_t_s, last_hr = self._last_t_s, self._last_hr_bpm
        self._last_t_s, self._last_hr_bpm = t_s, hr_bpm
        if last_t_s is None or t_s <= last_t_s:
            return
        fs_hz = self.fs_hz
        first = math.floor(last_t_s * fs_hz) + 1
        last = math.floor(t_s * fs_hz)
        if last < first:
            return
        if after_gap or t_s - last_t_s > self.max_bridge_s:
            self.series.append(first, [math.nan] * (last - first + 1))
            return
        # A beat's few samples in Python floats (numpy's per-call costs would outweigh them);
        # the same operations in the same order as on arrays, so the same values.
        rise, span = hr_bpm - last_hr, t_s - last_t_s
        values = [last_hr + rise * (n / fs_hz - last_t_s) / span for n in range(first, last + 1)]
        self.series.append(first, values)

    def mark_missing_until(self, t_s: float) -> None:
        """Nothing arrived up to ``t_s`` (a partner gone quiet): fill NaN and restart."""
        last = math.floor(t_s * self.fs_hz)
        end = self.series.end
        if end is not None and last >= end:
            self.series.append(last + 1, ())
            self._last_t_s = None


def resample_hr(
    t_s: FloatArray,
    rr_ms: FloatArray,
    *,
    fs_hz: float = 4.0,
    max_bridge_s: float = 3.0,
    usable: npt.NDArray[np.bool_] | None = None,
    after_gap: npt.NDArray[np.bool_] | None = None,
) -> HrSeries:
    """The whole-session form of ``HrResampler``."""
    resampler = HrResampler(fs_hz, max_bridge_s)
    for i in range(t_s.size):
        resampler.add_beat(
            float(t_s[i]),
            float(rr_ms[i]),
            usable=True if usable is None else bool(usable[i]),
            after_gap=False if after_gap is None else bool(after_gap[i]),
        )
    return resampler.series
