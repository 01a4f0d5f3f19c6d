"""Redis Streams hub: live fan-out across service instances (redis-py, asyncio).

Each session has one stream. Its entries' ids are the live ``seq`` itself (``"{seq}-0"``),
so a stream id *is* a resume point, and Redis refuses an id at or below the stream's top:
no message is ever added twice, whoever retries. Only the instance holding the session's
lease (``attune.api.ownership``) may add entries: the publishing script checks the lease's
value (its fencing token) atomically with the ``XADD``, so a former owner that has not yet
noticed it lost the lease cannot write. ``MAXLEN ~`` bounds each stream to about the resume
buffer; a stream expires ``stream_ttl_s`` after its last message (it only serves resumes:
the recording in the database is the source of truth).

Every instance runs one reader task: one blocking ``XREAD`` over the streams of the
sessions it has viewers for (each from the last id it delivered) and the control stream,
which carries erasures and other instance-wide notices. It hands entries to the same
bounded ``Subscription`` queues as the in-memory hub. Publishing only queues the message
for a writer task, which sends whatever has queued in one pipelined round trip, so ingest
never waits on Redis, and under load many messages share one round trip.

Keys (``prefix`` keeps deployments, and test runs, apart; ``{session}`` is a Redis Cluster
hash tag, so a session's keys share a slot and one script may touch them all):

    {prefix}live:{session}     the session's live messages: fields t (JSON), a (roles), d
    {prefix}erased:{session}   set when the session is erased: nothing may publish to it
    {prefix}lease:{session}    its owner (api/ownership.py)
    {prefix}control            notices every instance reads (JSON in field m)
    {prefix}wake:{instance}    wakes an instance's reader when it starts reading a stream
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError

from attune.hub.subscription import (
    EndReason,
    LiveItem,
    Subscription,
    audience_of,
    audience_text,
)

log = structlog.get_logger(__name__)

Entries = list[tuple[str, dict[str, str]]]  # stream entries, decoded (decode_responses)
ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]
FenceLookup = Callable[[str], str | None]

# KEYS: lease, erased, stream. ARGV: fence, maxlen, ttl_ms, then (seq, text, roles, droppable)*.
# Returns how many entries it added, -1 when the caller does not hold the lease, -2 when the
# session was erased. Entries at or below the stream's top are skipped (a restore after a
# takeover re-offers messages the old owner already published).
_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
local top = 0
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
if #last > 0 then top = tonumber(string.match(last[1][1], '^(%d+)')) end
local added = 0
for i = 4, #ARGV, 4 do
  local seq = tonumber(ARGV[i])
  if seq > top then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], ARGV[i] .. '-0',
               't', ARGV[i + 1], 'a', ARGV[i + 2], 'd', ARGV[i + 3])
    top = seq
    added = added + 1
  end
end
if added > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
return added
"""
_SCRIPT_ENTRIES = 256  # entries per script call: bounds how long one call holds Redis
_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix."""

    prefix: str = "attune:"

    def live(self, session_id: str) -> str:
        return f"{self.prefix}live:{{{session_id}}}"

    def session_of(self, live_key: str) -> str:
        """The session id in a ``live`` key."""
        return live_key[len(self.keys_live_head) : -1]

    @property
    def keys_live_head(self) -> str:
        return f"{self.prefix}live:{{"

    def erased(self, session_id: str) -> str:
        return f"{self.prefix}erased:{{{session_id}}}"

    def lease(self, session_id: str) -> str:
        return f"{self.prefix}lease:{{{session_id}}}"

    def fence(self, session_id: str) -> str:
        return f"{self.prefix}fence:{{{session_id}}}"

    @property
    def control(self) -> str:
        return f"{self.prefix}control"

    def wake(self, instance_id: str) -> str:
        return f"{self.prefix}wake:{instance_id}"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}reply:{request_id}"


async def top_id(redis: Redis, key: str) -> str | None:
    """The id of a stream's last entry, or None for an empty or missing stream."""
    last = cast("Entries", await redis.xrevrange(key, count=1))
    return last[0][0] if last else None


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


def _seq(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _item(entry_id: str, fields: dict[str, str]) -> LiveItem:
    return LiveItem(
        _seq(entry_id), audience_of(fields.get("a", "")), fields["t"], fields.get("d") == "1"
    )


@dataclass(slots=True)
class _Channel:
    """A session this instance has viewers for."""

    cursor: int | None = None  # the last seq handed to subscribers; None until known
    subscribers: set[Subscription] = field(default_factory=set)
    # Subscribers fetching their backlog: what arrives meanwhile waits here, in order.
    joining: dict[Subscription, list[LiveItem]] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _Publish:
    session_id: str
    item: LiveItem


@dataclass(slots=True)
class _Erase:
    session_id: str


@dataclass(slots=True)
class _Control:
    message: dict[str, Any]


_Op = _Publish | _Erase | _Control


@dataclass(slots=True)
class RedisHub:
    """The ``Hub`` over Redis Streams. ``start()`` runs its writer and reader; ``stop()``
    flushes what is queued and ends them."""

    redis: Redis
    reader_redis: Redis  # its own connections: the reader's XREAD blocks
    instance_id: str
    fence_of: FenceLookup  # the lease value this instance holds for a session, if any
    keys: RedisKeys = field(default_factory=RedisKeys)
    buffer_messages: int = 5000
    queue_messages: int = 1000
    stream_ttl_s: float = 3600.0
    max_queued: int = 200_000  # ops waiting for Redis; beyond it the oldest go (logged)
    block_ms: int = 5000
    on_control: ControlHandler | None = None
    published: int = 0
    refused: int = 0  # entries a script refused (lease lost or session erased)
    _ops: deque[_Op] = field(default_factory=deque)
    _pending: asyncio.Event = field(default_factory=asyncio.Event)
    _flushed: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))
    _channels: dict[str, _Channel] = field(default_factory=dict)
    _control_cursor: str = "0-0"
    # Not "$": a wake sent before the XREAD reaches Redis must still wake it.
    _wake_cursor: str = "0-0"
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _handling: set[asyncio.Task[None]] = field(default_factory=set)
    _publish_sha: str = ""

    # Lifecycle

    async def start(self) -> None:
        self._control_cursor = await top_id(self.redis, self.keys.control) or "0-0"
        self._wake_cursor = await top_id(self.redis, self.keys.wake(self.instance_id)) or "0-0"
        self._tasks = [
            asyncio.create_task(self._write_forever(), name="hub-writer"),
            asyncio.create_task(self._read_forever(), name="hub-reader"),
        ]

    async def stop(self, flush_timeout_s: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flushed.wait(), flush_timeout_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self._channels.values():
            for subscription in (*channel.subscribers, *channel.joining):
                subscription.end(EndReason.OVERFLOW)  # the viewer reconnects elsewhere

    # Hub

    def publish(self, session_id: str, item: LiveItem) -> None:
        self._queue(_Publish(session_id, item))

    def restore(self, session_id: str, items: Sequence[LiveItem]) -> None:
        """Offer the rebuilt tail: the script adds only what the stream lacks (what a dead
        owner committed but never published), so viewers see no gap and no repeat."""
        for item in items:
            self._queue(_Publish(session_id, item))

    def close(self, session_id: str) -> None:
        self._queue(_Erase(session_id))

    def send_control(self, message: dict[str, Any]) -> None:
        """Tell every instance (this one included) something; see ``on_control``."""
        self._queue(_Control(message))

    async def subscribe(self, session_id: str, role: str, after_seq: int | None) -> Subscription:
        channel = self._channels.get(session_id)
        if channel is None:
            channel = self._channels[session_id] = _Channel()
            await self._open(session_id, channel)
        await channel.ready.wait()
        if channel.cursor is None:
            raise ConnectionError("the live stream could not be opened; reconnect")
        head = channel.cursor or 0
        subscription = Subscription(role, self.queue_messages, head)
        start = head if after_seq is None else min(after_seq, head)
        if start >= head:
            channel.subscribers.add(subscription)
            return subscription
        channel.joining[subscription] = []
        try:
            key = self.keys.live(session_id)
            entries = cast("Entries", await self.redis.xrange(key, f"{start + 1}-0", f"{head}-0"))
        except BaseException:
            channel.joining.pop(subscription, None)
            raise
        held = channel.joining.pop(subscription)
        # The backlog is what the viewer asked for: it gets room on top of the live queue.
        subscription.capacity += len(entries)
        for entry_id, fields in entries:
            subscription.offer(_item(entry_id, fields))
        for item in held:
            subscription.offer(item)
        channel.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, session_id: str, subscription: Subscription) -> None:
        channel = self._channels.get(session_id)
        if channel is None:
            return
        channel.subscribers.discard(subscription)
        channel.joining.pop(subscription, None)
        if not channel.subscribers and not channel.joining:
            del self._channels[session_id]  # the reader stops reading its stream

    async def _open(self, session_id: str, channel: _Channel) -> None:
        """Start reading a session's stream from its current top."""
        try:
            last = await top_id(self.redis, self.keys.live(session_id))
        except BaseException:
            self._channels.pop(session_id, None)
            channel.ready.set()
            raise
        channel.cursor = _seq(last) if last else 0
        channel.ready.set()
        # Interrupt the reader's blocking XREAD so that it includes the new stream.
        await self.redis.xadd(self.keys.wake(self.instance_id), {"w": "1"}, maxlen=1)

    # Writer

    def _queue(self, op: _Op) -> None:
        if len(self._ops) >= self.max_queued:
            self._ops.popleft()
            log.error("hub_queue_full", dropped=1, limit=self.max_queued)
        self._ops.append(op)
        self._flushed.clear()
        self._pending.set()

    async def _write_forever(self) -> None:
        failures = 0
        while True:
            if not self._ops:
                self._flushed.set()
                self._pending.clear()
                await self._pending.wait()
            batch = list(self._ops)
            try:
                await self._write(batch)
            except NoScriptError:  # Redis restarted and forgot the script
                self._publish_sha = ""
                continue
            except (RedisError, OSError) as exc:
                delay_s = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                log.warning("hub_write_failed", error=str(exc), retry_in_s=delay_s)
                await asyncio.sleep(delay_s)
                continue
            failures = 0
            for _ in batch:
                self._ops.popleft()

    async def _write(self, batch: list[_Op]) -> None:
        """One pipelined round trip: consecutive messages of a session share script calls."""
        if not self._publish_sha:
            self._publish_sha = str(await self.redis.script_load(_PUBLISH))
        pipe = self.redis.pipeline(transaction=False)
        # What each pipelined command was: (session, entries) for a publish script call,
        # None for the rest; results come back in the same order.
        sent: list[tuple[str, int] | None] = []
        run: list[LiveItem] = []
        run_session = ""

        def flush_run() -> None:
            for start in range(0, len(run), _SCRIPT_ENTRIES):
                chunk = run[start : start + _SCRIPT_ENTRIES]
                self._add_publish(pipe, run_session, chunk)
                sent.append((run_session, len(chunk)))
            run.clear()

        for op in batch:
            if isinstance(op, _Publish) and op.session_id == run_session:
                run.append(op.item)
                continue
            flush_run()
            run_session = ""
            if isinstance(op, _Publish):
                run_session = op.session_id
                run.append(op.item)
            elif isinstance(op, _Erase):
                sent += [None] * self._add_erase(pipe, op.session_id)
            else:
                pipe.xadd(self.keys.control, {"m": json.dumps(op.message)}, maxlen=1000)
                sent.append(None)
        flush_run()
        for what, result in zip(sent, await pipe.execute(), strict=True):
            if what is not None:
                self._count(*what, int(result))

    def _add_publish(self, pipe: Pipeline, session_id: str, items: list[LiveItem]) -> None:
        fence = self.fence_of(session_id) or ""
        argv: list[str | int] = [fence, self.buffer_messages, int(self.stream_ttl_s * 1000)]
        for item in items:
            argv += [item.seq, item.text, audience_text(item.audience), int(item.droppable)]
        keys = (self.keys.lease(session_id), self.keys.erased(session_id))
        pipe.evalsha(self._publish_sha, 3, *keys, self.keys.live(session_id), *argv)

    def _add_erase(self, pipe: Pipeline, session_id: str) -> int:
        """Queue an erasure's commands; returns how many. The marker outlives any lease and
        stream, so nothing can publish to the session again."""
        pipe.set(self.keys.erased(session_id), "1", ex=7 * 24 * 3600)
        pipe.delete(self.keys.live(session_id), self.keys.lease(session_id))
        erase = json.dumps({"op": "erase", "session": session_id})
        pipe.xadd(self.keys.control, {"m": erase}, maxlen=1000)
        return 3

    def _count(self, session_id: str, entries: int, added: int) -> None:
        if added >= 0:
            self.published += added
            return
        self.refused += entries
        why = "lease_lost" if added == -1 else "session_erased"
        log.warning("hub_publish_refused", session=session_id, reason=why, n=entries)

    # Reader

    async def _read_forever(self) -> None:
        failures = 0
        wake = self.keys.wake(self.instance_id)
        while True:
            streams: dict[Any, Any] = {
                self.keys.control: self._control_cursor,
                wake: self._wake_cursor,
            }
            for session_id, channel in self._channels.items():
                if channel.cursor is not None:
                    streams[self.keys.live(session_id)] = f"{channel.cursor}-0"
            try:
                reply = await self.reader_redis.xread(streams, count=1000, block=self.block_ms)
            except (RedisError, OSError) as exc:
                delay_s = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                log.warning("hub_read_failed", error=str(exc), retry_in_s=delay_s)
                await asyncio.sleep(delay_s)
                continue
            failures = 0
            for key, entries in cast("list[tuple[str, Entries]]", reply or []):
                if key == self.keys.control:
                    self._on_control_entries(entries)
                elif key == wake:
                    self._wake_cursor = entries[-1][0]
                else:
                    self._deliver(key, entries)

    def _deliver(self, key: str, entries: Entries) -> None:
        session_id = self.keys.session_of(key)
        channel = self._channels.get(session_id)
        if channel is None or channel.cursor is None:
            return
        for entry_id, fields in entries:
            item = _item(entry_id, fields)
            if item.seq <= channel.cursor:
                continue
            channel.cursor = item.seq
            for subscription in channel.subscribers:
                subscription.offer(item)
            for held in channel.joining.values():
                held.append(item)

    def _on_control_entries(self, entries: Entries) -> None:
        for entry_id, fields in entries:
            self._control_cursor = entry_id
            try:
                message = json.loads(fields["m"])
            except (KeyError, ValueError):
                log.warning("hub_bad_control", entry=entry_id)
                continue
            if message.get("op") == "erase":
                self._end_local(str(message.get("session")))
            if self.on_control is not None:
                # Handled beside the reader (a marker waits on the database), not in it.
                task = asyncio.create_task(self._control(self.on_control, message))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)

    @staticmethod
    async def _control(handler: ControlHandler, message: dict[str, Any]) -> None:
        try:
            await handler(message)
        except Exception:
            log.exception("hub_control_failed", op=message.get("op"))

    def _end_local(self, session_id: str) -> None:
        channel = self._channels.pop(session_id, None)
        if channel is not None:
            for subscription in (*channel.subscribers, *channel.joining):
                subscription.end(EndReason.CLOSED)
