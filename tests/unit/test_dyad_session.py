"""Whole-session synchrony with at least 500 segment-shuffle surrogates, on simulated dyads."""

from __future__ import annotations

import numpy as np
import pytest

from attune.dyad import Leader, SynchronyConfig, SynchronyStatus
from attune.dyad.session import BeatSeries, session_synchrony
from attune.dyad.wcc import PacerTrack
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    Coupling,
    DyadSimulator,
    Role,
    therapy_session,
)
from attune.sim.feed import pacer_changes


def run(coupling, seed, **kwargs):
    script = therapy_session()
    recording = DyadSimulator(script, THERAPIST_PROFILE, CLIENT_PROFILE, coupling, seed=seed).run()
    # Ectopic beats are flagged (as the artefact screen would) and beats during the script's
    # contact loss are missing (as they are from the strap).
    series = {
        role: BeatSeries(
            recording.beat_times_s(role),
            recording.rr_ms(role),
            usable=np.array(
                [not b.ectopic and script.contact_ok(role, b.t_s) for b in recording.beats[role]]
            ),
        )
        for role in Role
    }
    pacer = PacerTrack()
    for t_s, rate in pacer_changes(script):
        pacer = pacer.with_change(t_s, None if rate is None else rate / 60.0)
    return session_synchrony(
        series[Role.THERAPIST], series[Role.CLIENT], pacer=pacer, seed=seed, **kwargs
    )


@pytest.mark.parametrize(("leader", "sign"), [(Role.THERAPIST, 1.0), (Role.CLIENT, -1.0)])
def test_a_known_3_s_lag_is_recovered_within_1_s(leader, sign):
    for seed in range(5):
        summary = run(Coupling(leader, 3.0, 0.7), seed).summary
        assert summary.above_chance
        assert summary.lag_s == pytest.approx(sign * 3.0, abs=1.0)
        assert summary.leader is Leader(leader.value)
        assert summary.in_phase
        assert summary.n_surrogates >= 500


def test_independent_sessions_are_not_flagged():
    seeds = range(40)
    flagged = sum(run(None, seed).summary.above_chance for seed in seeds)
    assert flagged <= 0.05 * len(seeds)


def test_the_result_is_seeded_and_per_window_values_cover_the_session():
    config = SynchronyConfig(n_surrogates=600)
    a, b = run(Coupling(), 3, config=config), run(Coupling(), 3, config=config)
    assert a.summary == b.summary
    assert a.summary.n_surrogates == 600
    assert np.array_equal(a.window_z, b.window_z, equal_nan=True)
    assert a.window_end_s[0] < 60.0
    assert a.window_end_s[-1] > 1150.0
    assert np.allclose(np.diff(a.window_end_s), SynchronyConfig().step_s)
    # The contact loss at 400 s leaves windows without a value; the rest have one.
    assert np.isnan(a.window_z[(a.window_end_s > 410.0) & (a.window_end_s < 430.0)]).all()
    assert np.isfinite(a.window_z).mean() > 0.9
    assert a.lags_s[0] == -5.0
    assert a.lags_s[-1] == 5.0
    assert abs(a.lags_s[np.argmax(np.abs(a.mean_profile_z))] - 3.0) <= 0.5


def test_too_short_a_recording_gives_no_verdict():
    t = np.arange(1, 60) * 0.8
    beats = BeatSeries(t, np.full(t.size, 800.0) + 20 * np.sin(t))
    result = session_synchrony(beats, beats)
    assert result.summary.status is not SynchronyStatus.OK
    assert not result.summary.above_chance
    nothing = session_synchrony(BeatSeries(np.empty(0), np.empty(0)), beats)
    assert nothing.summary.status is SynchronyStatus.WARMING_UP
    assert nothing.window_z.size == 0
