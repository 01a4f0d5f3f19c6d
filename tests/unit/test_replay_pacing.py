"""Replay pacing and positioning, without a socket or a clock: when each message falls due at
a given speed, and where a seek lands."""

from __future__ import annotations

import pytest

from attune.api.replay import Timeline, _Player
from attune.hrv.engine import EngineConfig


def timeline(*clock_s: float) -> Timeline:
    return Timeline(
        [f"m{i}" for i in range(len(clock_s))], list(clock_s), clock_s[-1], EngineConfig()
    )


@pytest.mark.parametrize(
    ("speed", "due_in_s"), [(1.0, 8.0), (8.0, 1.0), (64.0, 0.125), (None, 0.0)]
)
def test_a_message_falls_due_at_its_session_time_over_the_speed(speed, due_in_s) -> None:
    player = _Player(timeline(10.0, 18.0), index=1, playing=True, speed=speed)
    player.anchor(now_s=100.0, t_s=10.0)  # session time 10 s was reached at loop time 100 s
    assert player.due_in_s(now_s=100.0) == due_in_s
    assert player.due_in_s(now_s=100.0 + due_in_s) == 0.0


def test_seek_lands_on_the_first_message_at_or_after_the_time() -> None:
    laid_out = timeline(0.0, 1.0, 1.0, 2.5, 4.0)
    assert [laid_out.index_at(t) for t in (0.0, 0.5, 1.0, 3.0, 9.0)] == [0, 1, 1, 4, 5]


def test_the_reported_state_follows_the_position() -> None:
    player = _Player(timeline(0.0, 5.0))
    player.anchor(now_s=0.0, t_s=3.0)
    assert '"state":"paused"' in player.state(reset=True)
    assert '"t_s":3.0' in player.state(reset=True)
    player.index = 2
    assert '"state":"ended"' in player.state(reset=False)
