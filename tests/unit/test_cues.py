"""The cue policy: rules fire on the right conditions, once (hysteresis, hold, interval), pause
while a signal is lost, and explain themselves."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from attune.cues import Audience, CueKind, CuePolicy, ParticipantSnapshot, default_cue_config
from attune.dyad import SynchronyState, SynchronyStatus
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    Coupling,
    DyadSimulator,
    Role,
    therapy_session,
)
from attune.sim.feed import cue_inputs, live_synchrony


def snap(t_s, calm, *, ok=True, confidence=1.0):
    return ParticipantSnapshot(t_s, float(np.clip(calm, 0.0, 100.0)), confidence, 70.0, 3.5, ok)


def in_step(t_s, *, above=True, in_phase=True):
    return SynchronyState(
        t_s,
        SynchronyStatus.OK,
        1.0,
        index=0.6,
        lag_s=2.0,
        in_phase=in_phase,
        effect_size=6.0,
        p_value=0.005,
        n_surrogates=200,
        above_chance=above,
    )


def nothing(t_s):
    del t_s


def run(policy, therapist, client, synchrony=nothing, seconds=300):
    """Feed one update a second: ``therapist``/``client`` map time to a snapshot (or None)."""
    cues = []
    for t in range(1, seconds + 1):
        cues += policy.update(float(t), therapist(t), client(t), synchrony(t))
    return cues


def steady_therapist(t):
    return snap(t, 60.0)


def falling_client(start_s=60.0, rate_per_min=-15.0, level=48.0):
    def client(t):
        return snap(t, level if t < start_s else level + rate_per_min * (t - start_s) / 60.0)

    return client


def no_hysteresis(config):
    rules = {
        f.name: dataclasses.replace(getattr(config, f.name), hold_s=0.0, min_interval_s=0.0)
        for f in dataclasses.fields(config)
        if f.name != "general"
    }
    rules["client_arousal_rising"] = dataclasses.replace(
        rules["client_arousal_rising"],
        slope_off_per_min=config.client_arousal_rising.slope_on_per_min,
    )
    return dataclasses.replace(config, **rules)


def test_client_arousal_rising_while_therapist_steady_prompts_the_therapist_once():
    cues = run(CuePolicy(), steady_therapist, falling_client(), seconds=180)
    assert [c.kind for c in cues] == [CueKind.CLIENT_AROUSAL_RISING]
    cue = cues[0]
    assert cue.audience is Audience.THERAPIST
    assert "lengthen your exhale" in cue.text
    assert cue.reason_value("client_slope_per_min") == pytest.approx(-15.0, abs=0.5)
    assert cue.reason_value("therapist_calm") == 60.0
    hold = default_cue_config().client_arousal_rising.hold_s
    # The 30-s slope reaches -10/min about 20 s into the fall; then the hold time.
    assert 60.0 + hold < cue.t_s < 60.0 + 30.0 + hold


def test_no_client_prompt_while_the_therapist_is_falling_too_but_a_self_regulation_prompt():
    def therapist(t):
        return snap(t, 45.0 if t < 60 else 45.0 - 20.0 * (t - 60) / 60.0)

    cues = run(CuePolicy(), therapist, falling_client(), seconds=150)
    assert [c.kind for c in cues] == [CueKind.THERAPIST_AROUSAL_RISING]
    assert cues[0].audience is Audience.THERAPIST
    assert cues[0].reason_value("therapist_slope_per_min") == pytest.approx(-20.0, abs=0.5)


def test_the_condition_must_hold_for_the_hold_time():
    def client(t):  # falls at -20/min for 30 s only
        return snap(t, 48.0 - 20.0 * min(max(t - 60, 0), 30) / 60.0)

    config = default_cue_config()
    rule = config.client_arousal_rising
    long_hold = dataclasses.replace(
        config, client_arousal_rising=dataclasses.replace(rule, hold_s=60.0)
    )
    assert run(CuePolicy(long_hold), steady_therapist, client, seconds=200) == []
    assert len(run(CuePolicy(config), steady_therapist, client, seconds=200)) == 1


def hovering_client(t):
    """Calm falling at -10/min (the "on" threshold) with a wobble: the 30-s slope swings
    between about -13.5 and -6.5/min, across "on" but never back to "off" (-3/min)."""
    return snap(t, 48.0 - 10.0 * t / 60.0 + 0.7 * math.sin(2 * math.pi * t / 40.0))


def test_hysteresis_turns_threshold_hovering_into_one_cue():
    with_hysteresis = run(CuePolicy(), steady_therapist, hovering_client, seconds=200)
    without = run(
        CuePolicy(no_hysteresis(default_cue_config())),
        steady_therapist,
        hovering_client,
        seconds=200,
    )
    assert len([c for c in with_hysteresis if c.kind is CueKind.CLIENT_AROUSAL_RISING]) == 1
    assert len([c for c in without if c.kind is CueKind.CLIENT_AROUSAL_RISING]) >= 3


def test_the_minimum_interval_holds_back_a_repeat():
    falls = ((40, 80), (110, 150), (260, 300))  # flat (re-arming) in between

    def client(t):
        fallen_s = sum(min(max(t - a, 0), b - a) for a, b in falls)
        return snap(t, 48.0 - 20.0 * fallen_s / 60.0)

    cues = run(CuePolicy(), steady_therapist, client, seconds=320)
    times = [c.t_s for c in cues if c.kind is CueKind.CLIENT_AROUSAL_RISING]
    interval = default_cue_config().client_arousal_rising.min_interval_s
    assert len(times) == 2  # the second fall came too soon after the first cue; the third did not
    assert times[1] - times[0] >= interval
    assert times[0] < falls[1][0]
    assert times[1] > falls[2][0]


def test_signal_loss_fires_once_and_pauses_everything_else():
    def client(t):  # falling from the moment the strap slips
        return snap(t, 48.0 - 15.0 * max(t - 30, 0) / 60.0, ok=not 30 <= t < 90)

    policy = CuePolicy()
    cues, paused = [], []
    for t in range(1, 101):
        cues += policy.update(float(t), steady_therapist(t), client(t))
        paused.append(policy.paused)
    assert [c.kind for c in cues] == [CueKind.SIGNAL_LOST]
    assert cues[0].t_s == pytest.approx(30.0 + default_cue_config().signal_lost.hold_s)
    assert cues[0].reason_value("client_signal_ok") is False
    assert cues[0].reason_value("therapist_signal_ok") is True
    assert paused[40]
    assert not paused[95]
    # The client kept falling all along, but nothing is inferred across the gap: the slope
    # needs fresh readings after the signal returns before the rule can fire.


def test_stale_readings_count_as_signal_lost_but_no_reading_yet_is_just_warming_up():
    frozen = snap(10.0, 60.0)
    cues = run(CuePolicy(), steady_therapist, lambda t: frozen if t >= 10 else None, seconds=40)
    assert [c.kind for c in cues] == [CueKind.SIGNAL_LOST]
    stale_after = default_cue_config().general.stale_after_s
    assert cues[0].t_s == pytest.approx(
        10.0 + stale_after + 1 + default_cue_config().signal_lost.hold_s
    )
    assert run(CuePolicy(), steady_therapist, nothing, seconds=60) == []


def test_low_confidence_readings_are_not_acted_on():
    def client(t):
        return dataclasses.replace(falling_client()(t), calm_confidence=0.2)

    assert run(CuePolicy(), steady_therapist, client, seconds=180) == []


@pytest.mark.parametrize(
    ("above", "in_phase", "fires"),
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_attuned_needs_both_calm_and_in_step(above, in_phase, fires):
    cues = run(
        CuePolicy(),
        lambda t: snap(t, 70.0),
        lambda t: snap(t, 66.0),
        lambda t: in_step(t, above=above, in_phase=in_phase),
        seconds=60,
    )
    assert [c.kind for c in cues] == ([CueKind.ATTUNED] if fires else [])
    if fires:
        assert cues[0].t_s == pytest.approx(1.0 + default_cue_config().attuned.hold_s)
        assert cues[0].reason_value("synchrony_effect_size") == 6.0


def test_recovery_after_a_low_is_fed_back_to_the_client():
    def client(t):
        return snap(t, 25.0 if t < 60 else 25.0 + 12.0 * (t - 60) / 60.0)

    cues = run(CuePolicy(), steady_therapist, client, seconds=160)
    assert [c.kind for c in cues] == [CueKind.CLIENT_RECOVERING]
    assert cues[0].audience is Audience.CLIENT
    assert cues[0].reason_value("client_lowest_calm") == 25.0
    # Rising from a comfortable level is not a recovery.
    rising_high = run(
        CuePolicy(), steady_therapist, lambda t: snap(t, 60.0 + 12.0 * t / 60.0), seconds=150
    )
    assert rising_high == []


def test_a_disabled_rule_never_fires():
    config = default_cue_config()
    config = dataclasses.replace(
        config,
        client_arousal_rising=dataclasses.replace(config.client_arousal_rising, enabled=False),
    )
    assert run(CuePolicy(config), steady_therapist, falling_client(), seconds=180) == []


def test_a_scripted_session_gets_cues_where_the_script_says():
    script = therapy_session()
    for seed in (0, 1):
        recording = DyadSimulator(
            script, THERAPIST_PROFILE, CLIENT_PROFILE, Coupling(lag_s=3.0, strength=0.7), seed=seed
        ).run()
        states = live_synchrony(recording)
        policy, cues, k = CuePolicy(), [], 0
        for t_s, snaps in cue_inputs(recording):
            while k + 1 < len(states) and states[k + 1].t_s <= t_s:
                k += 1
            synchrony = states[k] if states[k].t_s <= t_s else None
            cues += policy.update(t_s, snaps[Role.THERAPIST], snaps[Role.CLIENT], synchrony)
        assert all(a.t_s <= b.t_s for a, b in itertools.pairwise(cues))
        assert all(c.reason for c in cues)
        phase_of = {c: script.phases[script.phase_index_at(c.t_s)].name for c in cues}
        arousal = [c for c in cues if c.kind is CueKind.CLIENT_AROUSAL_RISING]
        assert any(phase_of[c] in ("client arousal", "grounding") for c in arousal)
        lost = [c for c in cues if c.kind is CueKind.SIGNAL_LOST]
        assert len(lost) == 1
        assert 400.0 <= lost[0].t_s <= 410.0
        assert len(cues) < 15


def test_calm_history_keeps_its_window_and_fits_the_trend_over_long_sessions():
    from attune.cues.policy import _History  # noqa: PLC0415 - the policy's own helper

    history = _History(keep_s=120.0)
    rng = np.random.default_rng(8)
    times = np.arange(0.0, 2000.0, 1.0)
    calms = 50 + 0.2 * times % 40 + rng.normal(0, 1, times.size)
    for t_s, calm in zip(times, calms, strict=True):
        history.add(float(t_s), float(calm))
        history.add(float(t_s), 0.0)  # the same reading again: ignored
    recent = times >= times[-1] - 30.0
    slope = history.slope_per_min(float(times[-1]), 30.0)
    assert slope == pytest.approx(np.polyfit(times[recent], calms[recent], 1)[0] * 60.0)
    kept = times >= times[-1] - 120.0
    assert history.lowest_since(0.0) == pytest.approx(calms[kept].min())
    assert history.lowest_since(times[-1] + 1.0) is None
    assert len(history.times) < 120 + 300  # old readings are dropped, not kept for ever
    history.clear()
    assert history.slope_per_min(float(times[-1]), 30.0) is None
