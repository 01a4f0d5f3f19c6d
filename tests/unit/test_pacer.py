"""The breathing pacer: validated settings, the phase function the browser mirrors, events."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from attune.cues import Pacer, PacerChange, PacerSettings, Stage, pacer_phase
from attune.errors import ConfigError


@pytest.mark.parametrize("rate", [4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0])
def test_rates_from_4_to_7_in_half_steps_are_accepted(rate):
    assert PacerSettings(rate).period_s == pytest.approx(60.0 / rate)


@pytest.mark.parametrize("rate", [3.5, 7.5, 6.3, 0.0, -6.0, float("nan"), float("inf")])
def test_other_rates_are_refused_with_the_allowed_range(rate):
    with pytest.raises(ConfigError, match=r"4-7 breaths/min in steps of 0\.5"):
        PacerSettings(rate)


@pytest.mark.parametrize("ratio", [0.5, 3.5, float("nan")])
def test_out_of_range_exhale_ratios_are_refused(ratio):
    with pytest.raises(ConfigError, match="exhale ratio"):
        PacerSettings(6.0, ratio)


def test_a_breath_is_an_inhale_then_a_longer_exhale():
    settings = PacerSettings(6.0, 1.5)  # 10 s: 4 s in, 6 s out
    assert settings.inhale_fraction == pytest.approx(0.4)
    start = pacer_phase(settings, 100.0, 100.0)
    assert (start.stage, start.progress, start.volume, start.breath) == (Stage.INHALE, 0.0, 0.0, 0)
    mid_in = pacer_phase(settings, 100.0, 102.0)
    assert mid_in.stage is Stage.INHALE
    assert mid_in.progress == pytest.approx(0.5)
    top = pacer_phase(settings, 100.0, 104.0)
    assert top.stage is Stage.EXHALE
    assert top.progress == pytest.approx(0.0)
    assert top.volume == pytest.approx(1.0)
    mid_out = pacer_phase(settings, 100.0, 107.0)
    assert mid_out.stage is Stage.EXHALE
    assert mid_out.progress == pytest.approx(0.5)
    assert pacer_phase(settings, 100.0, 110.0).breath == 1


def test_volume_is_continuous_and_periodic():
    settings = PacerSettings(5.5, 2.0)
    t = np.arange(0.0, 60.0, 0.01)
    volume = np.array([pacer_phase(settings, 0.0, x).volume for x in t])
    assert np.abs(np.diff(volume)).max() < 0.01
    assert volume.min() >= 0.0
    assert volume.max() <= 1.0
    later = np.array([pacer_phase(settings, 0.0, x + settings.period_s).volume for x in t[:500]])
    assert later == pytest.approx(volume[:500], abs=1e-9)


def test_a_change_waits_for_the_end_of_the_breath():
    pacer = Pacer()
    started = pacer.start(10.0, PacerSettings(6.0))
    assert started.change is PacerChange.STARTED
    assert started.effective_s == 10.0
    changed = pacer.change(23.0, PacerSettings(5.0, 1.0))
    assert changed.change is PacerChange.CHANGED
    assert changed.effective_s == pytest.approx(30.0)  # breaths at 10, 20, 30 s
    before = pacer.phase_at(29.9)
    assert before is not None
    assert before.stage is Stage.EXHALE
    after = pacer.phase_at(30.0)
    assert after is not None
    assert (after.stage, after.breath) == (Stage.INHALE, 0)
    assert pacer.phase_at(36.0).stage is Stage.EXHALE  # type: ignore[union-attr]


def test_a_change_on_a_breath_boundary_applies_at_once_and_a_newer_one_replaces_a_waiting_one():
    pacer = Pacer()
    pacer.start(0.0, PacerSettings(6.0))
    assert pacer.change(20.0, PacerSettings(5.0)).effective_s == pytest.approx(20.0)
    pacer.change(25.0, PacerSettings(4.0))
    pacer.change(26.0, PacerSettings(7.0))
    assert [e.settings.breaths_per_min for e in pacer.events if e.settings] == [6.0, 5.0, 7.0]
    assert pacer.active_at(32.0).settings == PacerSettings(7.0)  # type: ignore[union-attr]


def test_stop_is_immediate_and_stopping_a_stopped_pacer_is_nothing():
    pacer = Pacer()
    assert pacer.stop(0.0) is None
    pacer.start(0.0, PacerSettings(6.0))
    pacer.change(3.0, PacerSettings(4.0))  # waits for 10 s
    stopped = pacer.stop(5.0)
    assert stopped is not None
    assert stopped.settings is None
    assert pacer.phase_at(5.0) is None
    assert pacer.phase_at(12.0) is None
    assert pacer.stop(6.0) is None


def test_replaying_the_events_gives_the_same_phases():
    live = Pacer()
    live.start(0.0, PacerSettings(6.0))
    live.change(14.0, PacerSettings(4.5, 2.0))
    live.stop(80.0)
    replay = Pacer()
    for event in live.events:
        replay.apply(event)
    for t in np.arange(0.0, 90.0, 0.7):
        assert replay.phase_at(t) == live.phase_at(t)


def test_events_are_frozen_and_commands_must_come_in_order():
    pacer = Pacer()
    event = pacer.start(5.0, PacerSettings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.t_s = 1.0  # type: ignore[misc]
    with pytest.raises(ConfigError, match="time order"):
        pacer.change(4.0, PacerSettings(5.0))
