"""Real Redis for the scale-out tests: 127.0.0.1:6379 (ATTUNE_TEST_REDIS_URL), every test
under its own key prefix, deleted afterwards, so concurrent runs never meet.

Without a reachable Redis these tests skip and say why; with ATTUNE_REQUIRE_SERVICES=1 (CI)
they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("ATTUNE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require(reason: str) -> None:
    """Skip for ``reason``, or fail when CI requires the services."""
    if os.environ.get("ATTUNE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"ATTUNE_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


async def delete_prefix(redis: Redis, prefix: str) -> int:
    """Delete every key under ``prefix``; returns how many there were."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)
    return len(keys)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=10)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        require(f"Redis at {REDIS_URL} is unreachable: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own, cleaned up after it."""
    name = f"attune-test-{uuid.uuid4().hex[:12]}:"
    yield name
    await delete_prefix(redis, name)
