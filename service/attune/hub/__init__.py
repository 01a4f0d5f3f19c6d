"""Live fan-out: one ``Hub`` interface, in memory by default, Redis Streams for scale-out.

A hub carries each session's numbered live messages from the instance that computes them
to the viewers on every instance. Publishing never waits (ingest must not stall on a
viewer or on the network); every subscriber has a bounded queue (``Subscription``); a
resume buffer of recent messages lets a viewer continue after its last ``seq``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from attune.hub.memory import MemoryHub
from attune.hub.subscription import EndReason, LiveItem, Subscription, SubscriptionEnded


class Hub(Protocol):
    """What the service needs from a hub (``MemoryHub``, ``attune.hub.redis.RedisHub``)."""

    @property
    def buffer_messages(self) -> int:
        """How many recent messages a viewer can resume from."""
        ...

    def publish(self, session_id: str, item: LiveItem) -> None:
        """Fan ``item`` out to the session's subscribers; never waits."""

    def restore(self, session_id: str, items: Sequence[LiveItem]) -> None:
        """After a runtime was rebuilt from the recording: make ``items`` (its latest
        messages, in seq order) the tail of the session's resume buffer."""

    async def subscribe(self, session_id: str, role: str, after_seq: int | None) -> Subscription:
        """A bounded queue of the session's messages for ``role``; with ``after_seq``, the
        buffered messages after it come first."""
        ...

    def unsubscribe(self, session_id: str, subscription: Subscription) -> None: ...

    def close(self, session_id: str) -> None:
        """The session was erased: end its subscriptions (everywhere) and drop its buffer."""


__all__ = ["EndReason", "Hub", "LiveItem", "MemoryHub", "Subscription", "SubscriptionEnded"]
