"""Synchrony building blocks: HR resampling, windowed cross-correlation, nulls, settings."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from attune.dyad import Leader, SynchronyConfig
from attune.dyad.live import Ring
from attune.dyad.resample import HrResampler, HrSeries, resample_hr
from attune.dyad.surrogates import derangements, verdict
from attune.dyad.wcc import (
    PacerTrack,
    WindowNormalizer,
    fisher_z,
    max_abs,
    normalized_residuals,
    pick_peak,
    small_matmul,
    window_basis,
)
from attune.errors import ConfigError


def test_hr_is_interpolated_linearly_between_beat_ends():
    series = resample_hr(np.array([1.0, 2.0, 3.0]), np.array([1000.0, 1000.0, 500.0]))
    # Samples at 4 Hz strictly after the first beat up to the last: HR 60 then ramping to 120.
    assert series.start == 5
    assert series.get(5, 13) == pytest.approx([60, 60, 60, 60, 75, 90, 105, 120])


def test_no_hr_is_invented_across_a_gap_or_a_long_hole():
    t = np.array([1.0, 2.0, 3.0, 7.5, 8.5])
    rr = np.array([1000.0, 1000.0, 1000.0, 1000.0, 1000.0])
    after_gap = np.array([False, False, False, False, False])
    series = resample_hr(t, rr, max_bridge_s=3.0, after_gap=after_gap)
    hole = series.get(13, 30)  # 3.25 s .. 7.25 s: 4.5 s between beats
    assert np.isnan(hole).all()
    assert series.get(31, 34) == pytest.approx([60, 60, 60])
    flagged = resample_hr(t[:3], rr[:3], after_gap=np.array([False, False, True]))
    assert np.isnan(flagged.get(9, 13)).all()


def test_an_unusable_beat_is_bridged_when_short():
    t = np.array([1.0, 2.0, 2.3, 3.0])
    rr = np.array([1000.0, 1000.0, 300.0, 1000.0])
    series = resample_hr(t, rr, usable=np.array([True, True, False, True]))
    assert series.get(9, 13) == pytest.approx([60, 60, 60, 60])


def test_a_partner_gone_quiet_is_filled_with_nan_and_late_data_cannot_rewrite_it():
    resampler = HrResampler()
    for t in (1.0, 2.0, 3.0):
        resampler.add_beat(t, 1000.0)
    resampler.mark_missing_until(10.0)
    assert resampler.series.end == 41
    assert np.isnan(resampler.series.get(13, 41)).all()
    resampler.add_beat(9.0, 1000.0)  # arrives late: nothing before the series end changes
    resampler.add_beat(11.0, 1000.0)
    assert np.isnan(resampler.series.get(13, 41)).all()
    assert np.isfinite(resampler.series.get(41, 45)).all()


def test_forgetting_keeps_memory_bounded_without_moving_indices():
    series = HrSeries()
    series.append(100, np.arange(50, dtype=float))
    series.forget_before(120)
    assert series.start == 120
    assert series.get(120, 123) == pytest.approx([20, 21, 22])
    assert np.isnan(series.get(110, 111)).all()


def test_a_long_series_reuses_its_buffer_and_keeps_every_sample():
    series = HrSeries()
    for first in range(0, 100_000, 5):
        series.append(first, np.arange(first, first + 5, dtype=float))
        series.forget_before(first - 500)
    assert series.start == 100_000 - 5 - 500
    assert (series.get(99_495, 100_000) == np.arange(99_495, 100_000)).all()
    assert series._buffer.size <= 2048  # bounded, not one array per append
    series.append(100_010, [1.0])  # a jump forward: NaN in between
    assert np.isnan(series.get(100_000, 100_010)).all()
    assert series.end == 100_011


def test_window_correlation_is_pearson_after_detrending():
    rng = np.random.default_rng(0)
    x = rng.normal(size=120)
    y = 0.5 * x + rng.normal(size=120) + np.linspace(0, 50, 120)  # a trend to be removed
    normalizer = WindowNormalizer(120, 4.0)
    a, b = normalizer.rows(np.concatenate([x, y]), 0, [0, 120])
    t = np.arange(120)
    expected = np.corrcoef(
        x - np.polyval(np.polyfit(t, x, 1), t), y - np.polyval(np.polyfit(t, y, 1), t)
    )[0, 1]
    assert float(a @ b) == pytest.approx(expected, abs=1e-12)


def test_flat_or_missing_windows_are_unusable():
    normalizer = WindowNormalizer(120, 4.0)
    series = np.concatenate([np.full(120, 70.0), np.linspace(60, 80, 120), np.full(120, np.nan)])
    rows = normalizer.rows(series, 0, [0, 120, 240])
    assert np.isnan(rows).all()  # constant, pure trend, missing


@pytest.mark.parametrize("n_rows", [1, 3, 16, 40])
def test_few_and_many_rows_are_normalised_alike(n_rows):
    rng = np.random.default_rng(n_rows)
    rows = 70 + rng.normal(size=(n_rows, 120)).cumsum(axis=1)
    rows[::3] = 65.0  # flat
    rows[1::4, 7] = np.nan  # a missing sample
    out = normalized_residuals(rows, window_basis(120, 4.0))
    usable = np.isfinite(rows).all(axis=1) & (np.arange(n_rows) % 3 != 0)
    assert (np.isfinite(out).all(axis=1) == usable).all()
    assert np.isnan(out[~usable]).all()
    assert np.einsum("ij,ij->i", out[usable], out[usable]) == pytest.approx(1.0)


def test_the_pacer_frequency_is_regressed_out_of_paced_windows():
    t = np.arange(240) / 4.0
    rng = np.random.default_rng(1)
    shared = 5.0 * np.sin(2 * math.pi * 0.1 * t)
    x, y = shared + rng.normal(size=240), shared + rng.normal(size=240)
    plain = WindowNormalizer(120, 4.0)
    paced = WindowNormalizer(120, 4.0, PacerTrack().with_change(0.0, 0.1))
    r_plain = float(np.prod(plain.rows(np.concatenate([x, y]), 0, [0, 240]), axis=0).sum())
    r_paced = float(np.prod(paced.rows(np.concatenate([x, y]), 0, [0, 240]), axis=0).sum())
    assert r_plain > 0.8
    assert abs(r_paced) < 0.25


def test_pacer_track_reports_rates_active_in_a_span():
    track = PacerTrack().with_change(100.0, 0.1).with_change(200.0, None).with_change(300.0, 0.09)
    assert track.rates_between(0.0, 100.0) == ()
    assert track.rates_between(90.0, 110.0) == (0.1,)
    assert track.rates_between(190.0, 310.0) == (0.09, 0.1)
    assert track.rates_between(210.0, 290.0) == ()
    assert track.changes_within(90.0, 110.0)
    assert not track.changes_within(100.0, 200.0)  # the ends are not inside
    assert not track.changes_within(210.0, 290.0)


@pytest.mark.parametrize("change_s", [0.0, 5.0, 20.0, 40.0])
def test_a_batch_of_windows_gets_each_window_its_own_pacer_basis(change_s):
    rng = np.random.default_rng(int(change_s))
    series = 70 + rng.normal(size=300).cumsum()
    normalizer = WindowNormalizer(120, 4.0, PacerTrack().with_change(change_s, 0.1))
    starts = np.arange(10, 90, 8)
    batch = normalizer.rows(series, 0, starts)
    one_by_one = np.vstack([normalizer.rows(series, 0, [s]) for s in starts])
    assert batch == pytest.approx(one_by_one)


def test_peak_picking_refines_the_lag_between_samples():
    lags = np.arange(-20, 21) / 4.0
    profile = fisher_z(0.8 * np.exp(-((lags - 1.1) ** 2)))  # true peak between 1.0 and 1.25 s
    peak = pick_peak(profile, 4.0)
    assert peak is not None
    assert peak.lag_s == pytest.approx(1.1, abs=0.05)
    assert peak.z == pytest.approx(fisher_z(np.array(0.8 * np.exp(-(0.1**2))))[()], rel=0.01)
    anti = pick_peak(-profile, 4.0)
    assert anti is not None
    assert anti.z < 0
    assert pick_peak(np.full(41, np.nan), 4.0) is None


def test_small_matmul_equals_matmul():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 120)), rng.normal(size=(120, 41))
    assert small_matmul(a, b) == pytest.approx(a @ b)
    out = np.full((300, 41), np.nan)
    assert small_matmul(a, b, out=out) is out
    assert (out == small_matmul(a, b)).all()


def test_peak_picking_takes_the_first_largest_finite_magnitude():
    profile = np.array([np.nan, 0.5, -2.0, 1.0, 2.0, np.inf, np.nan])
    peak = pick_peak(profile, 1.0)
    assert peak is not None
    assert peak.z == -2.0  # |z| ties: the first; inf and NaN are not peaks
    # Its neighbours are finite: the parabola through 0.5, 2.0, 1.0 moves it 0.1 right.
    assert peak.lag_s == pytest.approx(2 - 3 + 0.1)
    assert type(peak.z) is float
    edge = pick_peak(np.array([3.0, 1.0, np.nan]), 1.0)
    assert edge == pick_peak(np.array([3.0, 1.0, 0.0]), 1.0)
    assert edge is not None
    assert edge.lag_s == -1.0  # at the edge: no refinement


def test_fisher_z_into_an_array_is_the_same_as_without():
    r = np.array([-1.0, -0.5, 0.0, 0.3, 0.999999, 1.0, np.nan])
    expected = fisher_z(r)
    out = np.empty_like(r)
    assert fisher_z(r, out=out) is out
    assert np.array_equal(out, expected, equal_nan=True)
    assert np.isfinite(out[[0, 5]]).all()  # +-1 clipped inside (-1, 1)
    assert np.array_equal(fisher_z(r, out=r), expected, equal_nan=True)  # in place


def test_max_abs_of_a_stack_of_profiles():
    rng = np.random.default_rng(5)
    profiles = rng.normal(size=(30, 41))
    profiles[4, 7] = np.nan
    peaks = max_abs(profiles)
    assert peaks.shape == (30,)
    assert np.isnan(peaks[4])
    keep = np.arange(30) != 4
    assert (peaks[keep] == np.abs(profiles[keep]).max(axis=1)).all()
    assert max_abs(profiles[0]) == np.abs(profiles[0]).max()


@pytest.mark.parametrize("first", [0, 3, 14, 90, 97])
def test_ring_product_covers_only_held_entries_and_matches_the_whole_ring(first):
    rng = np.random.default_rng(first)
    ring = Ring(100, (120,))
    ring.put(0, rng.normal(size=(100, 120)))
    ring.put(100, rng.normal(size=(30, 120)))  # 100..129 now held, 0..29 overwritten
    vector = rng.normal(size=120)
    whole = ring.rows @ vector
    last = first + 37
    got = ring.product(first, last, vector)
    numbers = np.arange(first, last + 1)
    held = (numbers >= 30) & (numbers < 130)  # the entries still held
    assert np.isnan(got[~held]).all()
    # The same values as the product over the whole ring, to the last bit.
    assert (got[held] == whole[numbers[held] % 100]).all()


@pytest.mark.parametrize("m", [2, 4, 6, 12])
def test_derangements_move_every_segment_and_are_distinct(m):
    perms = derangements(m, 500, np.random.default_rng(3))
    counts = {2: 1, 4: 9, 6: 265}
    assert perms.shape == (counts.get(m, 500), m)
    assert not (perms == np.arange(m)).any()
    assert len({p.tobytes() for p in perms}) == perms.shape[0]
    assert (np.sort(perms, axis=1) == np.arange(m)).all()


def test_derangements_are_seeded():
    a = derangements(20, 100, np.random.default_rng(4))
    b = derangements(20, 100, np.random.default_rng(4))
    c = derangements(20, 100, np.random.default_rng(5))
    assert (a == b).all()
    assert not (a == c).all()


def test_verdict_compares_the_index_with_its_null():
    null = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    v = verdict(6.0, null)
    assert v is not None
    assert v.effect_size == pytest.approx((6.0 - 3.0) / np.std([1, 2, 3, 4, 5], ddof=1))
    assert v.p_value == pytest.approx(1 / 6)
    assert v.n_surrogates == 5
    assert verdict(3.0, null).p_value == pytest.approx(4 / 6)  # type: ignore[union-attr]
    assert verdict(1.0, np.ones(10)) is None
    assert verdict(1.0, np.array([np.nan, 2.0])) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step_s": 0.5}, "step_s"),
        ({"step_s": 7.0}, "step_s"),
        ({"max_lag_s": 15.0}, "max_lag_s"),
        ({"segment_s": 20.0}, "segment_s"),
        ({"null_min_shift_s": 10.0}, "null_min_shift_s"),
        ({"n_surrogates": 100}, "n_surrogates"),
        ({"effect_size_off": 5.0}, "effect_size_off"),
        ({"step_s": 1.5, "fs_hz": 3.0}, "whole number"),
        ({"null_shift_stride": 0}, "null_shift_stride"),
        ({"min_surrogates": 50}, "can never give p <= alpha"),
        ({"null_shift_stride": 3}, "fewer than min_surrogates"),
        ({"alpha": float("nan")}, "alpha"),
    ],
)
def test_bad_synchrony_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SynchronyConfig(**kwargs)


@pytest.mark.parametrize("step_s", [1.0, 2.0, 3.0, 4.0, 5.0])
def test_steps_of_one_to_five_seconds_are_accepted(step_s):
    config = SynchronyConfig(step_s=step_s)
    assert config.step_n == round(step_s * 4)
    assert config.windows(config.segment_s) * step_s >= config.window_s


def test_a_verdict_keeps_every_other_field_of_the_state():
    from attune.dyad.state import SynchronyState, SynchronyStatus, with_verdict  # noqa: PLC0415
    from attune.dyad.wcc import Peak  # noqa: PLC0415

    state = SynchronyState(12.0, SynchronyStatus.WARMING_UP, 0.9, window_z=0.4, window_lag_s=-1.5)
    result = verdict(3.0, np.array([1.0, 2.0, 1.5, 0.5]))
    assert result is not None
    out = with_verdict(
        state, result, Peak(-3.0, 2.0), above_chance=True, lead_threshold_s=0.5, pacer_removed=True
    )
    expected = dataclasses.replace(
        state,
        status=SynchronyStatus.OK,
        index=result.index,
        lag_s=2.0,
        in_phase=False,
        null_mean=result.null_mean,
        null_sd=result.null_sd,
        effect_size=result.effect_size,
        p_value=result.p_value,
        n_surrogates=result.n_surrogates,
        above_chance=True,
        leader=Leader.THERAPIST,
        pacer_removed=True,
    )
    assert out == expected
