"""Whole-session synchrony, for replay and the session report.

The same windows and lag profiles as the live form, over the whole session, with a
segment-shuffle null of ``n_surrogates`` derangements (``surrogates.py``): the session's
windows are cut into segments of ``segment_s``; for every pair of segments (s, s') the lag
profiles of therapist windows in s with the client windows at the same offsets in s' are
summed once (an m x m x lags table), so each derangement's mean profile is a gather and a sum.
The index is the peak |z| of the mean lag profile; the effect size and p compare it with the
same peak for every derangement. Windows past the last whole segment are shown per window but
left out of the verdict, so real and surrogate statistics cover the same windows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from attune.dyad.config import SynchronyConfig
from attune.dyad.resample import HrSeries, resample_hr
from attune.dyad.state import SynchronyState, SynchronyStatus, with_verdict
from attune.dyad.surrogates import derangements, nanmean, verdict
from attune.dyad.wcc import PacerTrack, WindowNormalizer, fisher_z, max_abs, pick_peak

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIN_SEGMENTS = 2  # a derangement needs two


@dataclass(frozen=True, slots=True)
class BeatSeries:
    """One person's beats for the session form: end times, intervals and flags."""

    t_s: FloatArray
    rr_ms: FloatArray
    usable: BoolArray | None = None
    after_gap: BoolArray | None = None

    def resample(self, config: SynchronyConfig) -> HrSeries:
        return resample_hr(
            self.t_s,
            self.rr_ms,
            fs_hz=config.fs_hz,
            max_bridge_s=config.max_bridge_s,
            usable=self.usable,
            after_gap=self.after_gap,
        )


@dataclass(frozen=True, slots=True)
class SessionSynchrony:
    """Per-window peaks (for the replay timeline), the mean lag profile and the verdict."""

    window_end_s: FloatArray  # end of each therapist window
    window_z: FloatArray  # signed peak Fisher z per window (NaN: unusable)
    window_lag_s: FloatArray
    lags_s: FloatArray
    mean_profile_z: FloatArray
    summary: SynchronyState


def session_synchrony(
    therapist: BeatSeries,
    client: BeatSeries,
    config: SynchronyConfig | None = None,
    *,
    pacer: PacerTrack | None = None,
    seed: int = 0,
) -> SessionSynchrony:
    """Synchrony of a whole recorded session, with a seeded segment-shuffle null."""
    c = config or SynchronyConfig()
    lags_s = np.arange(-c.lag_n, c.lag_n + 1) / c.fs_hz
    normalizer = WindowNormalizer(c.window_n, c.fs_hz, pacer or PacerTrack(), c.remove_pacer)
    windows = _Windows.build(therapist.resample(c), client.resample(c), c, normalizer)
    if windows is None:
        warming = SynchronyState(t_s=0.0, status=SynchronyStatus.WARMING_UP, confidence=0.0)
        nothing = np.empty(0)
        return SessionSynchrony(
            nothing, nothing, nothing, lags_s, np.full(lags_s.size, np.nan), warming
        )
    q = c.windows(c.segment_s)
    m = windows.profiles.shape[0] // q
    peaks = [pick_peak(p, c.fs_hz) if np.isfinite(p).all() else None for p in windows.profiles]
    window_z = np.array([p.z if p else np.nan for p in peaks])
    window_end_s = (windows.starts + c.window_n) / c.fs_hz
    base = SynchronyState(
        t_s=float(window_end_s[-1] + c.max_lag_s),
        status=SynchronyStatus.WARMING_UP,
        confidence=float(np.isfinite(window_z).mean()),
    )
    result = SessionSynchrony(
        window_end_s,
        window_z,
        np.array([p.lag_s if p else np.nan for p in peaks]),
        lags_s,
        nanmean(windows.profiles[: m * q] if m else windows.profiles, axis=0),
        base,
    )
    if m < MIN_SEGMENTS:
        return result
    gap = replace(result, summary=replace(base, status=SynchronyStatus.SIGNAL_GAP))
    if base.confidence < c.min_valid_fraction:
        return gap
    sums, counts = _segment_pair_sums(windows, m, q)
    real = np.trace(sums, axis1=0, axis2=1) / np.maximum(np.trace(counts, axis1=0, axis2=1), 1)
    perms = derangements(m, c.n_surrogates, np.random.default_rng(seed))
    rows = np.arange(m)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        null_profiles = sums[rows, perms].sum(axis=1) / counts[rows, perms].sum(axis=1)
    overall = pick_peak(real, c.fs_hz)
    judged = None if overall is None else verdict(abs(overall.z), max_abs(null_profiles))
    if judged is None or overall is None:
        return gap
    summary = with_verdict(
        base,
        judged,
        overall,
        above_chance=judged.effect_size >= c.effect_size_on and judged.p_value <= c.alpha,
        lead_threshold_s=c.lead_threshold_s,
        pacer_removed=c.remove_pacer and bool(normalizer.pacer.changes),
    )
    return replace(result, mean_profile_z=real, summary=summary)


@dataclass(frozen=True, slots=True)
class _Windows:
    """Normalised therapist windows, every client window they are compared with, and the
    real lag profiles."""

    starts: npt.NDArray[np.int64]  # first sample of each therapist window
    a_rows: FloatArray
    b_rows: FloatArray  # client windows starting at every sample from starts[0] - lag_n
    columns: npt.NDArray[np.int64]  # [window, lag] -> row of b_rows
    profiles: FloatArray

    @classmethod
    def build(
        cls, ther: HrSeries, cli: HrSeries, c: SynchronyConfig, normalizer: WindowNormalizer
    ) -> _Windows | None:
        if ther.start is None or cli.start is None or ther.end is None or cli.end is None:
            return None
        first = -(-max(ther.start, cli.start + c.lag_n) // c.step_n)
        last = min(
            (ther.end - c.window_n) // c.step_n, (cli.end - c.window_n - c.lag_n) // c.step_n
        )
        if last < first:
            return None
        starts = np.arange(first, last + 1) * c.step_n
        a_first, b_first = int(starts[0]), int(starts[0]) - c.lag_n
        a_rows = normalizer.rows(ther.get(a_first, int(starts[-1]) + c.window_n), a_first, starts)
        b_last = int(starts[-1]) + c.lag_n
        b_rows = normalizer.rows(
            cli.get(b_first, b_last + c.window_n), b_first, np.arange(b_first, b_last + 1)
        )
        lags = np.arange(2 * c.lag_n + 1)
        columns = (np.arange(starts.size) * c.step_n)[:, None] + lags[None, :]
        profiles = fisher_z(np.einsum("nw,nkw->nk", a_rows, b_rows[columns]))
        return cls(starts, a_rows, b_rows, columns, profiles)


def _segment_pair_sums(w: _Windows, m: int, q: int) -> tuple[FloatArray, FloatArray]:
    """sums[s, s2, k] = sum over offsets o of z(A[s q + o], B[s2 q + o] at lag k), with the
    count of usable terms alongside."""
    lags = w.columns.shape[1]
    sums = np.zeros((m, m, lags))
    counts = np.zeros((m, m, lags))
    b_columns = w.columns[: m * q].reshape(m, q, lags)  # [segment, offset, lag]
    for s in range(m):
        z = fisher_z(w.a_rows[s * q : (s + 1) * q] @ w.b_rows.T)  # offsets x client windows
        picked = z[np.arange(q)[None, :, None], b_columns]  # [s2, offset, lag]
        finite = np.isfinite(picked)
        sums[s] = np.where(finite, picked, 0.0).sum(axis=1)
        counts[s] = finite.sum(axis=1)
    return sums, counts
