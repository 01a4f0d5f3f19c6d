"""The simulated strap: notifications a real strap would send, decoded by the real pipeline."""

from __future__ import annotations

import pytest

from attune.pipeline import BeatEvent, GapEvent, SessionPipeline
from attune.sensor.hrm import parse_hrm
from attune.sensor.timeline import GapCause
from attune.sim import (
    ContactLoss,
    DyadSimulator,
    PersonPhase,
    Phase,
    Role,
    SessionScript,
    SimBeat,
    StrapPacketizer,
)

BEAT_MS = 800.0
TICKS = BEAT_MS * 1.024  # one beat in 1/1024 s


def about(raw: int, ticks: float) -> bool:
    """Beat times are quantised to the strap's 1/1024 s counter, so an interval is within a
    tick of the exact value (819 and 820 alternate for 800 ms)."""
    return abs(raw - ticks) <= 1.0


def regular_beats(n: int, *, ectopic_at: int | None = None):
    t_s = 0.0
    for i in range(n):
        rr_ms = BEAT_MS * (
            0.6
            if i == ectopic_at
            else 1.4
            if ectopic_at is not None and i == ectopic_at + 1
            else 1.0
        )
        t_s += rr_ms / 1000.0
        yield SimBeat(t_s, rr_ms, ectopic=i == ectopic_at)


def notifications(packetizer: StrapPacketizer):
    while not packetizer.exhausted:
        note = packetizer.next_notification()
        yield note.t_s, parse_hrm(note.payload)


def test_rr_values_are_the_beat_intervals_in_1024ths_oldest_first():
    beats = list(regular_beats(50))
    packets = list(notifications(StrapPacketizer(iter(beats))))
    rr = [raw for _, hrm in packets for raw in hrm.rr_1024]
    # The first beat only starts the count; every later one is reported, in order.
    assert len(rr) == len(beats) - 1
    assert all(about(raw, TICKS) for raw in rr)
    assert all(hrm.contact is True for _, hrm in packets)
    assert all(len(hrm.rr_1024) <= 9 for _, hrm in packets)
    assert [t for t, _ in packets] == pytest.approx([float(i + 1) for i in range(len(packets))])


def test_the_strap_clock_never_drifts_from_the_rr_sum():
    recording = DyadSimulator(SessionScript((Phase("p", 600.0),)), seed=3).run()
    beats = recording.beats[Role.CLIENT]
    packets = list(notifications(StrapPacketizer(iter(beats))))
    total_s = sum(raw for _, hrm in packets for raw in hrm.rr_1024) / 1024.0
    assert total_s == pytest.approx(beats[-1].t_s - beats[0].t_s, abs=1 / 1024)


def test_an_ectopic_beat_is_reported_like_any_other():
    beats = list(regular_beats(20, ectopic_at=10))
    rr = [raw for _, hrm in notifications(StrapPacketizer(iter(beats))) for raw in hrm.rr_1024]
    assert about(rr[9], 0.6 * TICKS)
    assert about(rr[10], 1.4 * TICKS)


def test_contact_loss_sends_no_rr_with_the_contact_bit_clear_then_resumes():
    beats = list(regular_beats(40))
    lost = (10.0, 15.0)
    packetizer = StrapPacketizer(iter(beats), contact_ok=lambda t: not lost[0] <= t < lost[1])
    packets = list(notifications(packetizer))
    during = [hrm for t, hrm in packets if lost[0] <= t < lost[1]]
    assert during
    assert all(hrm.contact is False and not hrm.rr_1024 for hrm in during)
    after = [hrm for t, hrm in packets if t > lost[1] + 1]
    assert all(hrm.contact is True for hrm in after)
    # No interval spanning the loss is ever reported: every RR is a single beat.
    assert all(about(raw, TICKS) for _, hrm in packets for raw in hrm.rr_1024)


def test_a_strap_without_the_contact_feature_just_goes_quiet():
    beats = list(regular_beats(30))
    packetizer = StrapPacketizer(
        iter(beats), contact_ok=lambda t: not 8.0 <= t < 12.0, contact_supported=False
    )
    packets = list(notifications(packetizer))
    assert all(hrm.contact is None for _, hrm in packets)
    assert all(not hrm.rr_1024 for t, hrm in packets if 8.0 <= t < 12.0)


def test_missed_detections_merge_two_intervals():
    beats = list(regular_beats(400))
    packets = list(notifications(StrapPacketizer(iter(beats), missed_beat_rate=0.05, seed=1)))
    rr = [raw for _, hrm in packets for raw in hrm.rr_1024]
    assert all(any(about(raw, k * TICKS) for k in (1, 2, 3)) for raw in rr)
    doubles = sum(about(raw, 2 * TICKS) for raw in rr)
    assert 5 <= doubles <= 40
    assert sum(rr) == pytest.approx((beats[-1].t_s - beats[0].t_s) * 1024, abs=2)


@pytest.mark.parametrize("kwargs", [{"missed_beat_rate": 1.0}, {"period_s": 0.0}])
def test_bad_packetizer_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be"):
        StrapPacketizer(iter(()), **kwargs)


def test_the_pipeline_sees_the_scripted_contact_loss_as_a_gap():
    script = SessionScript(
        (Phase("p", 120.0, PersonPhase(0.2), PersonPhase(0.2)),),
        (ContactLoss(Role.CLIENT, 50.0, 8.0),),
    )
    dyad = DyadSimulator(script, seed=2)
    packetizer = StrapPacketizer(
        dyad.beats(Role.CLIENT), contact_ok=lambda t: dyad.contact_ok(Role.CLIENT, t)
    )
    pipeline = SessionPipeline()
    events = []
    while not packetizer.exhausted:
        note = packetizer.next_notification()
        events += pipeline.notification("client", note.t_s + 0.03, note.payload)
    gaps = [e.gap for e in events if isinstance(e, GapEvent)]
    assert [g.cause for g in gaps] == [GapCause.CONTACT_LOST]
    assert 47.0 < gaps[0].start_s <= 50.5
    assert 58.0 <= gaps[0].end_s < 61.0
    beats = [e.beat for e in events if isinstance(e, BeatEvent)]
    assert not any(50.0 < b.t_s < 58.0 for b in beats)
    assert sum(b.after_gap for b in beats) == 2  # the very first beat, and the first after the gap
