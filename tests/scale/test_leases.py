"""Session leases in a real Redis: one holder at a time, a fencing token that grows with
every new holder, renewal, and an owner that stops by itself when it cannot renew."""

from __future__ import annotations

import asyncio

import pytest

from attune.api.ownership import LOCAL_VALIDITY, RedisLeases
from attune.errors import OwnedElsewhereError
from attune.hub.redis import RedisKeys


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def token(leases: RedisLeases, session_id: str) -> int:
    value = leases.fence(session_id)
    assert value is not None
    return int(value.split(":", 1)[0])


async def test_one_holder_at_a_time_and_every_new_holder_gets_a_larger_token(redis, prefix) -> None:
    keys = RedisKeys(prefix)
    a, b = RedisLeases(redis, "a", keys, ttl_s=0.3), RedisLeases(redis, "b", keys, ttl_s=0.3)
    await a.acquire("s")
    await a.acquire("s")  # re-entrant
    first = token(a, "s")
    with pytest.raises(OwnedElsewhereError, match="instance a"):
        await b.acquire("s")
    assert b.fence("s") is None
    for _ in range(50):  # a stops renewing (it died): the lease expires in Redis
        if not await redis.exists(keys.lease("s")):
            break
        await asyncio.sleep(0.05)
    await b.acquire("s")
    assert token(b, "s") > first
    await b.release("s")
    await a.acquire("s")
    assert token(a, "s") > first + 1
    await a.release("s")
    assert not await redis.exists(keys.lease("s"))


async def test_renewal_keeps_the_lease_and_a_lost_one_is_reported(redis, prefix) -> None:
    keys = RedisKeys(prefix)
    lost: list[str] = []
    a = RedisLeases(redis, "a", keys, ttl_s=5.0, on_lost=lost.append)
    await a.acquire("s")
    await a.acquire("t")
    await redis.pexpire(keys.lease("s"), 200)  # as if it were about to run out
    await a.renew()
    assert await redis.pttl(keys.lease("s")) > 1000
    await redis.set(keys.lease("t"), "99:b")  # another instance took t
    await a.renew()
    assert lost == ["t"]
    assert (a.owns("s"), a.owns("t")) == (True, False)


async def test_an_owner_that_cannot_renew_stops_before_redis_hands_the_lease_on(
    redis, prefix
) -> None:
    clock = Clock()
    lost: list[str] = []
    a = RedisLeases(redis, "a", RedisKeys(prefix), ttl_s=10.0, on_lost=lost.append, monotonic=clock)
    await a.acquire("s")
    clock.now_s += LOCAL_VALIDITY * 10.0 - 0.01
    assert a.owns("s")
    clock.now_s += 0.02  # no renewal got through meanwhile
    assert not a.owns("s")
    assert lost == ["s"]
    assert await redis.pttl(RedisKeys(prefix).lease("s")) > 0  # Redis has not let go yet
