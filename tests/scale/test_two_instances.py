"""Two real ``attune serve`` processes share PostgreSQL and Redis; one is killed mid-session.

A therapist's and a client's collector (the real ``Uplink`` with its outbox) stream a
simulated session through a small failover TCP proxy, which stands in for the load
balancer: it connects each new connection to instance A, or to B when A refuses. Dashboards
watch on A and on B. After ``kill -9`` of A, the collectors reconnect through the proxy to
B, which is refused (close 4421) until A's lease runs out, then takes the session over,
rebuilds it from the recording in PostgreSQL and carries on. Then:

- nothing acknowledged is lost and nothing is recorded twice;
- the dashboard on B saw exactly the session's live stream: every message the recording
  produces when fed through the pipeline again (the oracle), each once, in seq order;
- the dashboard on A, reconnected to B after the kill with its last seq (as the browser
  does), saw the same, without a gap or a repeat at the takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from attune.api.auth import COOKIE_NAME
from attune.api.inputs import session_inputs, stream_setup
from attune.api.stream import SessionStream, live_order
from attune.cli.common import free_port
from attune.collector.uplink import Uplink
from attune.protocol.ingest import SensorInfo
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    PersonProfile,
    StrapPacketizer,
    resting_beats,
)
from attune.store import Store, schema
from attune.testing.outbox import WatchedOutbox
from attune.testing.waits import eventually
from tests.integration.conftest import (
    PASSWORD,
    POSTGRES_URL,
    _drop_schema,
    _fresh_schema,
    cheap_passwords,
)
from tests.scale.conftest import REDIS_URL

NOTIFICATIONS = 150  # per participant
KILL_AFTER_ACKS = 50  # per participant
SEND_EVERY_S = 0.02
LEASE_TTL_S = 2.0
WAIT_S = 60.0  # bound on every wait below; none of them is a timing assertion
PROFILES: dict[str, PersonProfile] = {"therapist": THERAPIST_PROFILE, "client": CLIENT_PROFILE}


class FailoverProxy:
    """A loopback TCP proxy: each connection goes to the first upstream port that accepts
    it, as a load balancer skips a dead instance (nginx's ``proxy_next_upstream``)."""

    def __init__(self, upstream_ports: list[int]) -> None:
        self.upstream_ports = upstream_ports
        self.connections: list[int] = []  # upstream port of each connection, in order
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.upstream_ports:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            self.connections.append(port)
            break
        else:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class Instance:
    """``attune serve`` on a fixed loopback port, sharing PostgreSQL and Redis."""

    def __init__(self, name: str, env: dict[str, str], data_dir: Path) -> None:
        self.name, self.port, self.data_dir = name, free_port(), data_dir
        self.env = {**env, "ATTUNE_INSTANCE_ID": name}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "attune", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--data-dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"instance {self.name} exited"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/healthz").is_success:
                    return
            time.sleep(0.05)
        pytest.fail(f"instance {self.name} did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@dataclass
class Setup:
    schema: str
    session_id: str
    tokens: dict[str, str]  # collector token by role
    participants: dict[str, str]  # participant id by role
    a: Instance
    b: Instance


async def _prepare(schema_name: str) -> tuple[str, dict[str, str], dict[str, str]]:
    store = await Store.open(POSTGRES_URL, schema=schema_name)
    try:
        now_s = time.time()
        therapist = await store.accounts.add_therapist(
            "ana", "Ana", cheap_passwords().hash(PASSWORD), now_s=now_s
        )
        client = await store.clients.create(therapist.id, "C-1", "Bea", now_s=now_s)
        session = await store.sessions.create(
            "Scale-out", now_s=now_s, client_id=client.id, therapist_id=therapist.id
        )
        await store.sessions.start(session.id, now_s=now_s)
        tokens, participants = {}, {}
        for role in ("therapist", "client"):
            row, token = await store.sessions.add_participant(session.id, role, role.title())
            tokens[role], participants[role] = token, row.id
    finally:
        await store.close()
    return session.id, tokens, participants


@pytest.fixture
async def setup(redis, prefix, tmp_path) -> AsyncIterator[Setup]:
    schema_name = await _fresh_schema()
    session_id, tokens, participants = await _prepare(schema_name)
    env = {
        **os.environ,
        "ATTUNE_DATABASE_URL": POSTGRES_URL,
        "ATTUNE_DATABASE_SCHEMA": schema_name,
        "ATTUNE_REDIS_URL": REDIS_URL,
        "ATTUNE_REDIS_PREFIX": prefix,
        "ATTUNE_LEASE_TTL_S": str(LEASE_TTL_S),
        "ATTUNE_SECRET_KEY": "scale-test-secret",
        "ATTUNE_SUBSCRIBER_QUEUE_MESSAGES": "10000",
    }
    a = Instance("inst-a", env, tmp_path / "a")
    b = Instance("inst-b", env, tmp_path / "b")
    try:
        yield Setup(schema_name, session_id, tokens, participants, a, b)
    finally:
        a.stop()
        b.stop()
        await _drop_schema(schema_name)


@dataclass
class Dashboard:
    """A therapist's live view: the messages it received, in order."""

    messages: list[dict] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return self.messages[-1]["seq"] if self.messages else 0

    async def watch(self, url: str, cookie: str) -> None:
        """Receive until the socket closes."""
        headers = {"Cookie": f"{COOKIE_NAME}={cookie}"}
        async with connect(url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "auth", "token": None, "after_seq": self.last_seq}))
            await _expect_session(ws)
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    self.messages.append(json.loads(raw))


async def _expect_session(ws: ClientConnection) -> None:
    first = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    assert first["type"] == "session", first


def _notifications(role: str, seed: int) -> list[tuple[float, bytes]]:
    packetizer = StrapPacketizer(resting_beats(PROFILES[role], seed=seed))
    out = []
    for _ in range(NOTIFICATIONS):
        note = packetizer.next_notification()
        out.append((note.t_s, note.payload))
    return out


class Collectors:
    """The therapist's and the client's collectors: real uplinks with watched outboxes,
    fed a simulated session faster than real time."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.outboxes = {role: WatchedOutbox() for role in tokens}
        self.uplinks = {
            role: Uplink(
                url=url,
                token=token,
                sensor=SensorInfo(name=f"{role} strap"),
                outbox=self.outboxes[role],
                collector="scale-test",
                rng=random.Random(7),  # noqa: S311 - backoff jitter, not a secret
            )
            for role, token in tokens.items()
        }
        self.sent: dict[str, list[bytes]] = {role: [] for role in tokens}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> list[asyncio.Task[None]]:
        """Run the uplinks; returns the producers' tasks."""
        self.tasks = [asyncio.create_task(u.run()) for u in self.uplinks.values()]
        t0_s = time.time()
        return [
            asyncio.create_task(self._produce(role, seed, t0_s))
            for seed, role in enumerate(self.uplinks, start=1)
        ]

    async def _produce(self, role: str, seed: int, t0_s: float) -> None:
        for t_s, payload in _notifications(role, seed):
            self.uplinks[role].send_notification(t0_s + t_s, payload)
            self.sent[role].append(payload)
            await asyncio.sleep(SEND_EVERY_S)


async def _oracle(schema_name: str, session_id: str) -> tuple[list[dict], dict[str, dict]]:
    """The live stream the recording produces, and each participant's stored payloads."""
    store = await Store.open(POSTGRES_URL, schema=schema_name)
    try:
        session = await store.sessions.get(session_id)
        # Built as the service builds it: roles (synchrony, cues), stored baselines, controls.
        participants = await store.sessions.participants(session_id)
        setup = await stream_setup(store, session, participants)
        stream = SessionStream(session.origin_s, setup.pipeline())
        expected = [
            json.loads(m.model_dump_json())
            for item in live_order(await session_inputs(store, session_id))
            for m in stream.feed(item)
        ]
        n = schema.notifications
        stored: dict[str, list] = {}
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(n.c.participant_id, n.c.seq, n.c.payload).order_by(n.c.seq, n.c.idx)
            )
            for row in rows:
                stored.setdefault(row.participant_id, []).append((row.seq, bytes(row.payload)))
            count = (await conn.execute(select(func.count()).select_from(n))).scalar_one()
        stored["_rows"] = [("count", count)]
    finally:
        await store.close()
    return expected, stored


async def test_killing_the_owner_moves_the_session_without_loss_gap_or_repeat(
    setup: Setup, redis, prefix
) -> None:
    a, b = setup.a, setup.b
    await asyncio.to_thread(a.start)
    await asyncio.to_thread(b.start)
    async with httpx.AsyncClient(base_url=a.base) as http:
        login = await http.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})
        assert login.status_code == 200, login.text
        cookie = login.cookies[COOKIE_NAME]
    live_path = f"/live/{setup.session_id}"
    on_a, on_b = Dashboard(), Dashboard()
    watching_a = asyncio.create_task(on_a.watch(f"ws://127.0.0.1:{a.port}{live_path}", cookie))
    watching_b = asyncio.create_task(on_b.watch(f"ws://127.0.0.1:{b.port}{live_path}", cookie))

    proxy = FailoverProxy([a.port, b.port])
    collectors = Collectors(f"ws://127.0.0.1:{await proxy.start()}/ingest", setup.tokens)
    outboxes, producing = collectors.outboxes, collectors.start()
    try:
        await eventually(
            lambda: all(len(o.acked) >= KILL_AFTER_ACKS for o in outboxes.values()),
            "acks before the kill",
            within_s=WAIT_S,
        )
        assert await redis.get(f"{prefix}lease:{{{setup.session_id}}}") == "1:inst-a"
        a.kill()
        acked_before_kill = {role: set(o.acked) for role, o in outboxes.items()}
        await asyncio.wait_for(watching_a, WAIT_S)  # A's dashboard lost its server
        seen_on_a_before_kill = on_a.last_seq
        assert seen_on_a_before_kill > 0
        # The browser reconnects, to B now, resuming after the last seq it applied.
        watching_a = asyncio.create_task(on_a.watch(f"ws://127.0.0.1:{b.port}{live_path}", cookie))
        await asyncio.gather(*producing)
        await eventually(
            lambda: all(len(o) == 0 for o in outboxes.values()),
            "the outboxes to drain",
            within_s=WAIT_S,
        )
        expected, stored = await _oracle(setup.schema, setup.session_id)
        final_seq = expected[-1]["seq"]
        await eventually(
            lambda: on_a.last_seq >= final_seq and on_b.last_seq >= final_seq,
            "both dashboards to reach the last message",
            within_s=WAIT_S,
        )
    finally:
        for task in (*producing, *collectors.tasks, watching_a, watching_b):
            task.cancel()
        for task in (*collectors.tasks, watching_a, watching_b):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await proxy.stop()

    # B computes the session now, under a newer fencing token.
    lease = await redis.get(f"{prefix}lease:{{{setup.session_id}}}")
    assert lease is not None
    assert lease.endswith(":inst-b")
    assert int(lease.split(":")[0]) > 1
    assert b.port in proxy.connections[proxy.connections.index(a.port) :]

    # Nothing acknowledged was lost; everything was recorded exactly once.
    for role, participant_id in setup.participants.items():
        recorded = stored[participant_id]
        assert acked_before_kill[role] <= {seq for seq, _ in recorded}
        assert outboxes[role].acked == {seq for seq, _ in recorded}
        # Every notification once, in order (offline, the uplink packs several into a batch).
        assert [payload for _, payload in recorded] == collectors.sent[role]
    assert stored["_rows"] == [("count", 2 * NOTIFICATIONS)]

    # Both dashboards saw the recording's live stream exactly: no gap, no repeat.
    assert [m["seq"] for m in expected] == list(range(1, final_seq + 1))
    assert on_b.messages == expected
    assert 0 < seen_on_a_before_kill < final_seq
    assert on_a.messages == expected
