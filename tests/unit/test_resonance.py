"""The resonance-frequency assessment, validated on simulated people with a known resonance."""

from __future__ import annotations

import pytest

from attune.cues import (
    AssessmentFinished,
    PacerChange,
    PacerEvent,
    ResonanceAssessment,
    ResonanceProtocol,
    StepMeasured,
    StepStarted,
)
from attune.cues.resonance import StepMeasurement, pick_resonance
from attune.errors import ConfigError
from attune.sim import (
    DyadSimulator,
    PacedBreathing,
    PersonPhase,
    PersonProfile,
    Phase,
    Role,
    SessionScript,
)

LEAD_IN_S = 60.0


def protocol_script(protocol: ResonanceProtocol) -> SessionScript:
    """The client breathing with the assessment's pacer, step by step."""
    inhale = 1.0 / (1.0 + protocol.exhale_ratio)
    steps = tuple(
        Phase(
            f"{rate}/min",
            protocol.step_duration_s(rate),
            PersonPhase(0.1),
            PersonPhase(0.15, paced=True),
            pacer=PacedBreathing(rate, inhale),
        )
        for rate in protocol.rates_bpm
    )
    return SessionScript((Phase("lead-in", LEAD_IN_S, PersonPhase(0.1), PersonPhase(0.2)), *steps))


def assess(
    client: PersonProfile, seed: int, protocol: ResonanceProtocol | None = None, *, lose=None
):
    protocol = protocol or ResonanceProtocol()
    script = protocol_script(protocol)
    recording = DyadSimulator(script, client=client, seed=seed).run()
    assessment = ResonanceAssessment(protocol)
    events = assessment.start(LEAD_IN_S)
    for beat in recording.beats[Role.CLIENT]:
        events += assessment.tick(beat.t_s)
        if lose is None or not lose[0] <= beat.t_s < lose[1]:
            assessment.add_beat(beat.t_s, beat.rr_ms, usable=not beat.ectopic)
    events += assessment.tick(script.duration_s + 10.0)
    return assessment, events


@pytest.mark.parametrize("resonance_bpm", [4.5, 5.0, 5.25, 5.5, 6.0, 6.5])
def test_the_resonance_rate_is_found_within_half_a_breath_per_minute(resonance_bpm):
    for seed in range(4):
        profile = PersonProfile(hr_bpm=72.0, resonance_bpm=resonance_bpm)
        assessment, _ = assess(profile, seed)
        result = assessment.result
        assert result is not None
        assert result.resonance_bpm is not None
        assert result.resonance_bpm == pytest.approx(resonance_bpm, abs=0.5), result.reason


def test_each_step_measures_what_the_protocol_asks_for():
    assessment, _ = assess(PersonProfile(resonance_bpm=5.5), 0)
    result = assessment.result
    assert result is not None
    steps = result.steps
    assert [s.breaths_per_min for s in steps] == [6.5, 6.0, 5.5, 5.0, 4.5]
    for step in steps:
        assert step.valid
        assert step.coverage > 0.9
        # The LF peak sits at the breathing rate when breathing slowly.
        assert step.lf_peak_hz * 60.0 == pytest.approx(step.breaths_per_min, abs=0.3)
        assert step.lf_peak_power_ms2 > 500.0
        assert 5.0 < step.peak_to_trough_bpm < 40.0
        assert step.coherence_ratio > 1.0  # slow paced breathing is coherent
        assert -90.0 < step.hr_pacer_phase_deg < 90.0
    # HR leads breathing below resonance and lags above it (the band-pass phase turns).
    by_rate = {s.breaths_per_min: s for s in steps}
    assert by_rate[4.5].hr_pacer_phase_deg > by_rate[6.5].hr_pacer_phase_deg
    best = max(steps, key=lambda s: s.lf_peak_power_ms2)
    assert best.breaths_per_min in (5.0, 5.5, 6.0)


def test_the_protocol_drives_the_pacer_step_by_step_on_breath_boundaries():
    protocol = ResonanceProtocol()
    _, events = assess(PersonProfile(), 1, protocol)
    pacer = [e for e in events if isinstance(e, PacerEvent)]
    assert [e.change for e in pacer] == [PacerChange.STARTED] + [PacerChange.CHANGED] * 4 + [
        PacerChange.STOPPED
    ]
    assert [e.settings.breaths_per_min for e in pacer[:-1]] == [6.5, 6.0, 5.5, 5.0, 4.5]  # type: ignore[union-attr]
    started = [e for e in events if isinstance(e, StepStarted)]
    for step, change in zip(started, pacer[1:-1], strict=False):
        assert change.effective_s == pytest.approx(started[started.index(step) + 1].t_s)
    for step in started:
        breaths = (step.end_s - step.t_s) * step.breaths_per_min / 60.0
        assert breaths == pytest.approx(
            round(breaths)
        )  # whole breaths: changes fall between breaths
        assert 110.0 < step.end_s - step.t_s < 130.0
    measured = [e for e in events if isinstance(e, StepMeasured)]
    assert len(measured) == 5
    assert all(m.t_s >= m.measurement.end_s + protocol.grace_s for m in measured)
    finished = [e for e in events if isinstance(e, AssessmentFinished)]
    assert len(finished) == 1
    assert events.index(finished[0]) > events.index(measured[-1])


def test_steps_without_enough_beats_are_invalid_and_too_few_valid_steps_give_no_pick():
    protocol = ResonanceProtocol()
    start = LEAD_IN_S + protocol.step_duration_s(6.5)
    end = start + protocol.step_duration_s(6.0) + protocol.step_duration_s(5.5) + 60.0
    assessment, _ = assess(PersonProfile(), 2, protocol, lose=(start, end))
    result = assessment.result
    assert result is not None
    assert [s.valid for s in result.steps] == [True, False, False, False, True]
    assert result.resonance_bpm is None
    assert "only 2 of 5 steps" in result.reason


def measurement(rate, power, phase):
    return StepMeasurement(0, rate, 0.0, 120.0, True, 1.0, rate / 60, power, 10.0, 3.0, phase)


def test_near_ties_are_broken_by_the_phase_closest_to_zero():
    steps = (
        measurement(6.0, 1000.0, -40.0),
        measurement(5.5, 960.0, -5.0),
        measurement(5.0, 700.0, 20.0),
    )
    assert pick_resonance(steps, 0.1).resonance_bpm == 5.5
    assert pick_resonance(steps, 0.01).resonance_bpm == 6.0  # no tie at 1 %
    assert "in phase" in pick_resonance(steps, 0.1).reason


def test_commands_out_of_place_are_refused():
    assessment = ResonanceAssessment()
    assert assessment.tick(10.0) == []  # not started: nothing happens
    assessment.start(0.0)
    with pytest.raises(ConfigError, match="already started"):
        assessment.start(5.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rates_bpm": (6.0,)}, "at least 2 rates"),
        ({"rates_bpm": (6.5, 6.3)}, "pacer rate"),
        ({"rates_bpm": (8.0, 7.0)}, "pacer rate"),
        ({"step_s": 30.0}, "step_s"),
        ({"settle_s": 100.0}, "settle_s"),
        ({"exhale_ratio": 4.0}, "exhale ratio"),
        ({"tie_tolerance": 1.5}, "tie_tolerance"),
    ],
)
def test_bad_protocols_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ResonanceProtocol(**kwargs)
