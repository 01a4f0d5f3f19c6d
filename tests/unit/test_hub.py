"""The in-memory hub: fan-out by role, resume from a seq, bounded queues that never block."""

from __future__ import annotations

import asyncio

from attune.hub.memory import LiveItem, MemoryHub

THERAPIST = frozenset({"therapist"})
EVERYONE = frozenset({"therapist", "client"})


def item(seq: int, audience: frozenset[str] = EVERYONE) -> LiveItem:
    return LiveItem(seq, audience, f'{{"seq": {seq}}}')


async def drain(subscription, n: int) -> list[int]:
    return [(await asyncio.wait_for(subscription.get(), 1)).seq for _ in range(n)]


async def test_subscribers_get_only_their_audience() -> None:
    hub = MemoryHub()
    therapist = hub.subscribe("s", "therapist", None)
    client = hub.subscribe("s", "client", None)
    hub.publish("s", item(1, THERAPIST))
    hub.publish("s", item(2))
    assert await drain(therapist, 2) == [1, 2]
    assert await drain(client, 1) == [2]


async def test_resume_replays_buffered_messages_after_the_seq() -> None:
    hub = MemoryHub(buffer_messages=100)
    for seq in range(1, 11):
        hub.publish("s", item(seq))
    subscription = hub.subscribe("s", "therapist", after_seq=7)
    hub.publish("s", item(11))
    assert await drain(subscription, 4) == [8, 9, 10, 11]


async def test_a_stalled_subscriber_loses_its_oldest_messages_only() -> None:
    hub = MemoryHub(queue_messages=10)
    stalled = hub.subscribe("s", "therapist", None)
    reader = hub.subscribe("s", "therapist", None)
    for seq in range(1, 101):
        hub.publish("s", item(seq))  # never waits, however full the queues are
        assert (await reader.get()).seq == seq
    assert stalled.dropped == 90
    assert await drain(stalled, 10) == list(range(91, 101))


async def test_sessions_are_separate() -> None:
    hub = MemoryHub()
    a = hub.subscribe("a", "therapist", None)
    hub.publish("b", item(1))
    hub.publish("a", item(2))
    assert await drain(a, 1) == [2]
