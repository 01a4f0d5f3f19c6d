"""The in-memory hub: fan-out by role, resume from a seq, bounded queues that never block,
dropping only droppable messages, and ending subscriptions that fall too far behind."""

from __future__ import annotations

import asyncio

import pytest

from attune.hub import EndReason, LiveItem, MemoryHub, SubscriptionEnded
from attune.hub.subscription import audience_of, audience_text

THERAPIST = frozenset({"therapist"})
EVERYONE = frozenset({"therapist", "client"})


def item(seq: int, audience: frozenset[str] = EVERYONE, *, droppable: bool = True) -> LiveItem:
    return LiveItem(seq, audience, f'{{"seq": {seq}}}', droppable)


async def drain(subscription, n: int) -> list[int]:
    return [(await asyncio.wait_for(subscription.get(), 1)).seq for _ in range(n)]


async def test_subscribers_get_only_their_audience() -> None:
    hub = MemoryHub()
    therapist = await hub.subscribe("s", "therapist", None)
    client = await hub.subscribe("s", "client", None)
    reviewer = await hub.subscribe("s", "reviewer", None)
    hub.publish("s", item(1, THERAPIST))
    hub.publish("s", item(2))
    assert await drain(therapist, 2) == [1, 2]
    assert await drain(client, 1) == [2]
    assert (therapist.pending, client.pending, reviewer.pending) == (0, 0, 0)


async def test_resume_replays_buffered_messages_after_the_seq() -> None:
    hub = MemoryHub(buffer_messages=100)
    for seq in range(1, 11):
        hub.publish("s", item(seq))
    subscription = await hub.subscribe("s", "therapist", after_seq=7)
    hub.publish("s", item(11))
    assert await drain(subscription, 4) == [8, 9, 10, 11]


async def test_a_resumed_message_is_the_one_published_and_keeps_its_audience() -> None:
    hub = MemoryHub()
    published = [item(1, THERAPIST), item(2, droppable=False), item(3, frozenset())]
    for message in published:
        hub.publish("s", message)
    therapist = await hub.subscribe("s", "therapist", after_seq=0)
    client = await hub.subscribe("s", "client", after_seq=0)
    assert [await therapist.get() for _ in range(2)] == published[:2]
    assert [await client.get()] == [published[1]]
    assert (therapist.pending, client.pending) == (0, 0)


def test_an_audience_survives_its_text_form() -> None:
    for audience in (EVERYONE, THERAPIST, frozenset()):
        assert audience_of(audience_text(audience)) == audience
    assert audience_text(EVERYONE) == "client,therapist"  # the Redis stream's field a


async def test_a_resumed_backlog_larger_than_the_queue_arrives_whole() -> None:
    hub = MemoryHub(buffer_messages=100, queue_messages=10)
    for seq in range(1, 51):
        hub.publish("s", item(seq))
    subscription = await hub.subscribe("s", "therapist", after_seq=0)
    assert await drain(subscription, 50) == list(range(1, 51))
    assert subscription.dropped == 0


async def test_restore_refills_the_resume_buffer() -> None:
    hub = MemoryHub()
    hub.publish("s", item(1))
    hub.restore("s", [item(5), item(6)])
    assert await drain(await hub.subscribe("s", "therapist", after_seq=5), 1) == [6]


async def test_a_stalled_subscriber_loses_its_oldest_droppable_messages_only() -> None:
    hub = MemoryHub(queue_messages=10)
    stalled = await hub.subscribe("s", "therapist", None)
    reader = await hub.subscribe("s", "therapist", None)
    for seq in range(1, 101):
        # Every 10th message is a state change, which must not be dropped.
        hub.publish("s", item(seq, droppable=seq % 10 != 0))
        assert (await reader.get()).seq == seq  # never waits, however full the others are
    kept = await drain(stalled, 10)
    assert kept[:9] == list(range(10, 100, 10))  # every state change, oldest first
    assert kept[9] == 100
    assert stalled.dropped == 90
    assert stalled.ended is None


async def test_a_subscriber_full_of_state_changes_is_ended_not_silently_thinned() -> None:
    hub = MemoryHub(queue_messages=10)
    stalled = await hub.subscribe("s", "therapist", None)
    for seq in range(1, 12):
        hub.publish("s", item(seq, droppable=False))
    assert stalled.ended is EndReason.OVERFLOW
    with pytest.raises(SubscriptionEnded) as ended:
        await stalled.get()
    assert ended.value.reason is EndReason.OVERFLOW
    assert await drain(await hub.subscribe("s", "therapist", after_seq=0), 11) == list(range(1, 12))


async def test_closing_a_session_ends_its_subscriptions_and_forgets_it() -> None:
    hub = MemoryHub()
    subscription = await hub.subscribe("s", "therapist", None)
    hub.publish("s", item(1))
    hub.close("s")
    with pytest.raises(SubscriptionEnded) as ended:
        await subscription.get()
    assert ended.value.reason is EndReason.CLOSED
    assert (await hub.subscribe("s", "therapist", after_seq=0)).pending == 0


async def test_sessions_are_separate() -> None:
    hub = MemoryHub()
    a = await hub.subscribe("a", "therapist", None)
    hub.publish("b", item(1))
    hub.publish("a", item(2))
    assert await drain(a, 1) == [2]
