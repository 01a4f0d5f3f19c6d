"""In-memory hub, the default for one process serving a clinic.

Publishing never waits: each subscriber has a bounded queue and, when it is full, loses its
oldest message (the seq gap tells the browser, which can resume). A slow or stalled
dashboard therefore never delays ingest or the other dashboards.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LiveItem:
    """One serialised live message and the roles allowed to see it."""

    seq: int
    audience: frozenset[str]
    text: str


@dataclass(eq=False, slots=True)
class Subscription:
    """A subscriber's bounded queue."""

    role: str
    capacity: int
    dropped: int = 0
    _items: deque[LiveItem] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, item: LiveItem) -> None:
        if self.role not in item.audience:
            return
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    async def get(self) -> LiveItem:
        """Wait for and return the next message."""
        while not self._items:
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

    def subscribe(self, session_id: str, role: str, after_seq: int | None) -> Subscription:
        """Subscribe; buffered messages after ``after_seq`` are queued first (resume)."""
        channel = self._channel(session_id)
        subscription = Subscription(role, self.queue_messages)
        if after_seq is not None:
            for item in channel.buffer:
                if item.seq > after_seq:
                    subscription.offer(item)
        channel.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, session_id: str, subscription: Subscription) -> None:
        channel = self._channels.get(session_id)
        if channel is not None:
            channel.subscribers.discard(subscription)

    def _channel(self, session_id: str) -> _Channel:
        if session_id not in self._channels:
            self._channels[session_id] = _Channel(deque(maxlen=self.buffer_messages))
        return self._channels[session_id]
