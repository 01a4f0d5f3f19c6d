"""``attune bench faults``: a seeded, randomized fault run through the whole chain.

virtual straps (fake BlueZ on a private D-Bus) -> real Bleak -> collector -> uplink -> real
service on loopback -> recording, all on one clock running ``--time-scale`` times faster than
real time. Random faults hit the straps, the adapter, the service and the collector itself;
afterwards each strap's ledger is audited against the recording (``attune.testing.audit``):
beats emitted vs recorded, beats lost outside recorded gaps (goal 0), duplicates (goal 0),
and how long the collector took to stream again after a strap became available (strap time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.cli.common import say
from attune.collector.collector import Collector, CollectorConfig, StrapSpec
from attune.collector.link import Backoff, LinkPolicy
from attune.collector.outbox import OutboxFile
from attune.collector.strap_link import LinkSettings
from attune.settings import Settings
from attune.sim import PersonProfile
from attune.store.sessions import Role
from attune.testing.audit import BeatAudit, Reconnect, audit, reconnects
from attune.testing.bluez import DBusDaemonMissingError, FakeBlueZ, PrivateSystemBus, StrapConfig
from attune.testing.bluez.strap import VirtualStrap
from attune.testing.clock import ScaledClock
from attune.testing.service import LoopbackService

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

MALFORMED = (b"", b"\x10\x48", b"\x10\x48\x00", b"\x01\x48", b"\x08\x48\xe8", b"\x00\x48\x00")
# (kind, weight, shortest, longest duration in strap seconds)
FAULTS = (
    ("drop", 3, 0.0, 0.0),
    ("away", 3, 5.0, 90.0),
    ("contact", 2, 5.0, 40.0),
    ("malformed", 2, 0.0, 0.0),
    ("drop_failconnect", 1, 0.0, 0.0),
    ("busy", 1, 5.0, 40.0),
    ("stall", 1, 0.0, 0.0),
    ("battery", 1, 0.0, 0.0),
    ("adapter_off", 1, 3.0, 20.0),
    ("service_down", 2, 5.0, 60.0),
    ("collector_crash", 1, 2.0, 20.0),
)
PROFILES = (
    PersonProfile(hr_bpm=64.0, breaths_per_min=6.0, rsa_ms=70.0, noise_ms=10.0),
    PersonProfile(hr_bpm=84.0, breaths_per_min=15.0, rsa_ms=18.0, noise_ms=8.0),
)
ROLES: tuple[Role, ...] = ("therapist", "client")
SETTLE_S = 30.0  # strap seconds of quiet streaming after the last fault


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "faults",
        help="randomized fault run: strap -> Bleak -> collector -> service",
        description=__doc__,
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated duration")
    parser.add_argument("--faults", type=int, default=60, help="number of random faults")
    parser.add_argument("--time-scale", type=float, default=30.0, help="strap s per real s")
    parser.add_argument("--straps", type=int, choices=(1, 2), default=2)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Fault:
    at_s: float
    kind: str
    strap: int
    duration_s: float


@dataclass(slots=True)
class Outages:
    """Nested outages of a shared resource: the first start and the last end count."""

    down: int = 0
    windows: list[list[float]] = field(default_factory=list)


def schedule(rng: random.Random, *, n: int, duration_s: float, straps: int) -> list[Fault]:
    """``n`` faults at uniform random times, leaving a minute at each end."""
    kinds = [k for k, *_ in FAULTS]
    weights = [w for _, w, *_ in FAULTS]
    spans = {k: (lo, hi) for k, _, lo, hi in FAULTS}
    faults = []
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        lo, hi = spans[kind]
        faults.append(
            Fault(
                rng.uniform(60.0, duration_s - 60.0),
                kind,
                rng.randrange(straps),
                rng.uniform(lo, hi),
            )
        )
    return sorted(faults, key=lambda f: f.at_s)


class FaultRun:
    """One run: the service, the fake BlueZ, the straps, the collector and the faults."""

    def __init__(self, args: argparse.Namespace, data_dir: Path) -> None:
        self.args = args
        self.clock = ScaledClock(args.time_scale)
        self.rng = random.Random(args.seed)  # noqa: S311 - a reproducible schedule
        self.data_dir = data_dir
        self.service = LoopbackService(
            Settings(data_dir=data_dir, secret_key="bench-only-key", port=0),  # noqa: S106
            self.clock.now_s,
            own_thread=True,  # as a separate process would be
        )
        self.fake = FakeBlueZ(self.clock, seed=args.seed)
        self.straps: list[VirtualStrap] = []
        self.collector: Collector | None = None
        self.collector_task: asyncio.Task[object] | None = None
        self.specs: list[StrapSpec] = []
        self.outages: dict[str, Outages] = {
            k: Outages() for k in ("service", "collector", "adapter")
        }
        self.applied: Counter[str] = Counter()
        self.peak_outbox = 0
        self.loop_lags_s: list[float] = []

    async def run(self) -> dict[str, object]:
        duration_s = self.args.minutes * 60.0
        faults = schedule(
            self.rng, n=self.args.faults, duration_s=duration_s, straps=self.args.straps
        )
        started = time.monotonic()
        await self.service.start()
        session_id, tokens, ids = await self.service.new_session(ROLES[: self.args.straps])
        await self.fake.start()
        for i in range(self.args.straps):
            config = StrapConfig(
                name=f"Polar H10 BENCH{i}",
                address=f"A0:9E:1A:BE:00:{i:02X}",
                profile=PROFILES[i],
                seed=self.args.seed * 10 + i,
                battery_mode="gatt" if i == 0 else "plugin",
                tag_serial=True,
            )
            self.straps.append(self.fake.add_strap(config))
            self.specs.append(StrapSpec(config.name, tokens[ROLES[i]]))
        self._start_collector()
        samplers = [
            asyncio.create_task(self._sample_outbox()),
            asyncio.create_task(self._sample_loop_lag()),
        ]
        try:
            await asyncio.gather(*(self._apply(f) for f in faults))
            await self.clock.sleep(max(0.0, duration_s + SETTLE_S - self.clock.monotonic_s()))
            await self._stop_collector(graceful=True)
        finally:
            for sampler in samplers:
                sampler.cancel()
            await self.fake.stop()
        audits = [
            audit(strap.ledger, await self.service.recorded(session_id, ids[role]))
            for strap, role in zip(self.straps, ROLES, strict=False)
        ]
        await self.service.stop()
        return self._figures(faults, audits, time.monotonic() - started)

    def _start_collector(self) -> None:
        policy = LinkPolicy(backoff=Backoff(base_s=0.5, cap_s=10.0))
        config = CollectorConfig(
            link=LinkSettings(policy=policy),
            uplink_backoff=Backoff(base_s=0.5, cap_s=10.0),
            drain_timeout_s=120.0,
        )
        self.collector = Collector(
            self.service.base_url,
            self.specs,
            OutboxFile(self.data_dir / "outbox.sqlite3"),
            config=config,
            clock=self.clock,
            rng=random.Random(self.rng.random()),  # noqa: S311
        )
        self.collector_task = asyncio.create_task(self.collector.run())

    async def _stop_collector(self, *, graceful: bool) -> None:
        task, collector = self.collector_task, self.collector
        self.collector_task = self.collector = None
        if task is None or collector is None:
            return
        if graceful:
            collector.stop()
            await task
            return
        task.cancel()  # a crash: no goodbye, no drain; the outbox file keeps the rest
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _apply(self, fault: Fault) -> None:
        await self.clock.sleep(fault.at_s - self.clock.monotonic_s())
        self.applied[fault.kind] += 1
        strap = self.straps[fault.strap]
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "away": lambda: self._for(fault, strap.go_out_of_range, strap.come_back),
            "contact": lambda: self._for(
                fault, lambda: strap.set_contact(False), lambda: strap.set_contact(True)
            ),
            "busy": lambda: self._for(fault, lambda: _drop(strap, occupy=True), strap.release),
            "adapter_off": lambda: self._outage(
                "adapter", fault, lambda: self.fake.power(False), lambda: self.fake.power(True)
            ),
            "service_down": lambda: self._outage(
                "service", fault, self.service.stop, self.service.start
            ),
            "collector_crash": lambda: self._outage(
                "collector",
                fault,
                lambda: self._stop_collector(graceful=False),
                self._start_collector,
            ),
        }
        instant: dict[str, Callable[[], object]] = {
            "drop": strap.drop_link,
            "malformed": lambda: strap.inject_raw(self.rng.choice(MALFORMED)),
            "drop_failconnect": lambda: _drop(strap, fail_next=True),
            "stall": strap.stall,
            "battery": lambda: strap.set_battery(self.rng.randint(5, 100)),
        }
        if fault.kind in instant:
            instant[fault.kind]()
        else:
            await actions[fault.kind]()

    async def _for(
        self, fault: Fault, begin: Callable[[], object], end: Callable[[], object]
    ) -> None:
        begin()
        await self.clock.sleep(fault.duration_s)
        end()

    async def _outage(
        self,
        what: str,
        fault: Fault,
        begin: Callable[[], object],
        end: Callable[[], object],
    ) -> None:
        outage = self.outages[what]
        outage.down += 1
        if outage.down == 1:
            outage.windows.append([self.clock.now_s(), float("inf")])
            if asyncio.iscoroutine(result := begin()):
                await result
        await self.clock.sleep(fault.duration_s)
        outage.down -= 1
        if outage.down == 0:
            if asyncio.iscoroutine(result := end()):
                await result
            outage.windows[-1][1] = self.clock.now_s()

    async def _sample_loop_lag(self) -> None:
        # Everything shares one event loop; a stall of L real seconds shifts arrival stamps
        # by L x time-scale strap seconds, which the timeline may call a clock mismatch.
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.loop_lags_s.append(loop.time() - before - 0.01)

    async def _sample_outbox(self) -> None:
        while True:
            if self.collector is not None:
                self.peak_outbox = max(
                    self.peak_outbox, *(len(u.outbox) for u in self.collector.uplinks)
                )
            await self.clock.sleep(1.0)

    def _reconnects(self) -> tuple[list[Reconnect], int, int]:
        crashes = self.outages["collector"].windows
        kept: list[Reconnect] = []
        during_crash = cut_short = 0
        for strap in self.straps:
            done, gone = reconnects(strap.availability)
            cut_short += gone
            for item in done[1:]:  # the first is the session start, not a return
                end_s = item.available_at_s + item.delay_s
                if any(lo <= end_s and item.available_at_s <= hi for lo, hi in crashes):
                    during_crash += 1  # the collector, not the strap, was away
                else:
                    kept.append(item)
        return kept, during_crash, cut_short

    def _figures(
        self, faults: list[Fault], audits: list[BeatAudit], wall_s: float
    ) -> dict[str, object]:
        kept, during_crash, cut_short = self._reconnects()
        by_cause: dict[str, list[float]] = {}
        for r in kept:
            by_cause.setdefault(r.cause, []).append(r.delay_s)
        keys = (
            "emitted_beats",
            "sent_beats",
            "recorded_beats",
            "sent_not_recorded",
            "lost_in_gaps",
            "lost_outside_gaps",
            "duplicate_beats",
            "duplicate_notifications",
            "malformed_injected",
            "rejected_recorded",
        )
        total = {key: sum(getattr(a, key) for a in audits) for key in keys}
        gaps: Counter[str] = Counter()
        for a in audits:
            gaps.update(a.gaps)
        lags = sorted(self.loop_lags_s) or [0.0]
        return {
            "seed": self.args.seed,
            "simulated_s": self.args.minutes * 60.0,
            "time_scale": self.args.time_scale,
            "wall_s": round(wall_s, 1),
            "straps": self.args.straps,
            "faults": len(faults),
            "faults_by_kind": dict(sorted(self.applied.items())),
            **total,
            "recorded_over_sent": round(total["recorded_beats"] / max(1, total["sent_beats"]), 6),
            "gaps_by_cause": dict(sorted(gaps.items())),
            "reconnect_s": _stats([r.delay_s for r in kept]),
            "reconnect_s_by_cause": {k: _stats(v) for k, v in sorted(by_cause.items())},
            "reconnects_during_collector_restarts": during_crash,
            "returns_cut_short": cut_short,
            "peak_outbox_messages": self.peak_outbox,
            "loop_lag_ms": {
                "p99": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1),
                "max": round(1000 * lags[-1], 1),
            },
            "per_strap": [asdict(a) for a in audits],
        }


def _drop(strap: VirtualStrap, *, fail_next: bool = False, occupy: bool = False) -> None:
    """Drop the link; the next connect fails, or another app takes the strap meanwhile."""
    if fail_next:
        strap.fail_next_connect("le-connection-timeout")
    if occupy:
        strap.occupy("refusing")
    strap.drop_link()


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "median": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def run(args: argparse.Namespace) -> int:
    try:
        with (
            tempfile.TemporaryDirectory(prefix="attune-bench-") as tmp,
            PrivateSystemBus() as bus,
            bus.applied(),
        ):
            figures = asyncio.run(FaultRun(args, Path(tmp)).run())
    except DBusDaemonMissingError as exc:
        say(f"error: {exc}")
        return 2
    if args.json:
        say(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0


def _print(f: dict[str, Any]) -> None:
    say(
        f"Fault run: seed {f['seed']}, {f['straps']} strap(s), {f['simulated_s']:.0f} s simulated"
        f" at {f['time_scale']:g}x in {f['wall_s']} s wall"
    )
    say(f"  faults: {f['faults']}  {f['faults_by_kind']}")
    rows = [
        ("beats emitted by the straps", f["emitted_beats"], ""),
        ("beats sent over the BLE link", f["sent_beats"], ""),
        (
            "beats recorded by the service",
            f["recorded_beats"],
            f"{f['recorded_over_sent']} of sent",
        ),
        ("sent but not recorded", f["sent_not_recorded"], "goal 0"),
        ("lost outside recorded gaps", f["lost_outside_gaps"], "goal 0"),
        ("lost inside recorded gaps", f["lost_in_gaps"], ""),
        ("duplicate beats", f["duplicate_beats"], "goal 0"),
        (
            "malformed injected / rejected",
            f"{f['malformed_injected']} / {f['rejected_recorded']}",
            "",
        ),
        ("gaps by cause", f["gaps_by_cause"], ""),
        ("peak outbox (messages)", f["peak_outbox_messages"], ""),
        ("event-loop lag (real ms)", f["loop_lag_ms"], ""),
    ]
    for label, value, note in rows:
        say(f"  {label + ':':<32} {value}" + (f"   ({note})" if note else ""))
    r = f["reconnect_s"]
    say(
        "  reconnect after the strap returns, strap s:"
        f" median {r['median']}, max {r['max']} (n {r['n']})"
    )
    for cause, c in f["reconnect_s_by_cause"].items():
        say(f"    after {cause + ':':<26} median {c['median']}, max {c['max']} (n {c['n']})")
