"""What every hub hands out: live items and bounded per-subscriber queues.

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
import functools
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LiveItem:
    """One serialised live message, the viewer roles allowed to see it, and whether a slow
    viewer may miss it."""

    seq: int
    audience: frozenset[str]
    text: str
    droppable: bool = False


@functools.lru_cache(maxsize=64)
def audience_text(audience: frozenset[str]) -> str:
    """An audience as text: its roles sorted and comma-separated (``audience_of`` reverses it)."""
    return ",".join(sorted(audience))


@functools.lru_cache(maxsize=64)
def audience_of(text: str) -> frozenset[str]:
    """The audience that ``audience_text`` wrote as ``text``."""
    return frozenset(text.split(",")) if text else frozenset()


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
    """A subscriber's bounded queue. ``head_seq`` is the session's latest seq when it
    subscribed: live messages follow it (a resume's backlog comes first)."""

    role: str
    capacity: int
    head_seq: int = 0
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
