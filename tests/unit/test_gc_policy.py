"""The serving process's garbage-collection policy (attune.cli.gc_policy)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections import deque
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from attune.cli.gc_policy import (
    MIDDLE_AFTER,
    NEVER,
    GcPolicy,
    apply,
    collect_forever,
    generation_due,
)


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The policy changes process-wide state: put the test process's back."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.partner: _Node | None = None


def _old_cycle() -> weakref.ref[_Node]:
    """A reference cycle, promoted to the oldest generation, then dropped."""
    a, b = _Node(), _Node()
    a.partner, b.partner = b, a
    gc.collect(1)  # survive the young generations: now it waits for a full collection
    return weakref.ref(a)


class _Ticks:
    """Stands in for asyncio.sleep: lets ``n`` periods pass, then stops the loop."""

    def __init__(self, n: int) -> None:
        self.n, self.slept_s = n, []

    async def __call__(self, delay_s: float) -> None:
        if len(self.slept_s) == self.n:
            raise asyncio.CancelledError
        self.slept_s.append(delay_s)


@pytest.mark.usefixtures("restored_gc")
def test_apply_freezes_startup_collects_the_middle_generation_sooner_and_no_full_ones() -> None:
    survivor = _Node()
    young_objects = gc.get_threshold()[0]
    apply(GcPolicy(full_every_s=60.0))
    assert gc.get_threshold() == (young_objects, MIDDLE_AFTER, NEVER)
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())  # frozen: out of the collector's view


@pytest.mark.usefixtures("restored_gc")
def test_the_middle_generation_is_collected_after_every_third_young_collection() -> None:
    apply(GcPolicy(full_every_s=60.0))
    passes: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        kept = [[] for _ in range(50_000)]  # long-lived survivors, like buffered messages
    finally:
        gc.callbacks.remove(seen)
    del kept  # alive until the collections were counted
    assert len(passes) > 40
    assert 2 not in passes
    # Young, young, young, middle, ...: one in MIDDLE_AFTER + 2.
    assert passes.count(1) == pytest.approx(len(passes) / (MIDDLE_AFTER + 2), abs=1)


@pytest.mark.usefixtures("restored_gc")
def test_disabled_policy_leaves_cpython_alone() -> None:
    before = gc.get_threshold()
    apply(GcPolicy(full_every_s=0.0))
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("restored_gc")
async def test_scheduled_full_collection_frees_old_cycles_and_logs_its_pause() -> None:
    policy = GcPolicy(full_every_s=30.0, young_every_s=0.0)  # full collections alone
    apply(policy)
    dead = _old_cycle()
    for _ in range(50):  # young collections never reach the oldest generation
        gc.collect(1)
    assert dead() is not None
    ticks = _Ticks(2)
    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await collect_forever(policy, sleep=ticks)
    assert dead() is None
    assert ticks.slept_s == [30.0, 30.0]
    pauses = [e for e in logs if e["event"] == "gc_full"]
    assert len(pauses) == 2
    assert all(e["pause_ms"] >= 0 for e in pauses)
    assert pauses[0]["collected"] >= 2  # the two nodes (and their dicts)


async def test_disabled_policy_schedules_nothing() -> None:
    calls: list[int] = []

    def collect(generation: int) -> int:
        calls.append(generation)
        return 0

    await collect_forever(GcPolicy(full_every_s=0.0), sleep=_Ticks(3), collect=collect)
    assert calls == []


async def test_timed_collections_take_young_middle_and_full_generations_in_rhythm() -> None:
    taken: list[int] = []

    def collect(generation: int) -> int:
        taken.append(generation)
        return 0

    ticks = _Ticks(12)
    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await collect_forever(
            GcPolicy(full_every_s=0.6, young_every_s=0.1), sleep=ticks, collect=collect
        )
    assert ticks.slept_s == pytest.approx([0.1] * 12)
    # Young, young, middle (one in MIDDLE_AFTER + 1), ..., and the full one every 6th tick.
    assert taken == [0, 0, 1, 0, 0, 2, 0, 0, 1, 0, 0, 2]
    assert [e["event"] for e in logs] == ["gc_full", "gc_full"]  # young ones are not logged
    assert generation_due(6000, 6000) == 2
    assert GcPolicy().schedule() == (0.1, 6000)  # the defaults: a full one every 600 s


@pytest.mark.usefixtures("restored_gc")
async def test_a_timed_young_collection_empties_the_young_generation_that_churn_lets_grow() -> None:
    policy = GcPolicy(full_every_s=600.0)
    apply(policy)
    buffer = deque([_Node() for _ in range(30_000)], maxlen=30_000)
    gc.collect(1)  # the buffered messages are old now
    for _ in range(30_000):
        buffer.append(_Node())  # each new message evicts the oldest, as a resume buffer does
    # CPython counts the old ones' deallocations against the new allocations, so no young
    # collection came due, and the young generation holds every new message.
    assert len(gc.get_objects(0)) > 25_000
    with pytest.raises(asyncio.CancelledError):
        await collect_forever(policy, sleep=_Ticks(1))
    assert len(gc.get_objects(0)) < 1_000
    # A young pass: the new messages moved on to the middle generation (a full one would
    # have put them in the oldest).
    assert len(gc.get_objects(1)) > 25_000
    assert len(buffer) == 30_000  # alive until here
