"""Group commit: collector messages of all sessions that arrive while a commit is under way
share the next one.

Every ingest ack promises a durable commit (SQLite ``synchronous=FULL``: an fsync each), so
one commit per message costs a transaction, an fsync and a dozen hops to the database
thread each (``attune bench load``: about half the service's CPU). Instead, a message waits
up to ``linger_s`` for others, and whatever queues behind a commit under way goes into the
next one, so batches grow with the load while each message is still acked only after its
own commit. The linger is the price: a few milliseconds on every ack.

Commits also start at least ``interval_s`` apart. A commit has a fixed cost whatever it
holds (on SQLite about 0.4 ms of the writer's CPU for BEGIN, the log's pages and the fsync,
against 0.05 ms a message: docs/capacity-log.md), and back-to-back commits under
load ran 107-146 a second with 3-4 messages each. At most 50 a second, each takes
what 20 ms brought: at 450 straps that took the service from 1.90-2.02 to 1.59-1.61 ms of
CPU a strap-second (two pairs of runs). A message waits at most ``interval_s`` more for it,
and only under load: one arriving after a quiet spell still waits ``linger_s`` alone.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Protocol

from attune.protocol.ingest import Batch
from attune.store.recording import PendingRecord, RecordOutcome

# Bound one transaction (and a fallback's one-by-one retry): messages, and the notifications
# in them, since a collector catching up sends up to MAX_NOTIFICATIONS_PER_BATCH in one
# message. On SQLite every other writer waits for the transaction (store.database.Database).
MAX_BATCH = 512
MAX_BATCH_NOTIFICATIONS = 4096


class Recorder(Protocol):
    """What commits the messages (``attune.store.recording.Recording``)."""

    async def record_many(self, items: list[PendingRecord]) -> list[RecordOutcome | Exception]:
        """Commit ``items`` in one transaction: each one's outcome, or its error."""
        ...


def commit_wait_s(
    now_s: float, last_start_s: float, *, linger_s: float, interval_s: float
) -> float:
    """How long to wait before the next commit: at least ``linger_s`` (0 once messages
    queued behind a commit), and until ``interval_s`` after the previous one started."""
    return max(linger_s, last_start_s + interval_s - now_s, 0.0)


@dataclass(slots=True)
class GroupCommit:
    """``await record(item)`` -> its outcome, committed with whatever else is waiting."""

    recording: Recorder
    linger_s: float = 0.005
    interval_s: float = 0.02
    batches: int = 0  # commits made, for the benchmark's figures
    committed: int = 0
    _waiting: list[tuple[PendingRecord, asyncio.Future[RecordOutcome]]] = field(
        default_factory=list
    )
    _flusher: asyncio.Task[None] | None = None
    _last_start_s: float = -math.inf  # the loop's clock

    async def record(self, item: PendingRecord) -> RecordOutcome:
        future: asyncio.Future[RecordOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop, linger_s = asyncio.get_running_loop(), self.linger_s
        while self._waiting:
            wait_s = commit_wait_s(
                loop.time(), self._last_start_s, linger_s=linger_s, interval_s=self.interval_s
            )
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            linger_s = 0.0  # what queued behind a commit has waited long enough for company
            self._last_start_s = loop.time()
            size = _batch_size(self._waiting)
            batch, self._waiting = self._waiting[:size], self._waiting[size:]
            try:
                outcomes = await self.recording.record_many([item for item, _ in batch])
            except BaseException as exc:  # storage failed: every waiter hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self.batches += 1
            self.committed += len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


def _batch_size(waiting: list[tuple[PendingRecord, asyncio.Future[RecordOutcome]]]) -> int:
    """How many of the waiting messages the next transaction takes (at least one)."""
    notifications = 0
    for count, (item, _) in enumerate(waiting[:MAX_BATCH]):
        message = item.message
        notifications += len(message.notifications) if isinstance(message, Batch) else 1
        if notifications > MAX_BATCH_NOTIFICATIONS:
            return max(1, count)
    return min(len(waiting), MAX_BATCH)
