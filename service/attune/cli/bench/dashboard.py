"""``attune bench dashboard``: the therapist console in real Chromium while a long simulated
session streams into it faster than real time.

Two simulated straps (the scripted therapy session, looped) stream ``--minutes`` of session
time through the real ingest websocket of a loopback service at ``--speed`` x real time (one
``ScaledClock`` for straps and service); the console is open and signed in, rendering as it
would live. After a warm-up (``--warmup-min`` of session time) the page's frames are
recorded: the JS work of each render (the console renders at most once per animation frame)
and the interval between animation frames. The JS heap is measured after a forced garbage
collection (CDP ``HeapProfiler.collectGarbage``, ``Runtime.getHeapUsage``) at the end of
the warm-up and at the end of the session. Goal (issue 7): p95 frame time < 16 ms and heap
growth < 20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.cli.common import say
from attune.settings import Settings
from attune.testing.chromium import CHROMIUM_ARGS, find_chromium
from attune.testing.clock import ScaledClock
from attune.testing.dashboard import DashboardRig

if TYPE_CHECKING:
    from playwright.async_api import CDPSession, Page

    from attune.cli.common import Subcommands

# Records every animation frame's interval and reads the console's own render timings.
_FRAME_PROBE = """() => {
    window.__bench = { intervals: [], last: performance.now(),
                       renders: window.attune.perf.renders };
    const tick = (now) => {
        window.__bench.intervals.push(now - window.__bench.last);
        window.__bench.last = now;
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""
_FRAME_READ = """() => {
    const perf = window.attune.perf;
    const size = perf.renderMs.length;
    const n = Math.min(perf.renders - window.__bench.renders, size);
    const renders = [];
    for (let k = perf.renders - n; k < perf.renders; k += 1) {
        renders.push(perf.renderMs[k % size]);
    }
    return { intervals: window.__bench.intervals, renders, seq: window.attune.state.lastSeq,
             beats: [...window.attune.state.participants.values()].map(p => p.beats) };
}"""
# Between reads the probe's arrays are emptied so a long session does not grow them.
_FRAME_DRAIN = (
    "() => { const out = (" + _FRAME_READ + ")(); window.__bench.intervals = []; "
    "window.__bench.renders = window.attune.perf.renders; return out; }"
)
LONG_FRAME_MS = 50.0


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "dashboard",
        help="console frame time and JS heap over a long session in Chromium",
        description=__doc__,
    )
    parser.add_argument("--minutes", type=float, default=60.0, help="session time streamed")
    parser.add_argument("--speed", type=float, default=10.0, help="x real time")
    parser.add_argument("--warmup-min", type=float, default=5.0, help="session minutes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Figures:
    session_min: float
    speed: float
    wall_s: float
    messages: int
    beats_shown: list[int]
    renders: int
    render_p50_ms: float
    render_p95_ms: float
    render_max_ms: float
    frames: int
    frame_interval_p50_ms: float
    frame_interval_p95_ms: float
    long_frames_over_50ms: int
    heap_warm_mb: float
    heap_end_mb: float
    heap_growth_pct: float


def run(args: argparse.Namespace) -> int:
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: install Debian's chromium or set ATTUNE_CHROMIUM")
    figures = asyncio.run(_bench(chromium, args.minutes, args.speed, args.warmup_min))
    if args.json:
        say(json.dumps(asdict(figures), indent=2))
        return 0
    f = figures
    say(
        f"therapist console, {f.session_min:.0f} min session at {f.speed:g}x "
        f"({f.wall_s:.0f} s wall), {f.messages} live messages"
    )
    say(
        f"  render work per frame: p50 {f.render_p50_ms:.2f} ms, p95 {f.render_p95_ms:.2f} ms, "
        f"max {f.render_max_ms:.2f} ms over {f.renders} renders"
    )
    say(
        f"  animation frame interval: p50 {f.frame_interval_p50_ms:.2f} ms, "
        f"p95 {f.frame_interval_p95_ms:.2f} ms, {f.long_frames_over_50ms} frames over 50 ms "
        f"of {f.frames}"
    )
    say(
        f"  JS heap after warm-up {f.heap_warm_mb:.2f} MB, at the end {f.heap_end_mb:.2f} MB "
        f"({f.heap_growth_pct:+.1f} %)"
    )
    return 0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _heap_mb(cdp: CDPSession) -> float:
    await cdp.send("HeapProfiler.collectGarbage")
    usage: dict[str, Any] = await cdp.send("Runtime.getHeapUsage")
    return float(usage["usedSize"]) / 1e6


async def _bench(chromium: Path, minutes: float, speed: float, warmup_min: float) -> Figures:
    from playwright.async_api import async_playwright  # noqa: PLC0415 - only this benchmark

    with tempfile.TemporaryDirectory() as data_dir:
        key = secrets.token_urlsafe(32)
        settings = Settings(data_dir=Path(data_dir), secret_key=key, port=0)
        rig = DashboardRig(settings, clock=ScaledClock(speed), duration_s=minutes * 60.0)
        await rig.start()
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(chromium), args=list(CHROMIUM_ARGS)
                )
                context = await browser.new_context(viewport={"width": 1400, "height": 1000})
                await context.add_cookies(rig.cookies())  # type: ignore[arg-type]
                page = await context.new_page()
                await page.goto(rig.console_url)
                cdp = await context.new_cdp_session(page)
                figures = await _measure(page, cdp, rig, warmup_min=warmup_min)
                await browser.close()
        finally:
            await rig.stop()
    return figures


async def _measure(page: Page, cdp: CDPSession, rig: DashboardRig, *, warmup_min: float) -> Figures:
    await page.wait_for_function("() => window.attune && window.attune.perf.renders > 0")
    await rig.clock.sleep(warmup_min * 60.0 - rig.session_time_s())
    heap_warm = await _heap_mb(cdp)
    await page.evaluate(_FRAME_PROBE)
    started = time.monotonic()
    intervals: list[float] = []
    renders: list[float] = []
    last: dict[str, Any] = {}
    while not rig.finished.is_set():
        await asyncio.sleep(5.0)
        last = await page.evaluate(_FRAME_DRAIN)
        intervals += last["intervals"]
        renders += last["renders"]
    await asyncio.sleep(3.0)  # the last beats are decided and drawn
    last = await page.evaluate(_FRAME_DRAIN)
    intervals += last["intervals"]
    renders += last["renders"]
    heap_end = await _heap_mb(cdp)
    return Figures(
        session_min=(rig.duration_s or 0.0) / 60.0,
        speed=rig.clock.scale,
        wall_s=time.monotonic() - started,
        messages=int(last["seq"] or 0),
        beats_shown=[int(b) for b in last["beats"]],
        renders=len(renders),
        render_p50_ms=_percentile(renders, 0.50),
        render_p95_ms=_percentile(renders, 0.95),
        render_max_ms=max(renders, default=float("nan")),
        frames=len(intervals),
        frame_interval_p50_ms=_percentile(intervals, 0.50),
        frame_interval_p95_ms=_percentile(intervals, 0.95),
        long_frames_over_50ms=sum(1 for i in intervals if i > LONG_FRAME_MS),
        heap_warm_mb=heap_warm,
        heap_end_mb=heap_end,
        heap_growth_pct=100.0 * (heap_end - heap_warm) / heap_warm,
    )
