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

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attune.dyad.config import SynchronyConfig
from attune.dyad.live import leader_for
from attune.dyad.resample import HrSeries, resample_hr
from attune.dyad.state import SynchronyState, SynchronyStatus
from attune.dyad.surrogates import derangements, verdict
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
    ther, cli = therapist.resample(c), client.resample(c)
    lags = np.arange(-c.lag_n, c.lag_n + 1)
    empty = SessionSynchrony(
        np.empty(0),
        np.empty(0),
        np.empty(0),
        lags / c.fs_hz,
        np.full(lags.size, np.nan),
        SynchronyState(t_s=0.0, status=SynchronyStatus.WARMING_UP, confidence=0.0),
    )
    if ther.start is None or cli.start is None or ther.end is None or cli.end is None:
        return empty
    first = -(-max(ther.start, cli.start + c.lag_n) // c.step_n)
    last = min((ther.end - c.window_n) // c.step_n, (cli.end - c.window_n - c.lag_n) // c.step_n)
    if last < first:
        return empty
    starts = np.arange(first, last + 1) * c.step_n
    normalizer = WindowNormalizer(c.window_n, c.fs_hz, pacer or PacerTrack(), c.remove_pacer)
    a_rows = normalizer.rows(ther.get(starts[0], starts[-1] + c.window_n), int(starts[0]), starts)
    b_first = int(starts[0]) - c.lag_n
    b_positions = np.arange(b_first, int(starts[-1]) + c.lag_n + 1)
    b_rows = normalizer.rows(
        cli.get(b_first, int(b_positions[-1]) + c.window_n), b_first, b_positions
    )
    # Column of client window j at lag k in b_rows: j * step_n + k + lag_n.
    columns = (np.arange(starts.size) * c.step_n)[:, None] + (lags + c.lag_n)[None, :]

    profiles = fisher_z(np.einsum("nw,nkw->nk", a_rows, b_rows[columns]))
    peaks = [pick_peak(p, c.fs_hz) if np.isfinite(p).all() else None for p in profiles]
    window_z = np.array([p.z if p else np.nan for p in peaks])
    window_lag_s = np.array([p.lag_s if p else np.nan for p in peaks])
    window_end_s = (starts + c.window_n) / c.fs_hz

    q = c.windows(c.segment_s)
    m = starts.size // q
    usable = np.isfinite(window_z)
    end_s = float(window_end_s[-1] + c.max_lag_s)
    base = SynchronyState(
        t_s=end_s, status=SynchronyStatus.WARMING_UP, confidence=float(usable.mean())
    )
    mean_profile = _nan_mean(profiles[: m * q] if m else profiles)
    result = SessionSynchrony(
        window_end_s, window_z, window_lag_s, lags / c.fs_hz, mean_profile, base
    )
    if m < MIN_SEGMENTS:
        return result
    if base.confidence < c.min_valid_fraction:
        return _with_summary(
            result,
            SynchronyState(
                t_s=end_s, status=SynchronyStatus.SIGNAL_GAP, confidence=base.confidence
            ),
        )

    blocks = _segment_pair_sums(a_rows[: m * q], b_rows, columns[: m * q], m, q)
    counts = blocks[1]
    sums = blocks[0]
    real = np.trace(sums, axis1=0, axis2=1) / np.maximum(np.trace(counts, axis1=0, axis2=1), 1)
    perms = derangements(m, c.n_surrogates, np.random.default_rng(seed))
    rows = np.arange(m)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        null_profiles = sums[rows, perms].sum(axis=1) / counts[rows, perms].sum(axis=1)
    overall = pick_peak(real, c.fs_hz)
    judged = None if overall is None else verdict(abs(overall.z), max_abs(null_profiles))
    if judged is None or overall is None:
        return _with_summary(
            result,
            SynchronyState(
                t_s=end_s, status=SynchronyStatus.SIGNAL_GAP, confidence=base.confidence
            ),
        )
    above = judged.effect_size >= c.effect_size_on and judged.p_value <= c.alpha
    summary = SynchronyState(
        t_s=end_s,
        status=SynchronyStatus.OK,
        confidence=base.confidence,
        index=judged.index,
        lag_s=overall.lag_s,
        in_phase=overall.z > 0,
        null_mean=judged.null_mean,
        null_sd=judged.null_sd,
        effect_size=judged.effect_size,
        p_value=judged.p_value,
        n_surrogates=judged.n_surrogates,
        above_chance=above,
        leader=leader_for(overall.lag_s, above, c.lead_threshold_s),
        pacer_removed=c.remove_pacer and bool(normalizer.pacer.changes),
    )
    return SessionSynchrony(window_end_s, window_z, window_lag_s, lags / c.fs_hz, real, summary)


def _segment_pair_sums(
    a_rows: FloatArray, b_rows: FloatArray, columns: npt.NDArray[np.int64], m: int, q: int
) -> tuple[FloatArray, FloatArray]:
    """sums[s, s2, k] = sum over offsets o of z(A[s q + o], B[s2 q + o] at lag k), with the
    count of usable terms alongside."""
    lags = columns.shape[1]
    sums = np.zeros((m, m, lags))
    counts = np.zeros((m, m, lags))
    b_columns = columns.reshape(m, q, lags)  # [segment, offset, lag]
    for s in range(m):
        z = fisher_z(a_rows[s * q : (s + 1) * q] @ b_rows.T)  # offsets x client windows
        picked = z[np.arange(q)[None, :, None], b_columns]  # [s2, offset, lag]
        finite = np.isfinite(picked)
        sums[s] = np.where(finite, picked, 0.0).sum(axis=1)
        counts[s] = finite.sum(axis=1)
    return sums, counts


def _nan_mean(profiles: FloatArray) -> FloatArray:
    finite = np.isfinite(profiles)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: FloatArray = np.where(finite, profiles, 0.0).sum(axis=0) / finite.sum(axis=0)
    return mean


def _with_summary(result: SessionSynchrony, summary: SynchronyState) -> SessionSynchrony:
    return SessionSynchrony(
        result.window_end_s,
        result.window_z,
        result.window_lag_s,
        result.lags_s,
        result.mean_profile_z,
        summary,
    )
