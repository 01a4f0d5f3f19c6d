"""``attune bench load``: how many straps one service process holds.

N simulated collectors (one websocket each, one Heart Rate Measurement notification a
second, real 0x2A37 payloads from ``attune.sim``) and M therapist dashboards (``/live``)
run against real ``attune serve`` subprocesses. The load comes from separate generator
processes (``python -m attune.cli.bench.load``), so the measuring process is not the one
being measured and the generators' own CPU is reported beside the service's.

Sessions are measured in their steady state, not in their first minute: a session's first
minutes cost the pipeline about half of what later ones do (windows and the synchrony null
are still filling). So each session already has ``--history-s`` of recording when the window
opens: its collectors connect with that much backlog and catch up on it in batches, as
collectors do after an outage, then go on live at one notification a second. The sessions
started at moments spread over a minute, as a clinic's do, so their periodic work (synchrony
every 2 s, slow HRV metrics every 5 s) does not fall due in the same second for all.

Per step (a fresh database, fresh servers), after a ramp and the catch-up: throughput (acknowledged
notifications a second), ack latency (send to ``ack``, i.e. the commit), ingest-to-dashboard
latency (a notification's arrival stamp to the first beat from it reaching a dashboard) p50
and p99, the service's CPU (share of one core, from /proc) and memory, per strap. Without
``--straps`` it searches: doubling N until a step fails, then bisecting, within a time
budget. A step *holds* when p99 < 100 ms, at least 99 % of what was sent in the window was
acknowledged, nothing was refused, and the generators kept their schedule (otherwise the
figure would measure them).

One run near the edge holds or fails by chance (on one machine 400 straps failed twice where
450 held). ``--repeat K`` runs each N up to K times, each on a fresh database and
fresh servers, and N holds when most of its runs held; it stops as soon as the majority is
settled, and reports every run with the median p99 and CPU of each N's runs.

``--instances 2`` runs two service processes on PostgreSQL with Redis Streams: each
session's collectors connect to one instance, its dashboards to the other, so every live
message crosses Redis. N is then the total over both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from attune.api.auth import COOKIE_NAME
from attune.api.passwords import Passwords
from attune.cli.bench.latency import PASSWORD, USERNAME, Strap, latencies
from attune.cli.common import free_port, positive_int, say
from attune.cli.loops import event_loop_factory
from attune.sensor.hrm import parse_hrm
from attune.sim import CLIENT_PROFILE, THERAPIST_PROFILE, StrapPacketizer, resting_beats
from attune.store import Store

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

P99_LIMIT_MS = 100.0
ACKED_MIN = 0.99
LAG_LIMIT_MS = 50.0  # a generator later than this (p99) is the bottleneck, not the service
PAYLOAD_POOL = 48  # distinct simulated straps whose notifications the straps replay
POOL_NOTIFICATIONS = 900  # each one's notifications (15 minutes) before they repeat
# Seconds of data in one backlog batch: well under the live synchrony's ``stale_s`` (10 s), so
# that neither of a session's collectors, catching up in step (_Lockstep), gets so far ahead
# that the other's data counts as missing. Small batches also keep a watched strap's
# dashboard, which pairs beats with notifications by counting them, from dropping a beat.
BACKLOG_BATCH = 5
# The catch-up may take this long beyond the backlog's own span: at least as fast as live,
# or the step fails (a process that cannot will not hold its straps live either).
CATCH_UP_SLACK_S = 60.0
STARTUP_TIMEOUT_S = 120.0
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "load",
        help="straps per process at p99 < 100 ms (throughput, latency, CPU, memory)",
        description=__doc__,
    )
    parser.add_argument("--straps", type=int, default=None, help="one step of N (no search)")
    parser.add_argument("--start", type=int, default=250, help="first N of the search")
    parser.add_argument("--max-straps", type=int, default=8000)
    parser.add_argument("--budget-s", type=float, default=900.0, help="search time budget")
    parser.add_argument("--dashboards", type=int, default=10)
    parser.add_argument("--duration-s", type=float, default=20.0, help="measured, per step")
    parser.add_argument("--ramp-s", type=float, default=10.0, help="time to connect everyone")
    parser.add_argument(
        "--settle-s", type=float, default=10.0, help="after the last connection, before measuring"
    )
    parser.add_argument(
        "--history-s",
        type=float,
        default=480.0,
        help="recording each session has before the window (0: sessions start with it)",
    )
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        help="runs of each N; N holds when most of them hold",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("ATTUNE_BENCH_POSTGRES_URL", PG_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("ATTUNE_BENCH_REDIS_URL", REDIS_URL))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(run=run)


# Figures


@dataclass(frozen=True, slots=True)
class Step:
    straps: int
    instances: int
    dashboards: int
    history_s: float
    held: bool
    why_not: str
    sent: int
    acked: int
    refused: int
    throughput_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    latency_samples: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    service_cpu_pct: float  # of one core, all instances together
    service_rss_mib: float
    cpu_ms_per_strap_s: float  # service CPU per strap per second of load
    rss_kib_per_strap: float
    generator_cpu_pct: float
    generator_lag_p99_ms: float
    # Of the watched sessions' synchrony updates in the window, the share with a verdict:
    # near 1 once the sessions' history filled the horizon and the null (steady state).
    synchrony_ok_share: float


@dataclass(frozen=True, slots=True)
class Level:
    """The runs of one N, taken together: N holds when most of its runs held."""

    straps: int
    runs: int
    held_runs: int
    held: bool
    latency_p99_ms_median: float  # NaN when no run measured one
    cpu_ms_per_strap_s_median: float


def levels(steps: Sequence[Step]) -> list[Level]:
    """Each N's runs as one level, in the order the N were first run."""
    by_straps: dict[int, list[Step]] = {}
    for step in steps:
        by_straps.setdefault(step.straps, []).append(step)
    summary = []
    for straps, runs in by_straps.items():
        held_runs = sum(r.held for r in runs)
        summary.append(
            Level(
                straps=straps,
                runs=len(runs),
                held_runs=held_runs,
                held=2 * held_runs > len(runs),
                latency_p99_ms_median=_finite_median([r.latency_p99_ms for r in runs]),
                cpu_ms_per_strap_s_median=_finite_median([r.cpu_ms_per_strap_s for r in runs]),
            )
        )
    return summary


def settled(held_runs: int, failed_runs: int, repeat: int) -> bool:
    """Whether the majority of ``repeat`` runs is known after these (the rest cannot turn it)."""
    return 2 * held_runs > repeat or 2 * failed_runs >= repeat


def level_line(level: Level) -> str:
    """One N's verdict over its runs, for the text report."""
    return (
        f"  N={level.straps:<5} {'holds' if level.held else 'fails'}: held in "
        f"{level.held_runs} of {level.runs} runs, median e2e "
        f"p99={level.latency_p99_ms_median:7.1f} ms, "
        f"{level.cpu_ms_per_strap_s_median:.3f} ms cpu/strap/s"
    )


def _finite_median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def run(args: argparse.Namespace) -> int:
    try:
        steps = asyncio.run(_run(args))
    except asyncio.CancelledError:
        say("attune bench load: stopped (SIGTERM)")
        return 128 + signal.SIGTERM
    summary = levels(steps)
    best = max((level.straps for level in summary if level.held), default=0)
    per_process = best / args.instances
    if args.json:
        document = {
            "steps": [asdict(s) for s in steps],
            "levels": [asdict(level) for level in summary],
            "largest_held_straps": best,
            "largest_held_straps_per_process": per_process,
            "cpus": os.cpu_count(),
        }
        say(json.dumps(document, indent=2))
        return 0
    say(
        f"attune bench load: {args.instances} instance(s), {args.dashboards} dashboards, "
        f"{args.duration_s:.0f} s per step, {os.cpu_count()} CPUs shared by everything"
    )
    for s in steps:
        verdict = "holds" if s.held else f"fails ({s.why_not})"
        say(
            f"  N={s.straps:<5} {verdict:<32} {s.throughput_per_s:7.0f}/s  "
            f"e2e p50={s.latency_p50_ms:6.1f} p99={s.latency_p99_ms:7.1f} ms  "
            f"ack p99={s.ack_p99_ms:6.1f} ms  service cpu={s.service_cpu_pct:5.1f}% "
            f"rss={s.service_rss_mib:6.1f} MiB  ({s.cpu_ms_per_strap_s:.3f} ms cpu/strap/s, "
            f"{s.rss_kib_per_strap:.1f} KiB/strap)  generator cpu={s.generator_cpu_pct:5.1f}% "
            f"lag p99={s.generator_lag_p99_ms:.1f} ms  synchrony ok {s.synchrony_ok_share:.0%}"
        )
    if args.repeat > 1:
        for level in summary:
            say(level_line(level))
    say(f"  largest N held at p99 < {P99_LIMIT_MS:.0f} ms: {best} ({per_process:.0f} per process)")
    return 0


async def _run(args: argparse.Namespace) -> list[Step]:
    # A SIGTERM (a timeout, a cancelled job) cancels the run as Ctrl-C would, so each step's
    # cleanup still stops its servers instead of leaving them running on their own.
    main, loop = asyncio.current_task(), asyncio.get_running_loop()

    def cancel_once() -> None:  # a second SIGTERM must not cut the cleanup short
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
        if main is not None:
            main.cancel()

    loop.add_signal_handler(signal.SIGTERM, cancel_once)
    if args.straps is not None:
        return await _level(args, args.straps)
    steps: list[Step] = []
    deadline = time.monotonic() + args.budget_s
    good, bad, n = 0, None, args.start
    while n <= args.max_straps and time.monotonic() < deadline:
        runs = await _level(args, n)
        steps += runs
        if levels(runs)[0].held:
            good = n
        else:
            bad = n
        if bad is None:
            n *= 2
            continue
        if bad - good <= max(50, good // 10):
            break
        n = (good + bad) // 2 // 2 * 2
    return steps


async def _level(args: argparse.Namespace, straps: int) -> list[Step]:
    """Runs of N until the majority of ``--repeat`` is settled."""
    runs: list[Step] = []
    held_runs = 0
    while not settled(held_runs, len(runs) - held_runs, args.repeat):
        runs.append(await _step(args, straps))
        held_runs += runs[-1].held
    return runs


# One step


@dataclass(slots=True)
class _Plan:
    """Who connects where: straps (url, token, participant, pool index, session),
    dashboards (url, session, its participants)."""

    straps: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    dashboards: list[tuple[str, str, list[str]]] = field(default_factory=list)


async def _step(args: argparse.Namespace, straps: int) -> Step:
    sessions = max(1, -(-straps // 2))  # an odd strap out has a session of its own
    with tempfile.TemporaryDirectory(prefix="attune-load-") as tmp:
        env, cleanup = await _backend(args, Path(tmp))
        try:
            provisioned = await _provision(env, sessions, args.history_s)
            servers: list[tuple[asyncio.subprocess.Process, str]] = []
            try:
                for i in range(args.instances):
                    # One by one, so that those started are stopped if a later one fails.
                    servers.append(await _serve(env, Path(tmp) / f"i{i}"))  # noqa: PERF401
                return await _measure(args, servers, provisioned, straps)
            finally:
                for process, _ in servers:
                    await _stop(process)
        finally:
            await cleanup()


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Stop a server; kill it if it has not stopped after 20 s, so that it never outlives the
    step (and its database, which is removed next)."""
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()
        await process.wait()


async def _backend(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, str], Any]:
    """Environment for the servers: SQLite alone, or PostgreSQL (fresh schema) with Redis
    (fresh prefix) for two instances; and how to clean up after."""
    env = {**os.environ, "ATTUNE_SECRET_KEY": "load-bench", "ATTUNE_DATA_DIR": str(tmp)}

    async def nothing() -> None:
        return None

    if args.instances == 1:
        env["ATTUNE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / 'attune.sqlite3'}"
        return env, nothing
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - scale-out only
    from redis.asyncio import Redis  # noqa: PLC0415

    schema = f"attune_load_{uuid.uuid4().hex[:10]}"
    prefix = f"attune-load-{uuid.uuid4().hex[:10]}:"
    env |= {
        "ATTUNE_DATABASE_URL": args.postgres_url,
        "ATTUNE_DATABASE_SCHEMA": schema,
        "ATTUNE_REDIS_URL": args.redis_url,
        "ATTUNE_REDIS_PREFIX": prefix,
    }

    async def cleanup() -> None:
        connection = await asyncpg.connect(args.postgres_url.replace("+asyncpg", ""))
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()
        redis = Redis.from_url(args.redis_url)
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

    return env, cleanup


@dataclass(slots=True)
class _Provisioned:
    sessions: list[tuple[str, list[tuple[str, str]]]]  # session, [(participant, token)]


# Sessions' start times are spread over this span, as a clinic's sessions start at different
# moments. A session's periodic work runs on a grid of its own session time: synchrony
# every 2 s, the slow HRV metrics every 5 s, the stress index every 30 s. With one start
# for all, every session's slow metrics fell due in the same second, every 2 s a synchrony
# update in the same second, and every 10 s both: at 400 straps the group commits after
# those moments held 20-58 messages instead of 1-17 and took up to 87 ms (each commit timed
# by phase), from an alignment that sessions started by people do not have.
STAGGER_S = 60.0


def session_starts(now_s: float, history_s: float, sessions: int) -> list[float]:
    """When each session started: early enough for its ``history_s`` of backlog, spread
    evenly over ``STAGGER_S`` before that."""
    return [now_s - history_s - STAGGER_S * i / sessions for i in range(sessions)]


async def _provision(env: dict[str, str], sessions: int, history_s: float) -> _Provisioned:
    store = await Store.open(env["ATTUNE_DATABASE_URL"], schema=env.get("ATTUNE_DATABASE_SCHEMA"))
    try:
        now_s = time.time()
        password_hash = await Passwords().hash_async(PASSWORD)
        therapist = await store.accounts.add_therapist(
            USERNAME, "Bench", password_hash, now_s=now_s
        )
        client = await store.clients.create(therapist.id, "C-LOAD", "Load", now_s=now_s)
        out = []
        for i, started_s in enumerate(session_starts(now_s, history_s, sessions)):
            session = await store.sessions.create(
                f"load {i}", now_s=now_s, client_id=client.id, therapist_id=therapist.id
            )
            await store.sessions.start(session.id, now_s=started_s)
            pairs = []
            for role in ("therapist", "client"):
                participant, token = await store.sessions.add_participant(session.id, role, role)
                pairs.append((participant.id, token))
            out.append((session.id, pairs))
    finally:
        await store.close()
    return _Provisioned(out)


async def _serve(env: dict[str, str], data_dir: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "attune", "--log-level", "warning", "serve", "--port", str(port)),
        *("--data-dir", str(data_dir)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _healthy(process, base)
    except BaseException:  # cancelled or failed while starting: the caller never gets it
        await _stop(process)
        raise
    return process, base


async def _healthy(process: asyncio.subprocess.Process, base: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).is_success:
                    return
            if time.monotonic() > deadline or process.returncode is not None:
                raise RuntimeError("attune serve did not start")
            await asyncio.sleep(0.1)


async def _measure(
    args: argparse.Namespace,
    servers: list[tuple[asyncio.subprocess.Process, str]],
    provisioned: _Provisioned,
    straps: int,
) -> Step:
    bases = [base.replace("http", "ws", 1) for _, base in servers]
    async with httpx.AsyncClient(base_url=servers[0][1]) as http:
        login = await http.post(
            "/api/auth/login", json={"username": USERNAME, "password": PASSWORD}
        )
        cookie = login.cookies[COOKIE_NAME]
    plans = [_Plan() for _ in range(args.generators)]
    n = 0
    for index, (session_id, pairs) in enumerate(provisioned.sessions):
        plan = plans[index % args.generators]
        ingest_base, live_base = bases[index % len(bases)], bases[(index + 1) % len(bases)]
        for participant_id, token in pairs[: straps - n]:
            ingest_url = f"{ingest_base}/ingest"
            plan.straps.append((ingest_url, token, participant_id, n % PAYLOAD_POOL, session_id))
            n += 1
        if index < args.dashboards:
            ids = [p for p, _ in pairs]
            plan.dashboards.append((f"{live_base}/live/{session_id}", session_id, ids))
    connect_s = STARTUP_TIMEOUT_S + args.ramp_s + _catch_up_s(args.history_s)
    spec = {
        "cookie": cookie,
        "ramp_s": args.ramp_s,
        "drain_s": 3.0,
        "history_s": args.history_s,
        "connect_s": connect_s,
    }
    generators = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "attune.cli.bench.load"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 26,
        )
        for _ in plans
    ]
    try:
        connected = 0
        for generator, plan in zip(generators, plans, strict=True):
            await _tell(generator, json.dumps({**spec, **asdict(plan)}))
        try:
            for generator in generators:
                line = await asyncio.wait_for(_hear(generator), connect_s)
                connected += int(line.split()[1])
        except TimeoutError:
            # The service could not even take the connections: a failed step, not a crash of
            # the search.
            return _unconnected(args, straps, connect_s)
        # Everyone is connected and live: measure from a common window, once the connection
        # storm (a hello rebuilds its session's runtime) has been worked off.
        start_s = time.time() + args.settle_s
        for generator in generators:
            await _tell(generator, f"{start_s!r} {start_s + args.duration_s!r}")
        await asyncio.sleep(max(0.0, start_s - time.time()))
        pids = [process.pid for process, _ in servers]
        cpu_before, wall_before = sum(_cpu_s(p) for p in pids), time.monotonic()
        await asyncio.sleep(args.duration_s)
        cpu_after, wall_after = sum(_cpu_s(p) for p in pids), time.monotonic()
        rss_mib = sum(_rss_kib(p) for p in pids) / 1024
        outputs = [await g.communicate() for g in generators]
        results = [json.loads(out) for out, _ in outputs]
        service_cpu = 100.0 * (cpu_after - cpu_before) / (wall_after - wall_before)
        return _figures(args, straps, connected, results, cpu_pct=service_cpu, rss_mib=rss_mib)
    finally:  # a failed or cancelled step leaves no generator running
        for generator in generators:
            if generator.returncode is None:
                generator.kill()
                await generator.wait()


async def _tell(generator: asyncio.subprocess.Process, line: str) -> None:
    if generator.stdin is None:
        raise RuntimeError("generator without stdin")
    generator.stdin.write(line.encode() + b"\n")
    await generator.stdin.drain()


async def _hear(generator: asyncio.subprocess.Process) -> str:
    if generator.stdout is None:
        raise RuntimeError("generator without stdout")
    line = await generator.stdout.readline()
    if not line.startswith(b"CONNECTED"):
        raise RuntimeError(f"generator failed: {line[:200]!r}")
    return line.decode()


def _figures(
    args: argparse.Namespace,
    straps: int,
    connected: int,
    results: list[dict[str, Any]],
    *,
    cpu_pct: float,
    rss_mib: float,
) -> Step:
    sent = sum(r["sent"] for r in results)
    acked = sum(r["acked"] for r in results)
    refused = sum(r["refused"] for r in results)
    acks = np.asarray([x for r in results for x in r["ack_ms"]] or [np.nan])
    e2e = np.asarray([x for r in results for x in r["latency_ms"]] or [np.nan])
    lag = np.asarray([x for r in results for x in r["lag_ms"]] or [np.nan])
    statuses = [x for r in results for x in r["synchrony_statuses"]]
    step = {
        "straps": straps,
        "instances": args.instances,
        "dashboards": args.dashboards,
        "history_s": args.history_s,
        "sent": sent,
        "acked": acked,
        "refused": refused,
        "throughput_per_s": acked / args.duration_s,
        "ack_p50_ms": float(np.percentile(acks, 50)),
        "ack_p99_ms": float(np.percentile(acks, 99)),
        "latency_samples": int(np.isfinite(e2e).sum()),
        "latency_p50_ms": float(np.percentile(e2e, 50)),
        "latency_p99_ms": float(np.percentile(e2e, 99)),
        "latency_max_ms": float(np.max(e2e)),
        "service_cpu_pct": cpu_pct,
        "service_rss_mib": rss_mib,
        "cpu_ms_per_strap_s": 10.0 * cpu_pct / straps,
        "rss_kib_per_strap": 1024 * rss_mib / straps,
        "generator_cpu_pct": sum(r["cpu_pct"] for r in results),
        "generator_lag_p99_ms": float(np.percentile(lag, 99)),
        "synchrony_ok_share": statuses.count("ok") / len(statuses) if statuses else math.nan,
    }
    why = []
    if connected < straps:
        why.append(f"{straps - connected} not connected")
    if not step["latency_p99_ms"] < P99_LIMIT_MS:
        why.append(f"p99 {step['latency_p99_ms']:.0f} ms")
    if sent == 0 or acked < ACKED_MIN * sent:
        why.append(f"acked {acked}/{sent}")
    if refused:
        why.append(f"{refused} refused")
    if not step["generator_lag_p99_ms"] < LAG_LIMIT_MS:
        why.append("generator late")
    return Step(held=not why, why_not=", ".join(why), **step)


def _unconnected(args: argparse.Namespace, straps: int, waited_s: float) -> Step:
    """A step whose straps were not all connected after ``waited_s``: nothing measured."""
    nan = float("nan")
    measured: dict[str, Any] = {
        f.name: nan
        for f in fields(Step)
        if f.name not in ("straps", "instances", "dashboards", "history_s", "held", "why_not")
    }
    measured |= {"sent": 0, "acked": 0, "refused": 0, "latency_samples": 0}
    return Step(
        straps=straps,
        instances=args.instances,
        dashboards=args.dashboards,
        history_s=args.history_s,
        held=False,
        why_not=f"not all connected and caught up within {waited_s:.0f} s",
        **measured,
    )


def _catch_up_s(history_s: float) -> float:
    """How long the collectors may take to catch up on their backlog: as long as it lasted
    live (every strap at its live rate), and the slack."""
    return 0.0 if history_s <= 0 else CATCH_UP_SLACK_S + history_s


def _cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# The generator process


def _payload_pool(notifications: int) -> list[list[tuple[str, int]]]:
    """Simulated straps' notifications as (payload hex, RR values in it)."""
    pool = []
    for i in range(PAYLOAD_POOL):
        profile = THERAPIST_PROFILE if i % 2 == 0 else CLIENT_PROFILE
        packetizer = StrapPacketizer(resting_beats(profile, seed=i))
        notes = [packetizer.next_notification().payload for _ in range(notifications)]
        pool.append([(p.hex(), len(parse_hrm(p).rr_1024)) for p in notes])
    return pool


@dataclass(slots=True)
class _Tally:
    """What one generator counted inside the measurement window."""

    window: tuple[float, float] = (float("inf"), float("inf"))
    sent: int = 0
    acked: int = 0
    refused: int = 0
    ack_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)

    def inside(self, t_s: float) -> bool:
        return self.window[0] <= t_s < self.window[1]


@dataclass(slots=True)
class _Lockstep:
    """Keeps a session's collectors' backlogs in step by data time. The live synchrony takes
    a partner more than ``stale_s`` behind as missing, and its data arriving later as too
    late: each collector sends data from a time on only once its partner's data up to that
    time is committed."""

    through_s: list[float]  # per member: its data committed up to here
    moved: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for_others(self, member: int, t_s: float) -> None:
        async with self.moved:
            await self.moved.wait_for(
                lambda: all(s >= t_s for k, s in enumerate(self.through_s) if k != member)
            )

    async def reached(self, member: int, t_s: float) -> None:
        async with self.moved:
            self.through_s[member] = t_s
            self.moved.notify_all()


@dataclass(slots=True)
class _Collector:
    """One simulated collector: hello, its backlog (``history_s``, in step with its session's
    other collector), then a batch of one notification a second."""

    url: str
    token: str
    notes: list[tuple[str, int]]
    tally: _Tally
    watched: Strap | None
    history_s: float
    lockstep: _Lockstep
    member: int  # its place in the lockstep
    live: asyncio.Event = field(default_factory=asyncio.Event)  # welcomed and caught up

    async def run(self, connect_at_s: float) -> None:
        await asyncio.sleep(max(0.0, connect_at_s - time.time()))
        headers = {"Authorization": f"Bearer {self.token}"}
        async with connect(self.url, additional_headers=headers, max_queue=None) as ws:
            await ws.send('{"v": 1, "type": "hello", "collector": "attune-bench-load"}')
            welcome = json.loads(await ws.recv())
            last_seq = welcome.get("last_seq")
            seq = 0 if last_seq is None else last_seq + 1
            due_s, seq, first = await self._catch_up(ws, seq, time.time() - self.history_s)
            await self.lockstep.reached(self.member, math.inf)
            self.live.set()
            sent_at: dict[int, float] = {}
            reader = asyncio.create_task(self._acks(ws, sent_at))
            try:
                for i in range(first, 1 << 30):
                    payload_hex, rr_count = self.notes[i % len(self.notes)]
                    await asyncio.sleep(max(0.0, due_s - time.time()))
                    now_s = time.time()
                    await self._send(ws, seq, [(now_s, payload_hex, rr_count)], now_s)
                    if self.tally.inside(now_s):
                        sent_at[seq] = now_s
                        self.tally.sent += 1
                        self.tally.lag_ms.append(1000.0 * (now_s - due_s))
                    seq += 1
                    due_s += 1.0
            finally:
                reader.cancel()

    async def _catch_up(
        self, ws: ClientConnection, seq: int, from_s: float
    ) -> tuple[float, int, int]:
        """Send the backlog from ``from_s`` until now in batches, each once the last is
        acknowledged; returns when the next live notification is due, the next seq and the
        next notification's index."""
        t_s, i = from_s, 0
        await self.lockstep.reached(self.member, t_s)
        while (count := min(BACKLOG_BATCH, int(time.time() - t_s))) > 0:
            await self.lockstep.wait_for_others(self.member, t_s)
            notes = [self.notes[(i + k) % len(self.notes)] for k in range(count)]
            stamped = [(t_s + k, *note) for k, note in enumerate(notes)]
            await self._send(ws, seq, stamped, time.time())
            reply = json.loads(await ws.recv())
            if reply.get("type") != "ack" or reply.get("seq") != seq:
                raise RuntimeError(f"backlog batch {seq} not acknowledged: {reply}")
            t_s, i, seq = t_s + count, i + count, seq + 1
            await self.lockstep.reached(self.member, t_s)
        return t_s, seq, i

    async def _send(
        self, ws: ClientConnection, seq: int, notes: list[tuple[float, str, int]], at_s: float
    ) -> None:
        """One batch of (received_at_s, payload hex, RR count) notifications, sent at
        ``at_s``; a watched strap keeps that time and the RR counts (its dashboard's beats
        are paired with them)."""
        items = ", ".join(
            f'{{"received_at_s": {t_s!r}, "payload_hex": "{payload_hex}"}}'
            for t_s, payload_hex, _ in notes
        )
        await ws.send(f'{{"v": 1, "type": "batch", "seq": {seq}, "notifications": [{items}]}}')
        if self.watched is not None:
            self.watched.sent_at_s += [at_s] * len(notes)
            self.watched.rr_counts += [rr_count for _, _, rr_count in notes]

    async def _acks(self, ws: ClientConnection, sent_at: dict[int, float]) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                now_s = time.time()
                message = json.loads(raw)
                if message.get("type") == "ack":
                    at_s = sent_at.pop(message["seq"], None)
                    if at_s is not None:
                        self.tally.acked += 1
                        self.tally.ack_ms.append(1000.0 * (now_s - at_s))
                elif self.tally.inside(now_s):
                    self.tally.refused += 1


def _window_latencies(
    strap: Strap, arrivals_s: list[float], window: tuple[float, float]
) -> list[float]:
    """Latencies of the strap's notifications sent inside the window: the beats before the
    window's first notification are skipped, so the k-th beat still matches its RR value."""
    first = next((i for i, t in enumerate(strap.sent_at_s) if t >= window[0]), None)
    if first is None:
        return []
    last = next((i for i, t in enumerate(strap.sent_at_s) if t >= window[1]), None)
    inside = Strap(strap.participant_id, strap.sent_at_s[first:last], strap.rr_counts[first:last])
    return latencies(inside, arrivals_s[sum(strap.rr_counts[:first]) :])


async def _generate(spec: dict[str, Any], stdin: asyncio.StreamReader) -> dict[str, Any]:
    """Connect the collectors (spread over the ramp) and dashboards, say when all are in,
    then count inside the window the orchestrator sends back."""
    pool = _payload_pool(POOL_NOTIFICATIONS)
    tally = _Tally()
    watched: dict[str, Strap] = {p: Strap(p) for _, _, ps in spec["dashboards"] for p in ps}
    arrivals: list[dict[str, list[float]]] = [{} for _ in spec["dashboards"]]
    synchrony: list[tuple[float, str]] = []
    tasks = [
        asyncio.create_task(_dashboard(url, spec["cookie"], arrivals[i], synchrony))
        for i, (url, _, _) in enumerate(spec["dashboards"])
    ]
    members = Counter(session_id for *_, session_id in spec["straps"])
    locksteps = {sid: _Lockstep([-math.inf] * n) for sid, n in members.items()}
    joined: Counter[str] = Counter()
    collectors = []
    for url, token, participant_id, pool_index, session_id in spec["straps"]:
        lockstep, member = locksteps[session_id], joined[session_id]
        joined[session_id] += 1
        collectors.append(
            _Collector(
                url,
                token,
                pool[pool_index],
                tally,
                watched.get(participant_id),
                spec["history_s"],
                lockstep,
                member,
            )
        )
    start_s, ramp_s = time.time() + 0.5, float(spec["ramp_s"])
    tasks += [
        asyncio.create_task(c.run(start_s + ramp_s * i / max(1, len(collectors))))
        for i, c in enumerate(collectors)
    ]
    welcomed = [asyncio.create_task(c.live.wait()) for c in collectors]
    done, _ = await asyncio.wait(welcomed, timeout=float(spec["connect_s"]))
    sys.stdout.write(f"CONNECTED {len(done)}\n")
    sys.stdout.flush()
    begin_s, end_s = (float(x) for x in (await stdin.readline()).split())
    cpu_start = _own_cpu_s()
    tally.window = (begin_s, end_s)
    await asyncio.sleep(max(0.0, end_s + float(spec["drain_s"]) - time.time()))
    cpu_s = _own_cpu_s() - cpu_start
    failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
    for task in (*tasks, *welcomed):
        task.cancel()
    await asyncio.gather(*tasks, *welcomed, return_exceptions=True)
    latency_ms = [
        1000.0 * latency
        for arrived in arrivals
        for strap in watched.values()
        for latency in _window_latencies(strap, arrived.get(strap.participant_id, []), tally.window)
    ]
    return {
        "sent": tally.sent,
        "acked": tally.acked,
        "refused": tally.refused,
        "ack_ms": tally.ack_ms,
        "lag_ms": tally.lag_ms,
        "latency_ms": latency_ms,
        "synchrony_statuses": [status for t_s, status in synchrony if tally.inside(t_s)],
        "cpu_pct": 100.0 * cpu_s / (end_s + float(spec["drain_s"]) - begin_s),
        "failed": sorted({repr(t.exception())[:200] for t in failed}),
    }


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _dashboard(
    url: str, cookie: str, arrivals: dict[str, list[float]], synchrony: list[tuple[float, str]]
) -> None:
    """Record when each beat arrives (per participant) and each synchrony status."""
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"}
    async with connect(url, additional_headers=headers, max_queue=None) as viewer:
        await viewer.send('{"type": "auth", "token": null, "after_seq": null}')
        async for raw in viewer:
            received_s = time.time()
            message = json.loads(raw)
            if message.get("type") == "beat":
                arrivals.setdefault(message["participant"], []).append(received_s)
            elif message.get("type") == "synchrony":
                synchrony.append((received_s, str(message.get("status"))))


async def _generator_main() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    spec = json.loads(await stdin.readline())
    result = await _generate(spec, stdin)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    # The generators share the machine with the service: the cheaper loop leaves it more.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_generator_main())
