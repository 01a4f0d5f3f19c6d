"""In-memory hub, the default for one process serving a clinic: per-session channels with a
resume buffer of the last ``buffer_messages`` messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from attune.hub.resume_buffer import ResumeBuffer
from attune.hub.subscription import EndReason, LiveItem, Subscription


@dataclass(slots=True)
class _Channel:
    buffer: ResumeBuffer
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

    async def subscribe(self, session_id: str, role: str, after_seq: int | None) -> Subscription:
        """Subscribe; buffered messages after ``after_seq`` are queued first (resume)."""
        channel = self._channel(session_id)
        latest = channel.buffer.last_seq
        backlog = [] if after_seq is None else channel.buffer.after(after_seq)
        # The backlog is what the viewer asked for: it gets room on top of the live queue.
        subscription = Subscription(role, self.queue_messages + len(backlog), latest)
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
            self._channels[session_id] = _Channel(ResumeBuffer(self.buffer_messages))
        return self._channels[session_id]
