"""Time for the collector, passed in rather than read from globals.

Arrival stamps are wall-clock Unix seconds (the protocol's ``received_at_s``); waits and
silence are measured on a monotonic clock so a wall-clock step (NTP) cannot fire a watchdog.
The virtual strap tier runs the whole chain on a faster clock (``attune.testing.clock``), so
every duration here is in the clock's own seconds ("strap time"), and ``real_s`` converts one
for libraries that take real timeouts (Bleak's connect timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """Wall time for stamps, monotonic time for durations, and sleeping in the same units."""

    def now_s(self) -> float: ...
    def monotonic_s(self) -> float: ...
    def real_s(self, duration_s: float) -> float: ...
    async def sleep(self, duration_s: float) -> None: ...


class SystemClock:
    """The real clocks."""

    def now_s(self) -> float:
        return time.time()

    def monotonic_s(self) -> float:
        return time.monotonic()

    def real_s(self, duration_s: float) -> float:
        return duration_s

    async def sleep(self, duration_s: float) -> None:
        await asyncio.sleep(max(0.0, duration_s))


async def wait_event(clock: Clock, event: asyncio.Event, timeout_s: float) -> bool:
    """Wait for ``event`` at most ``timeout_s`` clock seconds; True if it was set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), clock.real_s(max(0.0, timeout_s)))
    return event.is_set()


async def until_event(awaitable: Awaitable[T], event: asyncio.Event) -> T | None:
    """Await ``awaitable`` unless ``event`` is set first (then cancel it and return None)."""
    task = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()
