"""Bounded waits for tests that watch real sockets and processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

PATIENCE_S = 20.0


async def eventually(
    predicate: Callable[[], bool], what: str, within_s: float = PATIENCE_S
) -> None:
    """Wait (real time, bounded) until ``predicate()`` holds; fail naming ``what``.

    A bound on a wait, not a timing assertion: ``within_s`` is far above what it takes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)
