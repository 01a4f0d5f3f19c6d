"""Live therapist-client synchrony: beats in, a synchrony state every window step out.

Incremental and pure: the caller feeds each person's beats (with their times) and pacer
changes; whenever both HR series reach the end of the next window plus the lag margin, that
window is correlated and a ``SynchronyState`` is returned.

The live index is the peak of the horizon's mean lag profile: the Fisher-z cross-correlogram of
every window in the trailing ``horizon_s``, averaged lag by lag, then peak-picked. Averaging the
signed profiles before picking the peak keeps what recurs at a consistent lag and cancels what
does not; averaging per-window peaks instead rewards any window whose content is slow or
oscillatory (fewer degrees of freedom, larger chance |r|), so one person's arousal ramp alone
raised it. The null is the same statistic for displaced partners (``surrogates.py``).

Each update costs a fixed amount of work whatever the session length: the real pair, the new
windows paired with the partner's windows ``null_min_shift_s``..``null_max_shift_s`` back
(one matrix-vector and one small matrix product), and running sums over the horizon.
The newest window is the one whose lagged client windows end at the newest common sample, so a
state at time t describes HR up to t - ``max_lag_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from attune.dyad.config import SynchronyConfig
from attune.dyad.resample import HrResampler
from attune.dyad.state import Role, SynchronyState, SynchronyStatus, with_verdict
from attune.dyad.surrogates import Verdict, verdict
from attune.dyad.wcc import WindowNormalizer, fisher_z, max_abs, pick_peak, small_matmul

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ROW_GROUP = 16  # a multiple of OpenBLAS kernels' row grouping (see ``Ring.product``)


@dataclass(slots=True)
class Ring:
    """The newest ``capacity`` entries (each of ``shape``) of a sequence indexed by absolute
    number; reading a number not (or no longer) held gives NaN."""

    capacity: int
    shape: tuple[int, ...]
    dtype: type[np.floating[Any]] = np.float64
    rows: FloatArray = field(init=False)
    ids: IntArray = field(init=False)

    def __post_init__(self) -> None:
        self.rows = np.full((self.capacity, *self.shape), np.nan, dtype=self.dtype)
        self.ids = np.full(self.capacity, -1, dtype=np.int64)

    def put(self, first: int, rows: FloatArray) -> None:
        n, slot = rows.shape[0], first % self.capacity
        if slot + n <= self.capacity:  # one run of slots (nearly always)
            self.rows[slot : slot + n] = rows
            self.ids[slot : slot + n] = np.arange(first, first + n)
            return
        index = np.arange(first, first + n)
        self.rows[index % self.capacity] = rows
        self.ids[index % self.capacity] = index

    def put_one(self, index: int, row: FloatArray) -> None:
        slot = index % self.capacity
        self.rows[slot] = row
        self.ids[slot] = index

    def take(self, index: IntArray) -> FloatArray:
        return self.pick(self.rows, index)

    def held(self, index: int) -> FloatArray | None:
        """Entry ``index`` in place (a view, valid until its slot is reused), or None."""
        slot = index % self.capacity
        return self.rows[slot] if self.ids[slot] == index else None

    def product(self, first: int, last: int, vector: FloatArray) -> FloatArray:
        """``rows @ vector`` for the entries numbered ``first..last`` (NaN where not held),
        computed over the slots they occupy only."""
        n, capacity = last - first + 1, self.capacity
        out = np.empty(n)
        lo = first % capacity
        pieces = [(lo, lo + n)] if lo + n <= capacity else [(lo, capacity), (0, lo + n - capacity)]
        done = 0
        for start, end in pieces:
            # OpenBLAS's matrix-vector kernels take rows in groups (of 4); slots cut on group
            # boundaries (or at the ring's end) are grouped as in a product over the whole
            # ring, so each value is the same to the last bit.
            lo_al = start - start % ROW_GROUP
            hi_al = min(end + (-end) % ROW_GROUP, capacity)
            part = out[done : done + end - start]
            part[:] = (self.rows[lo_al:hi_al] @ vector)[start - lo_al : end - lo_al]
            held = self.ids[start:end] == np.arange(first + done, first + done + end - start)
            if not held.all():
                part[~held] = np.nan
            done += end - start
        return out

    def pick(self, per_slot: FloatArray, index: IntArray) -> FloatArray:
        """Entries of a per-slot array (``rows`` or e.g. ``rows @ v``) by absolute number."""
        slots = index % self.capacity
        out = per_slot[slots]
        stale = self.ids[slots] != index
        if stale.any():
            out[stale] = np.nan
        return out


@dataclass(slots=True)
class _HorizonSum:
    """Running NaN-aware sum of lag profiles over the horizon's windows."""

    total: FloatArray
    count: FloatArray
    _mean: FloatArray

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> _HorizonSum:
        return cls(np.zeros(shape), np.zeros(shape), np.empty(shape))

    def move(self, leaving: FloatArray | None, entering: FloatArray) -> None:
        """Drop one window's profiles (None: none held) from the sums and add another's."""
        entering_ok = np.isfinite(entering)
        all_entering = bool(entering_ok.all())
        if leaving is None:
            self._add(entering, entering_ok, all_entering)
            self.count += entering_ok
            return
        leaving_ok = np.isfinite(leaving)
        all_leaving = bool(leaving_ok.all())
        if all_leaving:
            self.total -= leaving
        else:
            np.subtract(self.total, leaving, out=self.total, where=leaving_ok)
        self._add(entering, entering_ok, all_entering)
        if not (all_leaving and all_entering):  # else the counts stay as they are
            self.count -= leaving_ok
            self.count += entering_ok

    def _add(self, entering: FloatArray, finite: npt.NDArray[np.bool_], every: bool) -> None:
        if every:
            self.total += entering
        else:
            np.add(self.total, entering, out=self.total, where=finite)

    def mean(self) -> FloatArray:
        """The mean profiles (NaN where no window counted); valid until the next call."""
        mean = self._mean
        mean.fill(np.nan)
        np.divide(self.total, self.count, out=mean, where=self.count >= 1)
        return mean


@dataclass(slots=True)
class LiveSynchrony:
    """Incremental synchrony of one dyad (therapist = A, client = B)."""

    config: SynchronyConfig = field(default_factory=SynchronyConfig)
    _hr: dict[Role, HrResampler] = field(init=False)
    _normalizer: WindowNormalizer = field(init=False)
    _shifts: IntArray = field(init=False)  # null shifts D, in windows
    _lags: IntArray = field(init=False)  # -lag_n..lag_n
    # Where each (shift, lag) of the therapist now with the client D back sits in the run of
    # client rows from the oldest shift's first lag to the newest's last.
    _back_offsets: IntArray = field(init=False)
    _a_rows: Ring = field(init=False)  # therapist windows, by window number
    _b_rows: Ring = field(init=False)  # client windows, by start sample
    # Per window, one array of lag profiles: row 0 the real pair, then the therapist with the
    # client D windows back (one row per shift D), then the therapist D back with the client.
    _profiles: Ring = field(init=False)
    _last_paced: int | None = None  # the newest window with a pacer running in its span
    _horizon: _HorizonSum = field(init=False)  # the same rows, summed over the horizon
    _first: int | None = None
    _next: int | None = None
    _next_b: int | None = None
    _above: bool = False
    _on_since_s: float | None = None

    def __post_init__(self) -> None:
        c = self.config
        self._hr = {role: HrResampler(c.fs_hz, c.max_bridge_s) for role in Role}
        self._normalizer = WindowNormalizer(c.window_n, c.fs_hz, remove_pacer=c.remove_pacer)
        self._shifts = np.arange(
            c.windows(c.null_min_shift_s),
            c.windows(c.null_max_shift_s) + 1,
            c.null_shift_stride,
        )
        n_h, lags, n_d = c.windows(c.horizon_s), 2 * c.lag_n + 1, self._shifts.size
        self._lags = np.arange(-c.lag_n, c.lag_n + 1)
        self._back_offsets = ((self._shifts[-1] - self._shifts) * c.step_n)[:, None] + np.arange(
            lags
        )
        history = n_h + int(self._shifts[-1]) + 1
        # Single precision for the stored windows and profiles: a correlation or a Fisher z to
        # 7 digits is more than the statistic can tell (no verdict changed in 9,264 states of
        # 16 simulated sessions; largest index difference 3e-8). The profile ring (60 windows
        # x 273 profiles x 41 lags) is most of a dyad's memory, and each update reads about a
        # thousand client windows, from memory once hundreds of dyads share the caches: half
        # the bytes made an update 18 % cheaper with 150 dyads interleaved. z itself is
        # computed in double, as float32 cannot hold ``R_CLIP``.
        self._a_rows = Ring(history, (c.window_n,), np.float32)
        self._b_rows = Ring(history * c.step_n + 2 * lags, (c.window_n,), np.float32)
        self._profiles = Ring(n_h, (1 + 2 * n_d, lags), np.float32)
        self._horizon = _HorizonSum.zeros((1 + 2 * n_d, lags))

    def set_pacer(self, t_s: float, breaths_per_min: float | None) -> None:
        """The pacer started, changed rate or stopped at ``t_s``."""
        hz = None if breaths_per_min is None else breaths_per_min / 60.0
        self._normalizer.pacer = self._normalizer.pacer.with_change(t_s, hz)

    def add_beat(
        self, role: Role, t_s: float, rr_ms: float, *, usable: bool = True, after_gap: bool = False
    ) -> list[SynchronyState]:
        """One beat of ``role`` ending at ``t_s`` (``usable=False`` for an artefact); returns
        the states of the windows it completed (usually none or one)."""
        self._hr[role].add_beat(t_s, rr_ms, usable=usable, after_gap=after_gap)
        partner = self._hr[role.partner]
        newest = partner.series.end
        if newest is not None and t_s - self.config.stale_s > (newest - 1) / self.config.fs_hz:
            partner.mark_missing_until(t_s - self.config.stale_s)
        return self._advance()

    def _advance(self) -> list[SynchronyState]:
        c = self.config
        ther, client = self._hr[Role.THERAPIST].series, self._hr[Role.CLIENT].series
        if ther.start is None or client.start is None or ther.end is None or client.end is None:
            return []
        if self._next is None:
            first = -(-max(ther.start, client.start + c.lag_n) // c.step_n)
            self._first = self._next = first
            self._next_b = first * c.step_n - c.lag_n
        states: list[SynchronyState] = []
        while True:
            a = self._next * c.step_n
            if ther.end < a + c.window_n or client.end < a + c.window_n + c.lag_n:
                return states
            states.append(self._add_window(self._next))
            self._next += 1
            ther.forget_before(a)
            client.forget_before(a)

    def _add_window(self, index: int) -> SynchronyState:
        c = self.config
        assert self._first is not None  # noqa: S101 - set before the first window
        a, lags = index * c.step_n, self._lags
        ther = self._hr[Role.THERAPIST].series.get(a, a + c.window_n)
        a_row = self._normalizer.rows(ther, a, [a])[0].astype(np.float32)
        self._a_rows.put_one(index, a_row)
        self._add_b_rows(a + c.lag_n)
        b_rows = self._b_rows.take(a + lags)
        shifts, n_d = self._shifts, self._shifts.size
        profiles = np.empty(self._profiles.shape)
        profile = profiles[0]
        profile[:] = b_rows @ a_row
        fisher_z(profile, out=profile)

        partner = index - shifts
        # The therapist now with the client D windows back: one product over the client rows
        # from the oldest shift's first lag to the newest's last (each row serves several
        # shifts), z of each once, then spread out by shift and lag.
        oldest = (index - int(shifts[-1])) * c.step_n - c.lag_n
        newest = (index - int(shifts[0])) * c.step_n + c.lag_n
        back = self._b_rows.product(oldest, newest, a_row)
        np.take(fisher_z(back, out=back), self._back_offsets, out=profiles[1 : 1 + n_d])
        # The therapist D windows back with the client now.
        partners_z = profiles[1 + n_d :]
        partners_z[:] = small_matmul(self._a_rows.take(partner), b_rows.T)
        fisher_z(partners_z, out=partners_z)
        if partner[-1] < self._first:
            unknown = partner < self._first
            profiles[1 : 1 + n_d][unknown] = np.nan
            partners_z[unknown] = np.nan

        t0_s = (a - c.lag_n) / c.fs_hz
        paced = self._normalizer.pacer.rates_between(t0_s, t0_s + c.window_s + 2 * c.max_lag_s)
        self._slide(index, profiles, bool(paced))
        peak = pick_peak(profile, c.fs_hz) if np.isfinite(profile).all() else None
        n_h = c.windows(c.horizon_s)
        warm = index - n_h + 1 >= self._first
        usable = float(self._horizon.count[0].min()) if warm else 0.0
        state = SynchronyState(
            t_s=(a + c.window_n + c.lag_n) / c.fs_hz,
            status=SynchronyStatus.WARMING_UP,
            confidence=usable / n_h,
            window_z=peak.z if peak else None,
            window_lag_s=peak.lag_s if peak else None,
        )
        return self._judge(index, state)

    def _add_b_rows(self, last: int) -> None:
        assert self._next_b is not None  # noqa: S101 - set before the first window
        first = self._next_b
        if last < first:
            return
        series = self._hr[Role.CLIENT].series.get(first, last + self.config.window_n)
        self._b_rows.put(first, self._normalizer.rows(series, first, np.arange(first, last + 1)))
        self._next_b = last + 1

    def _slide(self, index: int, profiles: FloatArray, paced: bool) -> None:
        """Move the horizon on by one window: add the new one, drop the one leaving."""
        leaving = index - self.config.windows(self.config.horizon_s)
        # The sums add what the ring keeps, so what leaves later takes out what went in.
        kept = profiles.astype(self._profiles.dtype)
        self._horizon.move(self._profiles.held(leaving), kept)
        self._profiles.put_one(index, kept)
        if paced:
            self._last_paced = index

    def _judge(self, index: int, state: SynchronyState) -> SynchronyState:
        c = self.config
        assert self._first is not None  # noqa: S101 - set before the first window
        oldest = index - c.windows(c.horizon_s) + 1
        # Shifts whose partner windows existed for every window of the horizon.
        complete = self._shifts <= oldest - self._first
        if oldest < self._first or 2 * complete.sum() < c.min_surrogates:
            return self._no_verdict(state)
        if state.confidence < c.min_valid_fraction:
            return self._no_verdict(replace(state, status=SynchronyStatus.SIGNAL_GAP))
        means, n_d = self._horizon.mean(), self._shifts.size
        overall = pick_peak(means[0], c.fs_hz)
        null = max_abs(means[1:])  # both ways round, in that order
        if not complete.all():
            null = np.concatenate((null[:n_d][complete], null[n_d:][complete]))
        result = None if overall is None else verdict(abs(overall.z), null)
        if result is None or overall is None:
            return self._no_verdict(replace(state, status=SynchronyStatus.SIGNAL_GAP))
        paced = self._last_paced is not None and self._last_paced >= oldest
        return with_verdict(
            state,
            result,
            overall,
            above_chance=self._decide(state.t_s, result),
            lead_threshold_s=c.lead_threshold_s,
            pacer_removed=c.remove_pacer and paced,
        )

    def _no_verdict(self, state: SynchronyState) -> SynchronyState:
        self._above, self._on_since_s = False, None
        return state

    def _decide(self, t_s: float, result: Verdict) -> bool:
        c = self.config
        if self._above:
            self._above = result.effect_size >= c.effect_size_off
            if not self._above:
                self._on_since_s = None
            return self._above
        if result.effect_size >= c.effect_size_on and result.p_value <= c.alpha:
            if self._on_since_s is None:
                self._on_since_s = t_s
            self._above = t_s - self._on_since_s >= c.sustain_s
        else:
            self._on_since_s = None
        return self._above
