"""How the serving process collects cyclic garbage.

CPython's cycle collector runs a *full* collection whenever the objects promoted to the
oldest generation since the last one reach a quarter of it. A service holding thousands of
sockets and sessions keeps a large old generation that it also churns (beats, metrics and
live messages live for seconds, then go), so full collections come every few seconds and
each stops the event loop while it walks every tracked object: at 2,000 straps, 0.5 to 0.7 s
every ~12 s (``attune bench load``; docs/deployment.md, Capacity). Those stops, not the
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
  exception's traceback) are still freed, at a known rate, with its pause logged.
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


@dataclass(frozen=True, slots=True)
class GcPolicy:
    """``full_every_s``: seconds between scheduled full collections (0: CPython's defaults)."""

    full_every_s: float = 600.0

    @property
    def enabled(self) -> bool:
        return self.full_every_s > 0


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
    collect: Callable[[], int] = gc.collect,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Run a full collection every ``policy.full_every_s`` and log its pause (a task for
    the life of the server; returns at once when the policy is disabled)."""
    if not policy.enabled:
        return
    while True:
        await sleep(policy.full_every_s)
        started_s = clock()
        collected = collect()
        log.info("gc_full", pause_ms=round((clock() - started_s) * 1000.0, 1), collected=collected)
