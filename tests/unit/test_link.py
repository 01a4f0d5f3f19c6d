"""The link state machine, as a pure function of state, input and time."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.collector.link import (
    Backoff,
    BackoffElapsed,
    Connected,
    Dropped,
    Failed,
    Found,
    LinkMachine,
    LinkPolicy,
    LinkStateError,
    NotFound,
    StopRequested,
)
from attune.pipeline.events import LinkState as S

FOUND = Found("Polar H10 8C4CAD2B", "A0:9E:1A:8C:4C:AD")


def rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - backoff jitter, not secrets


def machine(**policy: float) -> LinkMachine:
    return LinkMachine(LinkPolicy(**policy), rng(3))  # type: ignore[arg-type]


def states(step) -> list[tuple[S, str | None]]:
    return [(r.state, r.reason) for r in step.reports]


def streaming(m: LinkMachine, at_s: float = 0.0) -> LinkMachine:
    m.start()
    m.handle(FOUND, at_s)
    m.handle(Connected(), at_s)
    return m


def test_happy_path_reports_every_transition() -> None:
    m = machine()
    assert states(m.start()) == [(S.SCANNING, None)]
    assert states(m.handle(FOUND, 1.0)) == [
        (S.CONNECTING, "Polar H10 8C4CAD2B (A0:9E:1A:8C:4C:AD)")
    ]
    assert states(m.handle(Connected(), 2.0)) == [(S.STREAMING, None)]
    assert m.state is S.STREAMING
    assert m.found == FOUND


def test_a_drop_reports_lost_then_backs_off_then_scans_again() -> None:
    m = streaming(machine())
    step = m.handle(Dropped("link lost"), 5.0)
    assert [s for s, _ in states(step)] == [S.LOST, S.BACKOFF]
    assert states(step)[0] == (S.LOST, "link lost")
    assert step.wait_s is not None
    assert 0.0 <= step.wait_s <= 0.5
    assert states(m.handle(BackoffElapsed(), 5.5)) == [(S.SCANNING, None)]
    assert m.found is None


def test_failed_connects_back_off_exponentially_up_to_the_cap() -> None:
    m = machine(backoff=Backoff(base_s=1.0, cap_s=8.0))  # type: ignore[arg-type]
    m.start()
    caps = []
    for attempt in range(8):
        m.handle(FOUND, attempt)
        step = m.handle(Failed("le-connection-timeout"), attempt)
        caps.append(min(8.0, 2.0**attempt))
        assert step.wait_s is not None
        assert 0.0 <= step.wait_s <= caps[-1]
        assert step.reports[0].reason.startswith("le-connection-timeout; retrying in ")
        m.handle(BackoffElapsed(), attempt)
    assert m.attempt == 8


def test_jitter_spreads_straps_that_fail_together() -> None:
    waits = set()
    for seed in range(20):
        m = LinkMachine(LinkPolicy(), rng(seed))
        m.start()
        m.handle(FOUND, 0.0)
        waits.add(m.handle(Failed("x"), 0.0).wait_s)
    assert len(waits) == 20


def test_a_connect_that_works_resets_the_backoff() -> None:
    m = machine(stable_after_s=30.0)
    m.start()
    for _ in range(5):  # e.g. the adapter was off for a while
        m.handle(FOUND, 0.0)
        m.handle(Failed("Bluetooth is off"), 0.0)
        m.handle(BackoffElapsed(), 0.0)
    assert m.attempt == 5
    m.handle(FOUND, 100.0)
    m.handle(Connected(), 100.0)
    assert m.attempt == 0
    step = m.handle(Dropped("lost"), 110.0)  # an unrelated drop soon after
    assert step.wait_s is not None
    assert step.wait_s <= 1.0  # attempt 1, not 6


def test_a_drop_after_a_stable_stream_waits_least() -> None:
    m = streaming(machine(stable_after_s=30.0), at_s=0.0)
    step = m.handle(Dropped("lost"), 600.0)
    assert step.wait_s is not None
    assert step.wait_s <= 0.5


def test_a_flapping_link_backs_off_more_each_time() -> None:
    m = machine(stable_after_s=30.0)
    m.start()
    caps = []
    for t in range(6):
        m.handle(FOUND, t)
        m.handle(Connected(), t)
        step = m.handle(Dropped("lost"), t + 0.5)
        caps.append(step.wait_s)
        m.handle(BackoffElapsed(), t + 0.9)
    assert m.attempt == 7
    assert all(w is not None and w <= min(30.0, 0.5 * 2**n) for n, w in enumerate(caps, 1))


def test_not_found_is_reported_once_per_scanning_episode() -> None:
    m = machine()
    m.start()
    assert states(m.handle(NotFound(30.0), 30.0)) == [
        (S.SCANNING, "strap not found after 30 s of scanning")
    ]
    assert m.handle(NotFound(30.0), 60.0).reports == ()
    assert m.state is S.SCANNING
    m.handle(FOUND, 61.0)
    m.handle(Failed("x"), 61.0)
    m.handle(BackoffElapsed(), 62.0)
    assert len(m.handle(NotFound(30.0), 92.0).reports) == 1


@pytest.mark.parametrize("stage", ["scanning", "connecting"])
def test_fatal_problems_stop_the_link(stage: str) -> None:
    m = machine()
    m.start()
    if stage == "connecting":
        m.handle(FOUND, 0.0)
    step = m.handle(Failed("Access to BlueZ was denied", fatal=True), 1.0)
    assert states(step) == [(S.STOPPED, "Access to BlueZ was denied")]
    assert m.state is S.STOPPED


def in_state(state: S) -> LinkMachine:
    m = machine()
    m.start()
    if state in (S.CONNECTING, S.STREAMING, S.BACKOFF):
        m.handle(FOUND, 0.0)
    if state is S.STREAMING:
        m.handle(Connected(), 0.0)
    if state is S.BACKOFF:
        m.handle(Failed("x"), 0.0)
    assert m.state is state
    return m


@pytest.mark.parametrize("state", [S.SCANNING, S.CONNECTING, S.STREAMING, S.BACKOFF])
def test_stop_works_from_every_state_and_only_once(state: S) -> None:
    m = in_state(state)
    assert states(m.handle(StopRequested(), 2.0)) == [(S.STOPPED, None)]
    assert m.handle(StopRequested(), 3.0).reports == ()


@pytest.mark.parametrize(
    ("setup", "event"),
    [
        ("scanning", Connected()),
        ("scanning", Dropped("x")),
        ("streaming", FOUND),
        ("streaming", Connected()),
        ("scanning", BackoffElapsed()),
    ],
)
def test_impossible_inputs_are_bugs(setup: str, event) -> None:
    m = in_state(S(setup))
    with pytest.raises(LinkStateError):
        m.handle(event, 0.0)


@given(st.integers(0, 200), st.floats(0.01, 10), st.floats(1, 100), st.integers(0, 2**32))
def test_backoff_is_always_within_zero_and_the_cap(
    attempt: int, base_s: float, cap_s: float, seed: int
) -> None:
    delay = Backoff(base_s, cap_s).delay_s(attempt, rng(seed))
    assert 0.0 <= delay <= min(cap_s, base_s * 2.0 ** min(attempt, 62))
