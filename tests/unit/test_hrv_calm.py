"""The calm index (hrv-science.md §3.2): direction and latency on simulated arousal, recovery
and vagal change; baseline learning and stored baselines; hysteresis; freezing; confidence."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import pytest

from attune.errors import DataError
from attune.hrv.calm import CalmBand, CalmBaseline, CalmConfig, CalmReading, CalmState, CalmTracker
from attune.hrv.engine import ParticipantEngine
from tests.unit.hrv_support import Phase, beats_from, run_engine, simulate_rr

REST = Phase(360, 70.0, rsa_ms=40.0, breath_hz=0.25, noise_ms=10.0)
AROUSED = Phase(180, 88.0, rsa_ms=12.0, breath_hz=0.3, noise_ms=6.0)
RECOVERY = Phase(300, 70.0, rsa_ms=40.0, breath_hz=0.25, noise_ms=10.0)
AROUSAL_AT, RECOVERY_AT = 360.0, 540.0


def z_of(reading: CalmReading) -> float:
    """The smoothed composite z behind a reading (the display is its logistic)."""
    assert reading.calm is not None
    return math.log(reading.calm / (100.0 - reading.calm))


def at(readings: list[CalmReading], t_s: float) -> CalmReading:
    """The last reading published at or before ``t_s``."""
    return [r for r in readings if r.t_s <= t_s][-1]


@pytest.fixture(scope="module", params=[1, 2, 3])
def episode(request) -> list[CalmReading]:
    rr = simulate_rr([REST, AROUSED, RECOVERY], seed=request.param, ramp_s=20.0)
    return run_engine(beats_from(rr)).calm


def test_the_baseline_is_learnt_first(episode) -> None:
    learning = [r for r in episode if r.state is CalmState.LEARNING]
    assert learning
    assert all(r.calm is None and r.confidence == 0 for r in learning)
    progress = [r.baseline_progress for r in learning]
    assert progress == sorted(progress)
    first_live = next(r for r in episode if r.state is CalmState.LIVE)
    # The window is usable after 30 s; the baseline takes 180 s more.
    assert 200.0 <= first_live.t_s <= 230.0
    resting = [r for r in episode if first_live.t_s <= r.t_s < AROUSAL_AT]
    assert {r.band for r in resting} == {CalmBand.NEUTRAL}


def test_arousal_lowers_the_index_within_the_hr_latency(episode) -> None:
    # §3.2: about 10-20 s for heart-rate driven changes.
    before = at(episode, AROUSAL_AT)
    after = at(episode, AROUSAL_AT + 20.0)
    assert z_of(after) <= z_of(before) - 1.0
    assert after.calm <= before.calm - 15.0
    assert at(episode, AROUSAL_AT + 45.0).band is CalmBand.AROUSED


def test_recovery_raises_the_index_within_the_vagal_latency(episode) -> None:
    # §3.2: 30-45 s for changes carried by RMSSD; here HR and RMSSD recover together.
    low = at(episode, RECOVERY_AT)
    assert low.band is CalmBand.AROUSED
    assert z_of(at(episode, RECOVERY_AT + 45.0)) >= z_of(low) + 1.0
    assert at(episode, RECOVERY_AT + 120.0).band is CalmBand.NEUTRAL


def test_a_purely_vagal_rise_reads_as_calmer() -> None:
    # Same heart rate, RSA from +-20 to +-60 ms (slow breathing): RMSSD alone moves.
    rr = simulate_rr(
        [Phase(360, 65.0, 20.0, 0.1, 8.0), Phase(300, 65.0, 60.0, 0.1, 8.0)], seed=4, ramp_s=20.0
    )
    readings = run_engine(beats_from(rr)).calm
    before = at(readings, 360.0)
    assert z_of(at(readings, 405.0)) >= z_of(before) + 1.0
    assert at(readings, 450.0).band is CalmBand.CALM


def test_readings_come_at_most_once_a_second() -> None:
    readings = run_engine(beats_from(simulate_rr([REST], seed=5))).calm
    times = [r.t_s for r in readings]
    assert all(b - a > 0.0 for a, b in itertools.pairwise(times))
    assert len({math.floor(t) for t in times}) == len(times)


def test_a_stored_baseline_is_used_from_the_start_and_kept() -> None:
    stored = CalmBaseline(
        hr_bpm=70.0, hr_scale_bpm=3.0, ln_rmssd=3.4, ln_rmssd_scale=0.2, n_samples=180
    )
    engine = ParticipantEngine(baseline=stored)
    readings = run_engine(beats_from(simulate_rr([Phase(120, 70.0)], seed=6)), engine).calm
    assert readings[0].state is CalmState.WARMING_UP  # not usable before 30 s of beats
    live = [r for r in readings if r.state is CalmState.LIVE]
    assert live[0].t_s < 40.0
    assert engine.calm_baseline is stored


def test_a_learnt_baseline_describes_the_rest_period() -> None:
    engine = ParticipantEngine()
    run_engine(beats_from(simulate_rr([REST], seed=7)), engine)
    learnt = engine.calm_baseline
    assert learnt is not None
    assert learnt.hr_bpm == pytest.approx(70.0, abs=2.0)
    assert learnt.hr_scale_bpm >= 2.0  # the floor
    assert 170 <= learnt.n_samples <= 185
    # What the service stores (JSON of the dataclass) gives the same baseline back.
    stored = json.loads(json.dumps(dataclasses.asdict(learnt)))
    assert CalmBaseline(**stored) == learnt


@pytest.mark.parametrize(
    "fields",
    [
        {"hr_bpm": math.nan},
        {"hr_bpm": 400.0},
        {"hr_scale_bpm": 0.0},
        {"ln_rmssd_scale": -0.1},
        {"n_samples": 0},
    ],
)
def test_an_unusable_stored_baseline_is_refused(fields) -> None:
    values = {
        "hr_bpm": 70.0,
        "hr_scale_bpm": 3.0,
        "ln_rmssd": 3.4,
        "ln_rmssd_scale": 0.2,
        "n_samples": 180,
    }
    with pytest.raises(DataError):
        CalmBaseline(**(values | fields))


def tracker_fed(zs: list[float]) -> list[CalmReading]:
    """A tracker without smoothing fed features that make the composite exactly ``z``."""
    baseline = CalmBaseline(70.0, 2.0, 3.5, 0.1, 180)
    tracker = CalmTracker(CalmConfig(tau_s=1e-9), baseline)
    readings = []
    for i, z in enumerate(zs):
        # z_ln = 2 z with HR at baseline gives a composite of z.
        reading = tracker.update(
            float(i), 70.0, 3.5 + 2 * z * 0.1, usable=True, artefact_share=0.0, coverage=1.0
        )
        assert reading is not None
        readings.append(reading)
    return readings


def test_bands_change_only_past_the_hysteresis() -> None:
    bands = [
        r.band for r in tracker_fed([0.0, 0.6, 0.7, 0.8, 0.4, 0.3, 0.2, -0.6, -0.8, -0.3, -0.2])
    ]
    assert bands == [
        CalmBand.NEUTRAL,
        CalmBand.NEUTRAL,  # past the 0.5 edge, not past 0.75
        CalmBand.NEUTRAL,
        CalmBand.CALM,
        CalmBand.CALM,  # back under 0.5 but above 0.25: stays
        CalmBand.CALM,
        CalmBand.NEUTRAL,
        CalmBand.NEUTRAL,
        CalmBand.AROUSED,
        CalmBand.AROUSED,
        CalmBand.NEUTRAL,
    ]


def test_the_display_is_the_logistic_of_the_composite() -> None:
    readings = tracker_fed([0.0, 1.0, -2.0])
    assert [r.calm for r in readings] == pytest.approx([50.0, 73.1059, 11.9203], abs=1e-3)


def test_artefacts_and_gaps_lower_the_confidence_and_a_lost_signal_freezes() -> None:
    tracker = CalmTracker(baseline=CalmBaseline(70.0, 2.0, 3.5, 0.1, 180))
    full = tracker.update(1.0, 70.0, 3.5, usable=True, artefact_share=0.0, coverage=1.0)
    dirty = tracker.update(2.0, 72.0, 3.4, usable=True, artefact_share=0.05, coverage=0.8)
    frozen = tracker.freeze(2.5)
    assert full.confidence == 1.0
    assert dirty.confidence == pytest.approx(0.5 * 0.8)
    assert frozen.state is CalmState.FROZEN
    assert frozen.confidence == 0.0
    assert frozen.calm == dirty.calm
    thawed = tracker.update(2.7, 72.0, 3.4, usable=True, artefact_share=0.0, coverage=1.0)
    assert thawed is not None  # published at once, not a second later
    assert thawed.state is CalmState.LIVE
