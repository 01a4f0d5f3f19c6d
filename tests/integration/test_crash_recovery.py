"""Kill -9 the service while a collector streams, restart it: every batch acknowledged before
the kill is in the database, and once the collector has resumed every batch is recorded
exactly once. The service is a real ``python -m attune serve`` subprocess; the collector is
the real Uplink with its outbox, in this process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from attune.cli.common import free_port
from attune.collector.uplink import Uplink
from attune.protocol.ingest import SensorInfo
from attune.sensor.hrm import HeartRateMeasurement, encode_hrm
from attune.store import Store, schema
from attune.testing.outbox import WatchedOutbox
from attune.testing.waits import eventually

NOTIFICATIONS = 300
KILL_AFTER_ACKS = 100
WAIT_S = 60.0  # bound on every wait below; none of them is a timing assertion


class Service:
    """``attune serve`` on a fixed loopback port, started and killed at will."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "attune", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--data-dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").is_success:
                    return
            time.sleep(0.05)
        pytest.fail("attune serve did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def service_process(tmp_path) -> Iterator[Service]:
    service = Service(tmp_path, free_port())
    yield service
    service.stop()


def payload(seq: int) -> bytes:
    rr = 700 + seq % 300  # a different RR per batch, so every stored payload is checkable
    return encode_hrm(HeartRateMeasurement(60, True, None, (rr,), True))


async def _prepare(data_dir: Path) -> tuple[str, str, str]:
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'attune.sqlite3'}")
    try:
        therapist = await store.accounts.add_therapist("ana", "Ana", "-", now_s=time.time())
        client = await store.clients.create(therapist.id, "C-1", "Bea", now_s=time.time())
        session = await store.sessions.create(
            "Crash", now_s=time.time(), client_id=client.id, therapist_id=therapist.id
        )
        participant, token = await store.sessions.add_participant(session.id, "client", "Bea")
    finally:
        await store.close()
    return session.id, participant.id, token


async def _recorded(data_dir: Path, participant_id: str) -> list[tuple[int, bytes]]:
    """Every stored notification row as (seq, payload), in seq and batch order."""
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'attune.sqlite3'}")
    n = schema.notifications
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(n.c.seq, n.c.payload)
                .where(n.c.participant_id == participant_id)
                .order_by(n.c.seq, n.c.idx)
            )
            return [(row.seq, bytes(row.payload)) for row in rows]
    finally:
        await store.close()


async def test_kill_9_loses_no_acknowledged_batch_and_duplicates_none(service_process) -> None:
    service = service_process
    _, participant_id, token = await _prepare(service.data_dir)
    service.start()
    outbox = WatchedOutbox()
    uplink = Uplink(
        url=f"ws://127.0.0.1:{service.port}/ingest",
        token=token,
        sensor=SensorInfo(name="crash test strap"),
        outbox=outbox,
        collector="crash-test",
        rng=random.Random(5),  # noqa: S311 - backoff jitter, not a secret
    )
    sending = asyncio.create_task(uplink.run())
    t0_s = time.time()

    async def produce() -> None:
        # While the service is down the uplink packs notifications into fewer batches.
        for i in range(NOTIFICATIONS):
            uplink.send_notification(t0_s + i, payload(i))
            await asyncio.sleep(0.003)

    producing = asyncio.create_task(produce())
    try:
        await eventually(
            lambda: len(outbox.acked) >= KILL_AFTER_ACKS, "acks before the kill", within_s=WAIT_S
        )
        service.kill()
        acked_before_kill = set(outbox.acked)
        stored = await _recorded(service.data_dir, participant_id)
        missing = acked_before_kill - {seq for seq, _ in stored}
        assert not missing, f"acknowledged but lost in the kill: {sorted(missing)}"

        service.start()
        await producing
        await eventually(
            lambda: len(outbox) == 0, "the outbox to drain after the restart", within_s=WAIT_S
        )
    finally:
        producing.cancel()
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending

    stored = await _recorded(service.data_dir, participant_id)
    assert len(acked_before_kill) < len(outbox.acked)  # the kill did interrupt the stream
    assert outbox.acked == {seq for seq, _ in stored}
    # Every notification exactly once, in order: resends after the restart were not recorded.
    assert [p for _, p in stored] == [payload(i) for i in range(NOTIFICATIONS)]
