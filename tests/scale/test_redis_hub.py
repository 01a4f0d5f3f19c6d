"""The Redis Streams hub against a real Redis: two hub instances (as two service instances
would have) sharing one prefix. Fan-out by role across instances, resume from a seq while
publishing goes on, the restore after a takeover adds only what is missing, a former owner
cannot publish (fencing), erasure ends subscriptions everywhere, and a stalled subscriber
never holds anything up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from attune.api.ownership import RedisLeases
from attune.errors import OwnedElsewhereError
from attune.hub import EndReason, LiveItem, SubscriptionEnded
from attune.hub.redis import RedisHub, RedisKeys
from tests.scale.conftest import REDIS_URL

THERAPIST = frozenset({"therapist"})
EVERYONE = frozenset({"therapist", "client"})
WAIT_S = 10.0  # bound on every wait; not a timing assertion


def item(seq: int, audience: frozenset[str] = EVERYONE, *, droppable: bool = True) -> LiveItem:
    return LiveItem(seq, audience, f'{{"seq": {seq}}}', droppable)


@dataclass
class Instance:
    hub: RedisHub
    leases: RedisLeases


@pytest.fixture
async def instances(redis: Redis, prefix: str) -> AsyncIterator[list[Instance]]:
    """Two instances ("a", "b") of the hub and leases on one prefix."""
    made, clients = [], []
    for name in ("a", "b"):
        # Named connections, so a test can cut exactly its own.
        named = {"decode_responses": True, "client_name": f"{prefix.rstrip(':')}-{name}"}
        own = Redis.from_url(REDIS_URL, socket_timeout=10, **named)
        reader = Redis.from_url(REDIS_URL, socket_timeout=30, **named)
        clients += [own, reader]
        keys = RedisKeys(prefix)
        leases = RedisLeases(own, name, keys, ttl_s=5.0)
        hub = RedisHub(own, reader, name, leases.fence, keys, buffer_messages=1000)
        hub.queue_messages = 50
        await hub.start()
        await leases.start()
        made.append(Instance(hub, leases))
    yield made
    for instance in made:
        await instance.hub.stop()
        await instance.leases.stop()
    for client in clients:
        await client.aclose()


async def drain(subscription, n: int) -> list[int]:
    return [(await asyncio.wait_for(subscription.get(), WAIT_S)).seq for _ in range(n)]


async def flushed(hub: RedisHub) -> None:
    await asyncio.wait_for(hub._flushed.wait(), WAIT_S)


async def test_viewers_on_every_instance_get_the_owners_messages_by_role(instances) -> None:
    a, b = instances
    await a.leases.acquire("s")
    on_a = await a.hub.subscribe("s", "therapist", None)
    on_b = await b.hub.subscribe("s", "therapist", None)
    client_on_b = await b.hub.subscribe("s", "client", None)
    for seq in range(1, 21):
        a.hub.publish("s", item(seq, THERAPIST if seq % 2 else EVERYONE))
    assert await drain(on_a, 20) == list(range(1, 21))
    assert await drain(on_b, 20) == list(range(1, 21))
    assert await drain(client_on_b, 10) == list(range(2, 21, 2))
    await flushed(a.hub)
    assert (on_b.pending, client_on_b.pending) == (0, 0)
    assert a.hub.published == 20


async def test_a_resume_gets_the_backlog_then_live_without_gap_or_repeat(instances) -> None:
    a, b = instances
    await a.leases.acquire("s")
    for seq in range(1, 101):
        a.hub.publish("s", item(seq))
    await flushed(a.hub)

    async def keep_publishing() -> None:
        for seq in range(101, 301):
            a.hub.publish("s", item(seq))
            await asyncio.sleep(0)

    # This test is about order, not about slow viewers: room for everything, from the start
    # (on a busy machine more than the fixture's 50 can arrive while the backlog is read).
    b.hub.queue_messages = 10_000
    publishing = asyncio.create_task(keep_publishing())
    resumed = await b.hub.subscribe("s", "therapist", after_seq=40)
    await publishing
    assert resumed.head_seq >= 100
    assert await drain(resumed, 260) == list(range(41, 301))


async def test_the_restore_after_a_takeover_adds_only_what_the_stream_lacks(instances) -> None:
    a, b = instances
    await a.leases.acquire("s")
    watching = await b.hub.subscribe("s", "therapist", None)
    for seq in range(1, 11):
        a.hub.publish("s", item(seq))
    await flushed(a.hub)
    await a.leases.release("s")  # as if a had died after recording inputs up to seq 15
    await b.leases.acquire("s")
    b.hub.restore("s", [item(seq) for seq in range(5, 16)])
    b.hub.publish("s", item(16))
    assert await drain(watching, 16) == list(range(1, 17))
    await flushed(b.hub)
    assert b.hub.published == 6  # 11..16
    assert await b.hub.redis.xlen(b.hub.keys.live("s")) == 16


async def test_a_former_owner_cannot_publish(instances) -> None:
    a, b = instances
    await a.leases.acquire("s")
    a.hub.publish("s", item(1))
    await flushed(a.hub)
    # b takes the lease while a still believes it holds it (a long pause, say).
    await b.hub.redis.delete(b.hub.keys.lease("s"))
    await b.leases.acquire("s")
    with pytest.raises(OwnedElsewhereError, match="instance b"):
        await RedisLeases(a.leases.redis, "c", a.leases.keys).acquire("s")
    a.hub.publish("s", item(2))
    await flushed(a.hub)
    assert a.hub.refused == 1
    assert await a.hub.redis.xlen(a.hub.keys.live("s")) == 1
    lost = []
    a.leases.on_lost = lost.append
    await a.leases.renew()
    assert lost == ["s"]
    assert not a.leases.owns("s")


async def test_erasure_ends_subscriptions_everywhere_and_forbids_publishing(instances) -> None:
    a, b = instances
    await a.leases.acquire("s")
    on_a = await a.hub.subscribe("s", "therapist", None)
    on_b = await b.hub.subscribe("s", "therapist", None)
    a.hub.publish("s", item(1))
    assert await drain(on_b, 1) == [1]
    b.hub.close("s")  # erased through instance b
    for subscription in (on_a, on_b):
        with pytest.raises(SubscriptionEnded) as ended:
            await drain(subscription, 2)
        assert ended.value.reason is EndReason.CLOSED
    assert await a.hub.redis.exists(a.hub.keys.live("s")) == 0
    with pytest.raises(OwnedElsewhereError, match="erased"):
        await b.leases.acquire("s")


async def test_a_stalled_viewer_loses_droppable_messages_only_and_holds_nobody_up(
    instances,
) -> None:
    a, b = instances
    await a.leases.acquire("s")
    stalled = await b.hub.subscribe("s", "therapist", None)  # capacity 50
    reader = await b.hub.subscribe("s", "therapist", None)
    reader.capacity = 10_000
    for seq in range(1, 501):
        a.hub.publish("s", item(seq, droppable=seq % 100 != 0))
    assert await drain(reader, 500) == list(range(1, 501))
    kept = await drain(stalled, stalled.pending)
    assert [seq for seq in kept if seq % 100 == 0] == [100, 200, 300, 400, 500]
    assert kept[-1] == 500
    assert stalled.dropped == 500 - len(kept)
    assert stalled.ended is None


async def test_the_hub_survives_dropped_redis_connections(instances, redis, prefix) -> None:
    a, b = instances
    await a.leases.acquire("s")
    watching = await b.hub.subscribe("s", "therapist", None)
    a.hub.publish("s", item(1))
    assert await drain(watching, 1) == [1]
    # Cut every connection of this test's hubs (the readers' blocking XREADs included).
    mine = [c for c in await redis.client_list() if c.get("name", "").startswith(prefix[:-1])]
    assert mine
    for client in mine:
        await redis.client_kill_filter(_id=client["id"])
    for seq in range(2, 6):
        a.hub.publish("s", item(seq))
    assert await drain(watching, 4) == [2, 3, 4, 5]
