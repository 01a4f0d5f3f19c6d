"""Scale-out wiring: what one instance tells the others, over the Redis hub's control stream.

Every instance reads every control message (``RedisHub.on_control``):

- ``refresh``: a session was started, stopped or got a participant; its owner reloads it.
- ``close_viewers``: a link was revoked or a session erased; viewer sockets close everywhere.
- ``erase``: a session was erased (sent by the hub itself); its owner drops its runtime.
- ``run``: a request reached an instance that does not compute the session, but only the
  session's owner can answer it: a therapist's marker, a co-regulation control (pacer,
  resonance assessment, client view) or a read of the live state (pacer, resonance). The
  asker names the owner action (attune.api.controls.ACTIONS) and its JSON arguments; the
  owner alone runs it and RPUSHes its answer, the result or the error it raised (kind and
  message, attune.api.forwarding), to the reply list the asker BLPOPs for
  ``reply_timeout_s``. The asker raises the owner's error as the same class, so the route
  answers as the owner would have; no answer in time is OwnedElsewhereError (409, "try
  again"; the owner may still have done it).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any, cast

import structlog
from pydantic import JsonValue
from redis.asyncio import Redis
from redis.exceptions import RedisError

from attune.api.controls import ACTIONS
from attune.api.forwarding import read_answer, run_here
from attune.api.ownership import RedisLeases
from attune.api.runtime import SessionRuntimes
from attune.api.sockets import Viewers
from attune.cues.config import CueConfig, default_cue_config
from attune.errors import ConfigError, OwnedElsewhereError
from attune.hub.redis import RedisHub, RedisKeys
from attune.settings import Settings
from attune.store import Store

log = structlog.get_logger(__name__)
REPLY_TIMEOUT_S = 5.0  # how long an asker waits for the owner (below the 10 s socket timeout)
REPLY_TTL_S = 60  # an answer nobody took (its asker gave up) goes after this


@dataclass(slots=True)
class RedisPeers:
    """The other instances, reached through ``hub``. Install with ``connect``."""

    hub: RedisHub
    runtimes: SessionRuntimes
    viewers: Viewers
    reply_timeout_s: float = REPLY_TIMEOUT_S

    def connect(self) -> None:
        """Become the hub's control handler, the runtimes' peers and the viewers' relay."""
        self.hub.on_control = self.handle
        self.runtimes.peers = self
        self.viewers.relay = self._relay_close

    def tell(self, message: dict[str, str]) -> None:
        self.hub.send_control({**message, "from": self.hub.instance_id})

    async def forward(self, session_id: str, action: str, args: dict[str, JsonValue]) -> JsonValue:
        """Ask the session's owner to run ``action`` (attune.api.controls.ACTIONS) and wait
        for its answer: the result, or its error raised here as the same class."""
        reply_key = self.hub.keys.reply(uuid.uuid4().hex)
        request: dict[str, Any] = {"op": "run", "session": session_id, "reply": reply_key}
        request |= {"action": action, "args": args, "from": self.hub.instance_id}
        self.hub.send_control(request)
        answer = await self.hub.redis.blpop([reply_key], timeout=self.reply_timeout_s)
        if answer is None:
            # It may still run it (late, or the lease moved): the therapist retries.
            raise OwnedElsewhereError(
                f"the instance computing session {session_id} did not answer; try again"
            )
        return read_answer(cast("tuple[str, str]", answer)[1])

    async def handle(self, message: dict[str, Any]) -> None:
        op, session_id = message.get("op"), str(message.get("session"))
        if message.get("from") == self.hub.instance_id:
            return  # done locally already
        if op == "refresh":
            await self.runtimes.reload(session_id)
        elif op == "erase":
            self.runtimes.drop(session_id)
        elif op == "close_viewers":
            actor = message.get("actor")
            await self.viewers.close(
                session_id,
                int(message["code"]),
                str(message["reason"]),
                actor=None if actor is None else str(actor),
                relay=False,
            )
        elif op == "run" and self.runtimes.ownership.owns(session_id):
            await self._answer(session_id, message)

    async def _answer(self, session_id: str, message: dict[str, Any]) -> None:
        answer = await run_here(
            ACTIONS, self.runtimes, session_id, str(message.get("action")), message.get("args")
        )
        reply_key = str(message["reply"])
        pipe = self.hub.redis.pipeline(transaction=False)
        pipe.rpush(reply_key, answer)
        pipe.expire(reply_key, REPLY_TTL_S)
        await pipe.execute()

    def _relay_close(self, session_id: str, code: int, reason: str, actor: str | None) -> None:
        message: dict[str, Any] = {"op": "close_viewers", "session": session_id}
        message |= {"code": code, "reason": reason, "actor": actor}
        self.hub.send_control({**message, "from": self.hub.instance_id})


@dataclass(slots=True)
class RedisCluster:
    """The running scale-out parts of one instance: hub, leases, peers, the idle sweeper."""

    hub: RedisHub
    leases: RedisLeases
    runtimes: SessionRuntimes
    idle_s: float
    _sweeper: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, settings: Settings, store: Store, viewers: Viewers, cue_config: CueConfig | None = None
    ) -> RedisCluster:
        """Connect to ``settings.redis_url`` and start reading, writing and renewing."""
        url = settings.redis_url or ""
        instance_id = settings.resolved_instance_id()
        keys = RedisKeys(settings.redis_prefix)
        redis = Redis.from_url(url, decode_responses=True, socket_timeout=10)
        reader = Redis.from_url(url, decode_responses=True, socket_timeout=30)
        leases = RedisLeases(redis, instance_id, keys, settings.lease_ttl_s)
        hub = RedisHub(
            redis,
            reader,
            instance_id,
            leases.fence,
            keys,
            buffer_messages=settings.live_buffer_messages,
            queue_messages=settings.subscriber_queue_messages,
            stream_ttl_s=settings.live_stream_ttl_s,
        )
        runtimes = SessionRuntimes(
            store, hub, leases, cue_config=cue_config or default_cue_config()
        )
        leases.on_lost = runtimes.drop
        RedisPeers(hub, runtimes, viewers).connect()
        try:
            await hub.start()
        except (RedisError, OSError) as exc:
            await redis.aclose()
            await reader.aclose()
            raise ConfigError(f"Redis at {url} is out of reach: {exc}") from exc
        await leases.start()
        cluster = cls(hub, leases, runtimes, settings.lease_idle_s)
        cluster._sweeper = asyncio.create_task(cluster._sweep_forever(), name="lease-sweeper")
        log.info("scale_out_started", instance=instance_id, prefix=keys.prefix)
        return cluster

    async def stop(self) -> None:
        """Flush what is queued for Redis, then hand every lease back."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.hub.stop()
        await self.leases.stop()
        await self.hub.redis.aclose()
        await self.hub.reader_redis.aclose()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(min(self.idle_s, self.leases.ttl_s))
            for session_id in await self.runtimes.release_idle(self.idle_s):
                log.info("session_released_idle", session=session_id)
