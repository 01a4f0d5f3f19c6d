"""A faster clock for the virtual strap tier and the fault benchmark.

Strap, collector and service all read the same ``ScaledClock``, so "strap time" runs
``scale`` times faster than real time everywhere at once: a 1 s notification interval takes
1/scale s, a 5 s silence watchdog 5/scale s, and the beat timeline still sees RR sums that
match the arrival clock. Wall time starts at the real time of creation.
"""

from __future__ import annotations

import asyncio
import time


class ScaledClock:
    """Implements ``attune.collector.clock.Clock`` at ``scale`` x real speed."""

    def __init__(self, scale: float = 1.0, *, origin_s: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._origin_s = time.time() if origin_s is None else origin_s
        self._start = time.monotonic()

    def monotonic_s(self) -> float:
        return (time.monotonic() - self._start) * self.scale

    def now_s(self) -> float:
        return self._origin_s + self.monotonic_s()

    def real_s(self, duration_s: float) -> float:
        return duration_s / self.scale

    async def sleep(self, duration_s: float) -> None:
        await asyncio.sleep(max(0.0, duration_s) / self.scale)
