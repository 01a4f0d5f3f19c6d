"""How the serving process collects cyclic garbage.

CPython's cycle collector runs a *full* collection whenever the objects promoted to the
oldest generation since the last one reach a quarter of it. A service holding thousands of
sockets and sessions keeps a large old generation that it also churns (beats, metrics and
live messages live for seconds, then go), so full collections come every few seconds and
each stops the event loop while it walks every tracked object: at 2,000 straps, 0.5 to 0.7 s
every ~12 s (``attune bench load``; docs/capacity-log.md). Those stops, not the
average load, were what broke the ingest-to-dashboard p99.

Almost everything here is freed by reference counting (the full collections found nothing
to collect), so the policy, as Instagram's and others' for latency-bound CPython services:

- the objects alive after start-up (modules, the app, validators) are frozen out of the
  collector's view (``gc.freeze``): they live as long as the process;
- young collections stay automatic. The first generation keeps CPython's threshold: a
  larger one made each young collection proportionally longer (10,000 objects: 30-50 ms
  stops, from walking the survivors' references across a large heap) for no measurable
  saving. The middle generation is collected after every third young collection instead
  of every eleventh (``MIDDLE_AFTER``): most of what survives a young collection here lives
  for minutes (the resume buffer's messages, the engines' beats), so a middle collection
  walks what three young ones passed on rather than eleven, and stops the loop that much less
  (``attune bench load``, 900 straps in steady state: 19 -> 4 ms a middle collection on
  average, the collector's share of a core 3.5 -> 2.9 %, memory per strap unchanged);
- automatic full collections are off; one runs every ``full_every_s`` instead (default ten
  minutes), so cycles that did reach the old generation (a closed socket's objects, an
  exception's traceback) are still freed, at a known rate, with its pause logged;
- a young collection also runs every ``young_every_s`` (default 0.1 s; every third one takes
  the middle generation too). CPython (3.11) starts a young collection when container
  allocations minus container deallocations pass 700, and deallocations of *old* objects
  count too: each session's resume buffer drops its oldest message for every new one, so
  under steady load that count stays near zero while the young generation fills. At 1,250
  straps it held 152,047 objects; a young collection every 4-20 s stopped the loop 43-84 ms
  and a middle one about every 30 s 144-164 ms, and runs at that load held in two of three.
  On the timer each walks what 100 ms brought: middle collections 6.6-10.2 ms at the median
  and 22 ms at most at 1,250 and 1,500 straps, for no more CPU (docs/capacity-log.md, tenth
  machine).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

# set_threshold takes a C int; a full collection is due when this many young-generation
# collections have happened since the last one: never, in practice.
NEVER = 2**31 - 1
# A middle-generation collection once more young ones than this have run (CPython: 10).
MIDDLE_AFTER = 2
OLDEST = 2  # gc.collect(OLDEST) is a full collection (generations 0 young, 1 middle)


@dataclass(frozen=True, slots=True)
class GcPolicy:
    """``full_every_s``: seconds between scheduled full collections (0: CPython's defaults,
    and nothing scheduled); ``young_every_s``: seconds between timed young collections (0:
    only CPython's own)."""

    full_every_s: float = 600.0
    young_every_s: float = 0.1

    @property
    def enabled(self) -> bool:
        return self.full_every_s > 0

    def schedule(self) -> tuple[float, int]:
        """The timer's period and how many of its ticks make one full-collection period."""
        if self.young_every_s <= 0:
            return self.full_every_s, 1
        return self.young_every_s, max(1, round(self.full_every_s / self.young_every_s))


def generation_due(tick: int, ticks_per_full: int) -> int:
    """The generation the ``tick``-th timed collection (counting from 1) takes: the full one
    every ``ticks_per_full`` ticks, the middle one every ``MIDDLE_AFTER + 1``, else the young
    one (the same rhythm CPython keeps between the young and the middle generation)."""
    if tick % ticks_per_full == 0:
        return OLDEST
    if tick % (MIDDLE_AFTER + 1) == 0:
        return 1
    return 0


def apply(policy: GcPolicy) -> None:
    """Freeze what start-up left alive and take over full collections (if enabled)."""
    if not policy.enabled:
        return
    gc.collect()  # start-up's own garbage goes now, not into the frozen set
    gc.freeze()
    young_objects, _, _ = gc.get_threshold()
    gc.set_threshold(young_objects, MIDDLE_AFTER, NEVER)
    log.info("gc_policy", frozen_objects=gc.get_freeze_count(), full_every_s=policy.full_every_s)


async def collect_forever(
    policy: GcPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    collect: Callable[[int], int] = gc.collect,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Run the timed collections (young, middle and, every ``policy.full_every_s``, full),
    logging each full one's pause (a task for the life of the server; returns at once when
    the policy is disabled)."""
    if not policy.enabled:
        return
    period_s, ticks_per_full = policy.schedule()
    tick = 0
    while True:
        await sleep(period_s)
        tick += 1
        generation = generation_due(tick, ticks_per_full)
        started_s = clock()
        collected = collect(generation)
        if generation == OLDEST:
            pause_ms = round((clock() - started_s) * 1000.0, 1)
            log.info("gc_full", pause_ms=pause_ms, collected=collected)
