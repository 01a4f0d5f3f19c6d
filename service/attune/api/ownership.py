"""Who computes a session: one instance at a time holds its lease.

A session's runtime (its pipeline state and live ``seq`` counter) must live in exactly one
place, or two instances would number the same messages differently. One process owns every
session (``LocalOwnership``). Several instances share Redis and take a *lease* per session
(``RedisLeases``): ``SET NX PX`` under a value ``"{token}:{instance}"`` whose token comes
from a per-session counter (``INCR``), renewed every third of its time to live. Whoever
finds the lease free or expired takes it; a collector that reaches an instance that does not
hold it is told so (close code 4421) and reconnects, through the load balancer, until it
reaches the owner, or takes the lease itself once the owner is gone.

The token is a fencing token: the live stream only accepts messages whose publisher's lease
value is still current (attune/hub/redis.py), and the recording refuses a second input with
the same ``(session, input_no)``, so a former owner that has not yet noticed that it lost
its lease (a long pause) can neither publish nor record in its successor's place. An owner
also stops by itself: it counts its lease valid only for ``LOCAL_VALIDITY`` of its time to
live after the renewal was *sent*, so it gives up before Redis can hand the lease on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from attune.errors import OwnedElsewhereError
from attune.hub.redis import RedisKeys

log = structlog.get_logger(__name__)
LOCAL_VALIDITY = 0.75  # of the lease's time to live, from when the (re)newal was sent

# KEYS: lease, fence counter, erased. ARGV: instance, ttl_ms.
# Returns {1, value} when this instance holds the lease now, {0, value} when another does,
# {-2, ''} when the session was erased.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {-2, ''} end
local current = redis.call('GET', KEYS[1])
if current then
  if string.match(current, '^%d+:(.*)$') == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, current}
  end
  return {0, current}
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 2592000000)
local value = token .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2])
return {1, value}
"""
# KEYS: lease. ARGV: value, ttl_ms. 1 if renewed, 0 if the lease is no longer this value.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Ownership(Protocol):
    """Which sessions this instance may compute."""

    async def acquire(self, session_id: str) -> None:
        """Take (or keep) the session; OwnedElsewhereError if another instance holds it."""

    def owns(self, session_id: str) -> bool:
        """Whether this instance holds the session now (a local check, no round trip)."""
        ...

    def fence(self, session_id: str) -> str | None:
        """The lease value (fencing token and instance) held for the session, if any."""
        ...

    async def release(self, session_id: str) -> None:
        """Give the session up (idle, erased, or shutting down)."""


@dataclass(slots=True)
class LocalOwnership:
    """One process: it owns every session."""

    def owns(self, session_id: str) -> bool:
        del session_id
        return True

    async def acquire(self, session_id: str) -> None:
        del session_id

    def fence(self, session_id: str) -> str | None:
        del session_id
        return "local"

    async def release(self, session_id: str) -> None:
        del session_id


@dataclass(slots=True)
class _Lease:
    value: str
    valid_until: float  # monotonic


@dataclass(slots=True)
class RedisLeases:
    """Session leases in Redis. ``start()`` runs the renewal; ``on_lost`` hears of a lease
    that could not be renewed (another instance took it, or Redis was out of reach too
    long), after which ``owns()`` is False."""

    redis: Redis
    instance_id: str
    keys: RedisKeys = field(default_factory=RedisKeys)
    ttl_s: float = 10.0
    on_lost: Callable[[str], None] | None = None
    monotonic: Callable[[], float] = time.monotonic
    _held: dict[str, _Lease] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def owns(self, session_id: str) -> bool:
        lease = self._held.get(session_id)
        if lease is None:
            return False
        if self.monotonic() >= lease.valid_until:
            self._lose(session_id, "expired locally")
            return False
        return True

    def fence(self, session_id: str) -> str | None:
        lease = self._held.get(session_id)
        return lease.value if lease is not None else None

    async def acquire(self, session_id: str) -> None:
        if self.owns(session_id):
            return
        sent_s = self.monotonic()
        keys = (self.keys.lease(session_id), self.keys.fence(session_id))
        try:
            erased = self.keys.erased(session_id)
            reply = await self.redis.eval(_ACQUIRE, 3, *keys, erased, self.instance_id, self._ms)
        except RedisError as exc:
            raise OwnedElsewhereError(f"the lease store is out of reach: {exc}") from exc
        outcome, value = int(str(reply[0])), str(reply[1])
        if outcome == 1:
            self._held[session_id] = _Lease(value, sent_s + LOCAL_VALIDITY * self.ttl_s)
            log.info("lease_acquired", session=session_id, lease=value)
            return
        if outcome == -2:  # noqa: PLR2004 - the script's "erased" answer
            raise OwnedElsewhereError(f"session {session_id} was erased")
        owner = value.split(":", 1)[-1]
        raise OwnedElsewhereError(f"session {session_id} is computed by instance {owner}")

    async def release(self, session_id: str) -> None:
        lease = self._held.pop(session_id, None)
        if lease is not None:
            with contextlib.suppress(RedisError):
                await self.redis.eval(_RELEASE, 1, self.keys.lease(session_id), lease.value)
            log.info("lease_released", session=session_id)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renew_forever(), name="lease-renewal")

    async def stop(self) -> None:
        """Stop renewing and hand every lease back, so another instance takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for session_id in list(self._held):
            await self.release(session_id)

    @property
    def _ms(self) -> int:
        return int(self.ttl_s * 1000)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            await self.renew()

    async def renew(self) -> None:
        """Renew every held lease in one round trip."""
        held = list(self._held.items())
        if not held:
            return
        sent_s = self.monotonic()
        pipe = self.redis.pipeline(transaction=False)
        for session_id, lease in held:
            pipe.eval(_RENEW, 1, self.keys.lease(session_id), lease.value, self._ms)
        try:
            results = await pipe.execute()
        except RedisError as exc:
            log.warning("lease_renewal_failed", error=str(exc), leases=len(held))
            for session_id, _ in held:
                self.owns(session_id)  # drops those whose local validity ran out
            return
        for (session_id, lease), renewed in zip(held, results, strict=True):
            if self._held.get(session_id) is not lease:
                continue  # released or re-acquired meanwhile
            if int(renewed) == 1:
                lease.valid_until = sent_s + LOCAL_VALIDITY * self.ttl_s
            else:
                self._lose(session_id, "taken by another instance")

    def _lose(self, session_id: str, why: str) -> None:
        if self._held.pop(session_id, None) is None:
            return
        log.warning("lease_lost", session=session_id, why=why)
        if self.on_lost is not None:
            self.on_lost(session_id)
