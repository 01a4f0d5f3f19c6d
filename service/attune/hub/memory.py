"""In-memory hub, the default for one process serving a clinic.

Publishing never waits. Each subscriber has a bounded queue; when it is full the oldest
*droppable* message goes (beats and metrics: the next one supersedes them), and the seq gap
tells the browser. State changes (gaps, link, markers) are never dropped silently: a
subscriber whose queue is full of them has fallen too far behind and its subscription ends,
so the socket closes and the browser resumes from the buffer with ``after_seq``. A slow or
stalled dashboard therefore never delays ingest or the other dashboards.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LiveItem:
    """One serialised live message, the viewer roles allowed to see it, and whether a slow
    viewer may miss it."""

    seq: int
    audience: frozenset[str]
    text: str
    droppable: bool = False


class EndReason(enum.StrEnum):
    OVERFLOW = "overflow"  # too far behind: the queue is full of messages that must not drop
    CLOSED = "closed"  # the session is gone (deleted)


class SubscriptionEnded(Exception):  # noqa: N818 - an outcome, not an error condition
    """Raised by ``Subscription.get`` once the subscription has ended."""

    def __init__(self, reason: EndReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(eq=False, slots=True)
class Subscription:
    """A subscriber's bounded queue."""

    role: str
    capacity: int
    dropped: int = 0
    ended: EndReason | None = None
    _items: deque[LiveItem] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pending(self) -> int:
        """Messages queued and not yet taken."""
        return len(self._items)

    def offer(self, item: LiveItem) -> None:
        if self.ended is not None or self.role not in item.audience:
            return
        if len(self._items) >= self.capacity and not self._drop_oldest_droppable():
            self.end(EndReason.OVERFLOW)
            return
        self._items.append(item)
        self._ready.set()

    def end(self, reason: EndReason) -> None:
        self.ended = reason
        self._items.clear()
        self._ready.set()

    def _drop_oldest_droppable(self) -> bool:
        for index, queued in enumerate(self._items):
            if queued.droppable:
                del self._items[index]
                self.dropped += 1
                return True
        return False

    async def get(self) -> LiveItem:
        """Wait for and return the next message; SubscriptionEnded once it has ended."""
        while not self._items:
            if self.ended is not None:
                raise SubscriptionEnded(self.ended)
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


@dataclass(slots=True)
class _Channel:
    buffer: deque[LiveItem]
    subscribers: set[Subscription] = field(default_factory=set)


@dataclass(slots=True)
class MemoryHub:
    """Per-session channels with a resume buffer of the last ``buffer_messages`` messages."""

    buffer_messages: int = 5000
    queue_messages: int = 1000
    _channels: dict[str, _Channel] = field(default_factory=dict)

    def publish(self, session_id: str, item: LiveItem) -> None:
        channel = self._channel(session_id)
        channel.buffer.append(item)
        for subscription in channel.subscribers:
            subscription.offer(item)

    def restore(self, session_id: str, items: Iterable[LiveItem]) -> None:
        """Refill a session's resume buffer (after a restart rebuilt its messages)."""
        channel = self._channel(session_id)
        channel.buffer.clear()
        channel.buffer.extend(items)

    def subscribe(self, session_id: str, role: str, after_seq: int | None) -> Subscription:
        """Subscribe; buffered messages after ``after_seq`` are queued first (resume)."""
        channel = self._channel(session_id)
        backlog = [] if after_seq is None else [i for i in channel.buffer if i.seq > after_seq]
        # The backlog is what the viewer asked for: it gets room on top of the live queue.
        subscription = Subscription(role, self.queue_messages + len(backlog))
        for item in backlog:
            subscription.offer(item)
        channel.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, session_id: str, subscription: Subscription) -> None:
        channel = self._channels.get(session_id)
        if channel is not None:
            channel.subscribers.discard(subscription)

    def close(self, session_id: str) -> None:
        """Forget a session: end its subscriptions and drop its buffer."""
        channel = self._channels.pop(session_id, None)
        if channel is not None:
            for subscription in channel.subscribers:
                subscription.end(EndReason.CLOSED)

    def _channel(self, session_id: str) -> _Channel:
        if session_id not in self._channels:
            self._channels[session_id] = _Channel(deque(maxlen=self.buffer_messages))
        return self._channels[session_id]
