"""Beat timeline: RR sums anchored to arrival times; gaps with their cause."""

from __future__ import annotations

import pytest

from attune.sensor.hrm import HeartRateMeasurement
from attune.sensor.timeline import BeatTimeline, GapCause


def hrm(*rr_1024: int, contact: bool | None = True) -> HeartRateMeasurement:
    return HeartRateMeasurement(70, contact=contact, rr_1024=rr_1024, rr_present=bool(rr_1024))


def test_first_notification_anchors_its_newest_beat_at_arrival() -> None:
    update = BeatTimeline().feed(hrm(1024, 512 + 256), received_at_s=10.0)
    assert [b.t_s for b in update.beats] == pytest.approx([9.25, 10.0])
    assert [b.rr_ms for b in update.beats] == pytest.approx([1000.0, 750.0])
    assert update.beats[0].after_gap
    assert not update.beats[1].after_gap


def test_later_beats_follow_the_rr_sum_not_the_arrival_jitter() -> None:
    timeline = BeatTimeline()
    timeline.feed(hrm(1024), received_at_s=10.0)
    update = timeline.feed(hrm(1024), received_at_s=11.4)  # arrived 0.4 s late
    assert update.beats[0].t_s == pytest.approx(11.0)
    assert update.gaps == ()
    assert timeline.drift_s > 0


def test_keeps_raw_values_and_arrival_time() -> None:
    beat = BeatTimeline().feed(hrm(1079), received_at_s=3.5).beats[0]
    assert (beat.rr_1024, beat.received_at_s) == (1079, 3.5)


def test_lost_beats_make_a_clock_mismatch_gap_and_a_new_anchor() -> None:
    timeline = BeatTimeline()
    for i in range(10):
        timeline.feed(hrm(1024), received_at_s=float(i + 1))
    update = timeline.feed(hrm(1024), received_at_s=16.0)  # five beats never arrived
    assert [g.cause for g in update.gaps] == [GapCause.CLOCK_MISMATCH]
    assert update.gaps[0].start_s == pytest.approx(10.0)
    assert update.gaps[0].end_s == pytest.approx(15.0)
    assert update.beats[0].after_gap
    assert update.beats[0].t_s == pytest.approx(16.0)


def test_contact_loss_opens_a_gap_that_closes_on_the_next_beat() -> None:
    timeline = BeatTimeline()
    timeline.feed(hrm(1024), received_at_s=1.0)
    lost = timeline.feed(hrm(contact=False), received_at_s=2.0)
    assert lost.gap_open is GapCause.CONTACT_LOST
    assert lost.contact is False
    back = timeline.feed(hrm(1024), received_at_s=9.0)
    assert back.gap_open is None
    assert [(g.start_s, g.end_s, g.cause) for g in back.gaps] == [(1.0, 8.0, GapCause.CONTACT_LOST)]
    assert back.beats[0].after_gap


def test_notifications_without_rr_are_fine_until_no_beat_is_plausible() -> None:
    timeline = BeatTimeline()
    timeline.feed(hrm(1200), received_at_s=1.0)
    assert timeline.feed(hrm(), received_at_s=2.0).gap_open is None  # slow HR: no beat yet
    assert timeline.feed(hrm(), received_at_s=5.0).gap_open is GapCause.NO_RR


def test_out_of_range_rr_is_a_gap_not_a_beat() -> None:
    timeline = BeatTimeline()
    timeline.feed(hrm(1024), received_at_s=1.0)
    update = timeline.feed(hrm(100, 1024), received_at_s=2.1)  # 97.7 ms: impossible
    assert [g.cause for g in update.gaps] == [GapCause.RR_OUT_OF_RANGE]
    assert [b.rr_1024 for b in update.beats] == [1024]
    assert update.beats[0].after_gap


def test_link_loss_is_a_gap() -> None:
    timeline = BeatTimeline()
    timeline.feed(hrm(1024), received_at_s=1.0)
    assert timeline.link_lost(1.5).gap_open is GapCause.LINK_LOST
    update = timeline.feed(hrm(1024), received_at_s=30.0)
    assert [g.cause for g in update.gaps] == [GapCause.LINK_LOST]


def test_a_new_anchor_keeps_the_latency_learned_before_the_gap() -> None:
    # Beat k ends at k s. The first notification happens to arrive 0.1 s after its beat, all
    # later ones 0.3 s after: the timeline's clock is "true time + 0.1", and it must stay so
    # after a gap, or this participant's beats would shift against the other participant's.
    timeline = BeatTimeline()
    timeline.feed(hrm(1024), received_at_s=1.1)
    for k in range(2, 120):
        timeline.feed(hrm(1024), received_at_s=k + 0.3)
    assert timeline.drift_s == pytest.approx(0.2, abs=0.01)
    update = timeline.feed(hrm(1024), received_at_s=130.3)  # beats 120-129 never arrived
    assert [g.cause for g in update.gaps] == [GapCause.CLOCK_MISMATCH]
    assert update.beats[0].t_s == pytest.approx(130.1, abs=0.01)
    after = timeline.feed(hrm(1024), received_at_s=131.3)
    assert after.gaps == ()
    assert after.beats[0].t_s == pytest.approx(131.1, abs=0.01)


def test_drift_follows_a_strap_clock_that_runs_slow() -> None:
    # A strap crystal 200 ppm slow: its RR sum falls behind the arrival clock steadily, which
    # the drift tracks instead of declaring a gap every few minutes.
    timeline = BeatTimeline()
    gaps = []
    for k in range(1, 3601):
        update = timeline.feed(hrm(1024), received_at_s=k * 1.0002)
        gaps += update.gaps
    assert gaps == []
    assert timeline.drift_s == pytest.approx(0.72, abs=0.02)  # 3600 s x 200 ppm, less the lag
