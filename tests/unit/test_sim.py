"""The physiological simulator: plausible, seeded, and doing what its traits say."""

from __future__ import annotations

import numpy as np
import pytest

from attune.errors import ConfigError
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    ContactLoss,
    Coupling,
    DyadSimulator,
    PacedBreathing,
    PersonPhase,
    PersonProfile,
    Phase,
    Role,
    SessionScript,
    therapy_session,
)


def steady(
    seconds: float, person: PersonPhase, pacer: PacedBreathing | None = None
) -> SessionScript:
    return SessionScript((Phase("steady", seconds, person, person, pacer=pacer),))


def rr_between(recording, role: Role, start_s: float, end_s: float, *, clean: bool = True):
    beats = [b for b in recording.beats[role] if start_s <= b.t_s < end_s]
    if clean:
        # Leave out ectopic beats and the compensatory interval after each.
        flagged = {i for i, b in enumerate(beats) if b.ectopic}
        flagged |= {i + 1 for i in flagged}
        beats = [b for i, b in enumerate(beats) if i not in flagged]
    return np.array([b.rr_ms for b in beats])


def rmssd(rr_ms):
    return float(np.sqrt(np.mean(np.diff(rr_ms) ** 2)))


def test_same_seed_same_beats_and_different_seed_different_beats():
    a = DyadSimulator(therapy_session(), seed=7).run()
    b = DyadSimulator(therapy_session(), seed=7).run()
    c = DyadSimulator(therapy_session(), seed=8).run()
    assert a.beats == b.beats
    assert a.beats[Role.CLIENT] != c.beats[Role.CLIENT]


def test_beats_are_plausible_and_tile_time():
    recording = DyadSimulator(therapy_session(), THERAPIST_PROFILE, CLIENT_PROFILE, seed=1).run()
    for role in Role:
        t_s, rr_ms = recording.beat_times_s(role), recording.rr_ms(role)
        assert rr_ms.min() > 300
        assert rr_ms.max() < 2000
        # Each interval is the time since the previous beat: no beat is lost or invented.
        assert np.allclose(np.diff(t_s) * 1000.0, rr_ms[1:])
        assert t_s[-1] <= recording.script.duration_s


def test_resting_values_match_the_profile():
    profile = PersonProfile(hr_bpm=70.0, ectopic_per_beat=0.0)
    recording = DyadSimulator(steady(600.0, PersonPhase(0.0)), profile, profile, seed=3).run()
    rr = rr_between(recording, Role.CLIENT, 60.0, 600.0)
    assert 60000.0 / rr.mean() == pytest.approx(70.0, abs=3.0)
    assert 15.0 < rmssd(rr) < 80.0  # a healthy adult at rest


def test_arousal_raises_hr_and_lowers_rmssd():
    profile = PersonProfile(ectopic_per_beat=0.0)
    script = SessionScript(
        (
            Phase("calm", 300.0, PersonPhase(0.0), PersonPhase(0.0)),
            Phase("aroused", 300.0, PersonPhase(0.0), PersonPhase(1.0)),
        )
    )
    recording = DyadSimulator(script, profile, profile, seed=4).run()
    calm = rr_between(recording, Role.CLIENT, 120.0, 300.0)
    aroused = rr_between(recording, Role.CLIENT, 420.0, 600.0)
    assert 60000.0 / aroused.mean() - 60000.0 / calm.mean() > 0.7 * profile.arousal_hr_bpm
    assert rmssd(aroused) < 0.6 * rmssd(calm)
    truth = recording.truth[Role.CLIENT]
    assert truth.arousal[truth.at(250.0)] < 0.05
    assert truth.arousal[truth.at(590.0)] > 0.95
    assert truth.breaths_per_min[truth.at(590.0)] > truth.breaths_per_min[truth.at(250.0)]


@pytest.mark.parametrize("resonance_bpm", [4.5, 5.5, 6.5])
def test_rsa_gain_peaks_at_the_resonance_rate(resonance_bpm):
    profile = PersonProfile(resonance_bpm=resonance_bpm)
    rates = np.linspace(3.0, 9.0, 601)
    gain = np.abs(profile.rsa_gain(rates / 60.0))
    assert rates[np.argmax(gain)] == pytest.approx(resonance_bpm, abs=0.25)


def test_paced_breathing_at_resonance_swings_hr_more_than_off_resonance():
    profile = PersonProfile(resonance_bpm=5.0, ectopic_per_beat=0.0)
    swings = {}
    for rate in (5.0, 7.0):
        script = steady(300.0, PersonPhase(0.1, paced=True), PacedBreathing(rate))
        recording = DyadSimulator(script, profile, profile, seed=5).run()
        rr = rr_between(recording, Role.CLIENT, 60.0, 300.0)
        swings[rate] = float(np.std(rr))
    assert swings[5.0] > 1.3 * swings[7.0]


def test_ectopic_beats_come_with_a_compensatory_pause():
    profile = PersonProfile(ectopic_per_beat=0.05)
    recording = DyadSimulator(steady(600.0, PersonPhase(0.0)), profile, profile, seed=6).run()
    beats = recording.beats[Role.CLIENT]
    # Ectopic beats with sinus beats around them (the one before not itself a pause).
    ectopic = [
        i
        for i in range(2, len(beats) - 1)
        if beats[i].ectopic and not any(beats[j].ectopic for j in (i - 2, i - 1, i + 1))
    ]
    assert len(ectopic) > 10
    for i in ectopic:
        before, early, after = beats[i - 1].rr_ms, beats[i].rr_ms, beats[i + 1].rr_ms
        assert early < 0.8 * before  # premature
        # Premature plus compensatory interval span two sinus intervals.
        assert early + after == pytest.approx(2 * before, rel=0.25)


def test_the_follower_tracks_the_leader_with_the_lag():
    script = steady(900.0, PersonPhase(0.2, talking=True))
    correlations = {}
    for coupling in (Coupling(Role.THERAPIST, 4.0, 0.9), None):
        recording = DyadSimulator(script, THERAPIST_PROFILE, CLIENT_PROFILE, coupling, seed=2).run()
        grid = np.arange(60.0, 880.0, 0.25)
        hr = {
            role: np.interp(grid, recording.beat_times_s(role), 60000.0 / recording.rr_ms(role))
            for role in Role
        }
        shift = 16  # 4 s at 4 Hz
        correlations[coupling is None] = np.corrcoef(
            hr[Role.THERAPIST][:-shift], hr[Role.CLIENT][shift:]
        )[0, 1]
    assert correlations[False] > 0.3
    assert abs(correlations[True]) < 0.15


def test_looping_streams_repeat_the_script_and_its_contact_losses():
    script = SessionScript(
        (Phase("only", 60.0),), contact_losses=(ContactLoss(Role.CLIENT, 10.0, 5.0),)
    )
    dyad = DyadSimulator(script, seed=1, loop=True)
    beats = dyad.beats(Role.THERAPIST)
    times = [next(beats).t_s for _ in range(300)]
    assert times[-1] > 3 * script.duration_s  # never ends
    assert not dyad.contact_ok(Role.CLIENT, 72.0)  # 12 s into the second loop
    assert dyad.contact_ok(Role.CLIENT, 76.0)
    assert dyad.contact_ok(Role.THERAPIST, 72.0)


def test_streamed_beats_equal_the_offline_run():
    script = therapy_session()
    offline = DyadSimulator(script, seed=9).run()
    streamed = list(DyadSimulator(script, seed=9).beats(Role.CLIENT))
    assert tuple(streamed) == offline.beats[Role.CLIENT]


def test_truth_names_the_phase_of_every_second():
    script = therapy_session()
    recording = DyadSimulator(script, seed=1).run()
    truth = recording.truth[Role.CLIENT]
    assert truth.t_s.size == pytest.approx(script.duration_s, abs=1)
    names = [p.name for p in script.phases]
    assert names[truth.phase_index[truth.at(500.0)]] == "client arousal"
    assert truth.paced[truth.at(900.0)]
    assert not truth.paced[truth.at(100.0)]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PersonProfile(hr_bpm=20.0), "hr_bpm"),
        (lambda: PersonProfile(resonance_bpm=float("nan")), "resonance_bpm"),
        (lambda: PersonPhase(arousal=1.5), "arousal"),
        (lambda: PacedBreathing(breaths_per_min=2.0), "paced breathing rate"),
        (lambda: Phase("x", 0.0), "duration_s"),
        (lambda: Phase("x", 10.0, PersonPhase(paced=True)), "pacer"),
        (lambda: SessionScript(()), "at least one phase"),
        (
            lambda: SessionScript((Phase("x", 10.0),), (ContactLoss(Role.CLIENT, 8.0, 5.0),)),
            "end within",
        ),
        (lambda: Coupling(strength=1.5), "strength"),
        (lambda: Coupling(lag_s=-1.0), "lag_s"),
        (lambda: DyadSimulator(therapy_session(), loop=True).run(), "no end"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_error(build, message):
    with pytest.raises(ConfigError, match=message):
        build()
