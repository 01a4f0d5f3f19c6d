"""``attune bench latency``: ingest-to-dashboard latency on loopback.

A real ``attune serve`` runs in a subprocess (its own data directory and port). In this
process, the demo's two simulated straps stream through the real uplink into ``/ingest`` at
the demo's pace (about one notification a second each), and ten dashboards watch the session
on ``/live``. A notification's latency, per dashboard, runs from its arrival stamp at the
collector to the dashboard receiving the first beat decoded from it. Two scenarios run in one
go: the ten dashboards alone (the baseline), then with an eleventh dashboard that never reads
(with a tiny socket buffer), so the ratio shows what a stalled viewer costs the others.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from attune.api.auth import COOKIE_NAME
from attune.api.passwords import Passwords
from attune.cli.common import free_port, say
from attune.collector.uplink import Uplink
from attune.errors import ConfigError
from attune.hrv.artefacts import DECISION_DELAY
from attune.protocol.ingest import SensorInfo
from attune.sensor.hrm import parse_hrm
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    PersonProfile,
    StrapPacketizer,
    resting_beats,
)
from attune.store import Role, Store

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

USERNAME, PASSWORD = "bench", "bench password"
STARTUP_TIMEOUT_S = 60.0
DRAIN_S = 3.0  # after the straps stop, time for the last beats to reach every dashboard


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "latency", help="ingest-to-dashboard latency (p50, p99)", description=__doc__
    )
    parser.add_argument("--duration-s", type=float, default=30.0, help="per scenario")
    parser.add_argument("--dashboards", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Figures:
    scenario: str
    dashboards: int
    notifications: int
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(slots=True)
class Strap:
    """A participant's sent notifications: arrival stamps and how many RR values each held."""

    participant_id: str
    sent_at_s: list[float] = field(default_factory=list)
    rr_counts: list[int] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    baseline, stalled = asyncio.run(_bench(args.duration_s, args.dashboards))
    ratio = {
        "p50": stalled.p50_ms / baseline.p50_ms,
        "p99": stalled.p99_ms / baseline.p99_ms,
    }
    if args.json:
        document = {
            "scenarios": [asdict(baseline), asdict(stalled)],
            "stalled_over_baseline": ratio,
        }
        say(json.dumps(document, indent=2))
        return 0
    say("ingest-to-dashboard latency, loopback, demo straps (2), real uvicorn and websockets")
    for f in (baseline, stalled):
        say(
            f"  {f.scenario:<28} dashboards={f.dashboards:<3} samples={f.samples:<5} "
            f"p50={f.p50_ms:7.2f} ms  p99={f.p99_ms:7.2f} ms  max={f.max_ms:7.2f} ms"
        )
    say(f"  with a stalled dashboard / baseline: p50 x{ratio['p50']:.2f}, p99 x{ratio['p99']:.2f}")
    return 0


@dataclass(frozen=True, slots=True)
class _Setup:
    base: str
    cookie: str
    dashboards: int
    duration_s: float


async def _bench(duration_s: float, dashboards: int) -> tuple[Figures, Figures]:
    with tempfile.TemporaryDirectory(prefix="attune-bench-") as tmp:
        sessions = [await _prepare(Path(tmp), name) for name in ("baseline", "stalled")]
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "attune", "serve", "--port", str(port), "--data-dir", tmp),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            setup = _Setup(base, await _sign_in(base), dashboards, duration_s)
            results = [
                await _scenario(setup, session_id, tokens, stalled=stalled)
                for (session_id, tokens), stalled in zip(sessions, (False, True), strict=True)
            ]
        finally:
            server.terminate()
            await server.wait()
    return results[0], results[1]


async def _prepare(data_dir: Path, title: str) -> tuple[str, dict[Role, tuple[str, str]]]:
    """A session with a therapist and a client; returns its id and (participant, token) by role."""
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'attune.sqlite3'}")
    try:
        now_s = time.time()
        found = await store.accounts.credentials(USERNAME)
        if found is None:
            password_hash = await Passwords().hash_async(PASSWORD)
            therapist = await store.accounts.add_therapist(
                USERNAME, "Bench", password_hash, now_s=now_s
            )
        else:
            therapist = found[0]
        client = await store.clients.create(therapist.id, f"C-{title}", title, now_s=now_s)
        session = await store.sessions.create(
            title, now_s=now_s, client_id=client.id, therapist_id=therapist.id
        )
        await store.sessions.start(session.id, now_s=now_s)
        tokens: dict[Role, tuple[str, str]] = {}
        for role in ("therapist", "client"):
            participant, token = await store.sessions.add_participant(session.id, role, role)
            tokens[role] = (participant.id, token)
    finally:
        await store.close()
    return session.id, tokens


async def _sign_in(base: str) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base) as http:
        while True:
            try:
                response = await http.post(
                    "/api/auth/login", json={"username": USERNAME, "password": PASSWORD}
                )
                return response.cookies[COOKIE_NAME]
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def _scenario(
    setup: _Setup, session_id: str, tokens: dict[Role, tuple[str, str]], *, stalled: bool
) -> Figures:
    name = f"{setup.dashboards} dashboards" + (" + 1 stalled" if stalled else "")
    ws_base = setup.base.replace("http", "ws", 1)
    headers = {"Cookie": f"{COOKIE_NAME}={setup.cookie}"}
    url = f"{ws_base}/live/{session_id}"
    viewers = [await _watch(url, headers) for _ in range(setup.dashboards)]
    arrivals: list[dict[str, list[float]]] = [{} for _ in viewers]
    readers = [asyncio.create_task(_read(v, a)) for v, a in zip(viewers, arrivals, strict=True)]
    frozen = await _watch(url, headers, rcvbuf=4096) if stalled else None
    straps, tasks = [], []
    profiles: dict[Role, PersonProfile] = {"therapist": THERAPIST_PROFILE, "client": CLIENT_PROFILE}
    for seed, (role, (participant_id, token)) in enumerate(tokens.items(), start=1):
        strap = Strap(participant_id)
        uplink = Uplink(
            url=f"{ws_base}/ingest", token=token, sensor=SensorInfo(name=f"bench {role}")
        )
        tasks += [
            asyncio.create_task(uplink.run()),
            asyncio.create_task(_stream(uplink, strap, profiles[role], seed)),
        ]
        straps.append(strap)
    await asyncio.sleep(setup.duration_s)
    for task in tasks:
        task.cancel()
    await asyncio.sleep(DRAIN_S)
    for task in (*readers, *tasks):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for viewer in (*viewers, *([frozen] if frozen else [])):
        await viewer.close()
    latencies_ms = [
        1000.0 * latency
        for arrived in arrivals
        for strap in straps
        for latency in latencies(strap, arrived.get(strap.participant_id, []))
    ]
    values = np.asarray(latencies_ms)
    if not values.size:
        raise ConfigError(f"{name}: no beat reached a dashboard; run longer (--duration-s)")
    return Figures(
        scenario=name,
        dashboards=setup.dashboards,
        notifications=sum(len(s.sent_at_s) for s in straps),
        samples=int(values.size),
        p50_ms=float(np.percentile(values, 50)),
        p99_ms=float(np.percentile(values, 99)),
        max_ms=float(values.max()),
    )


async def _watch(url: str, headers: dict[str, str], rcvbuf: int | None = None) -> ClientConnection:
    sock = None
    if rcvbuf is not None:  # a viewer that reads nothing, with room for almost nothing
        host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    viewer = await connect(
        url, additional_headers=headers, sock=sock, max_queue=1 if sock else 16, close_timeout=1
    )
    await viewer.send(json.dumps({"type": "auth", "token": None, "after_seq": None}))
    if sock is None:
        first = json.loads(await viewer.recv())
        if first.get("type") != "session":
            raise RuntimeError(f"dashboard refused: {first}")
    return viewer


async def _read(viewer: ClientConnection, arrivals: dict[str, list[float]]) -> None:
    """Record when each beat reaches this dashboard, per participant."""
    async for raw in viewer:
        received_s = time.time()
        message = json.loads(raw)
        if message.get("type") == "beat":
            arrivals.setdefault(message["participant"], []).append(received_s)


async def _stream(uplink: Uplink, strap: Strap, profile: PersonProfile, seed: int) -> None:
    """A simulated strap at rest, keeping what it sent (see collector/simulated.py)."""
    packetizer = StrapPacketizer(resting_beats(profile, seed=seed))
    start_s = time.time()
    while True:
        notification = packetizer.next_notification()
        await asyncio.sleep(max(0.0, start_s + notification.t_s - time.time()))
        sent_at_s = time.time()
        uplink.send_notification(sent_at_s, notification.payload)
        strap.sent_at_s.append(sent_at_s)
        strap.rr_counts.append(len(parse_hrm(notification.payload).rr_1024))


def latencies(strap: Strap, beat_arrivals_s: list[float]) -> list[float]:
    """Per notification: the arrival of the first beat it released minus its send stamp.

    The live artefact screen decides a beat when the beat ``DECISION_DELAY`` later arrives, so
    the notification carrying RR values ``b..`` releases beat messages from ``b - DECISION_DELAY``
    on (the simulated RR values are all in range, so the timeline keeps every one).
    """
    out, first = [], 0
    for sent_at_s, count in zip(strap.sent_at_s, strap.rr_counts, strict=True):
        released = first - DECISION_DELAY
        if count and 0 <= released < len(beat_arrivals_s):
            out.append(beat_arrivals_s[released] - sent_at_s)
        first += count
    return out
