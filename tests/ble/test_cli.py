"""``attune scan`` and ``attune collect`` as real subprocesses against the fake BlueZ (at real
speed: the command uses the system clock) and the loopback service."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from attune.testing.bluez import StrapConfig
from attune.testing.clock import ScaledClock
from attune.testing.service import LoopbackService
from attune.testing.waits import PATIENCE_S
from tests.ble.helpers import batteries, link_states

pytestmark = pytest.mark.timeout(60)


async def attune(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "attune",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def read_until(process: asyncio.subprocess.Process, text: str) -> str:
    """stdout lines up to and including the first one containing ``text``."""
    assert process.stdout is not None
    seen = []
    async with asyncio.timeout(PATIENCE_S):
        while text not in (line := (await process.stdout.readline()).decode()):
            if not line:
                raise AssertionError(f"{text!r} never came; got {seen}")
            seen.append(line)
    return "".join([*seen, line])


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(1.0)  # the subprocess runs on real time


async def test_scan_prints_name_address_and_rssi(bluez) -> None:
    bluez.add_strap(StrapConfig())
    bluez.add_strap(StrapConfig(name="TICKR 6E21", address="C7:3B:11:6E:21:04", seed=2))
    process = await attune("scan", "--timeout", "1.5")
    out, _ = await process.communicate()
    lines = out.decode().splitlines()
    assert process.returncode == 0
    assert lines[0].split() == ["NAME", "ADDRESS", "RSSI"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:3]}
    assert set(rows) == {"Polar H10 8C4CAD2B", "TICKR 6E21"}
    assert "A0:9E:1A:8C:4C:AD" in rows["Polar H10 8C4CAD2B"]
    assert rows["TICKR 6E21"].endswith("dBm")


async def test_collect_streams_until_ctrl_c(bluez, service: LoopbackService, tmp_path) -> None:
    strap = bluez.add_strap(StrapConfig(notify_interval_s=0.25, battery_pct=55))
    session_id, tokens, ids = await service.new_session(("client",))
    process = await attune(
        "collect",
        "--server",
        service.base_url,
        "--device",
        f"H10={tokens['client']}",
        "--outbox",
        str(tmp_path / "outbox.sqlite3"),
    )
    out = await read_until(process, "streaming")
    assert "[Polar H10 8C4CAD2B] streaming (A0:9E:1A:8C:4C:AD, battery 55%)" in out
    await asyncio.sleep(1.0)
    process.send_signal(signal.SIGINT)
    rest, _ = await asyncio.wait_for(process.communicate(), PATIENCE_S)
    assert process.returncode == 0
    assert rest.decode().rstrip().endswith("Stopped.")
    recorded = await service.recorded(session_id, ids["client"])
    assert link_states(recorded)[-1] == "stopped"
    assert batteries(recorded) == [55]
    assert sum(e.delivered for e in strap.ledger) >= 3


async def test_collect_exits_with_advice_on_a_fatal_problem(bluez, service, tmp_path) -> None:
    bluez.deny_access()
    _, tokens, _ = await service.new_session(("client",))
    process = await attune(
        "collect",
        "--server",
        service.base_url,
        "--device",
        "H10",
        "--token",
        tokens["client"],
        "--outbox",
        str(tmp_path / "outbox.sqlite3"),
    )
    out, _ = await asyncio.wait_for(process.communicate(), PATIENCE_S)
    assert process.returncode == 2
    assert "[H10] stopped: Access to BlueZ was denied" in out.decode()
    assert "usermod -aG bluetooth" in out.decode()
