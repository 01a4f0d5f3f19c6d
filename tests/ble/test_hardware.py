"""The hardware tier: the virtual tier's checks against real straps and the real BlueZ.

Run with ``uv run pytest tests/ble/test_hardware.py --ble-device "Polar H10"`` (repeat
``--ble-device`` for the two-strap check) while wearing the strap(s); skipped otherwise.
Faults that need the virtual strap's hooks (contact, malformed payloads, absence) are not
repeated here; a link drop is provoked through BlueZ itself (``Device1.Disconnect``).
"""

from __future__ import annotations

import sys

import pytest
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from attune.collector.clock import SystemClock
from tests.ble.helpers import (
    batteries,
    check_streamed_and_stopped,
    eventually,
    link_states,
    start_run,
)

pytestmark = pytest.mark.timeout(300)
NOTIFICATIONS = 15  # about 15 s of a real strap
PATIENCE_S = 90.0


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


@pytest.fixture
def devices(request: pytest.FixtureRequest) -> list[str]:
    found: list[str] = request.config.getoption("--ble-device")
    if not found:
        pytest.skip("hardware tier: pass --ble-device NAME_OR_ADDRESS to run it")
    return found


async def wait_streaming(run, index: int = 0, notifications: int = NOTIFICATIONS) -> None:
    link = run.link(index)
    await eventually(lambda: link.state.value == "streaming", "the strap", PATIENCE_S)
    target = link.stats.notifications + notifications
    await eventually(lambda: link.stats.notifications >= target, "notifications", PATIENCE_S)


async def bluez_disconnect(address: str) -> None:
    """Ask BlueZ to disconnect the device, as another app or the user could."""
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
        assert reply is not None
        (path,) = [
            p
            for p, ifaces in reply.body[0].items()
            if ifaces.get("org.bluez.Device1", {}).get("Address")
            and ifaces["org.bluez.Device1"]["Address"].value == address
        ]
        done = await bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface="org.bluez.Device1",
                member="Disconnect",
            )
        )
        assert done is not None
        assert done.message_type is MessageType.METHOD_RETURN, done.body
    finally:
        bus.disconnect()


async def test_real_strap_streams(devices, service, clock, tmp_path) -> None:
    run = await start_run(service, devices[:1], tmp_path / "o.sqlite3", clock)
    await wait_streaming(run)
    link = run.link()
    recorded = await check_streamed_and_stopped(run)
    assert link.stats.contact is not False, "wear the strap for the hardware tier"
    if link.stats.battery_pct is not None:
        assert batteries(recorded)[0] == link.stats.battery_pct


@pytest.mark.skipif(sys.platform != "linux", reason="drops the link through BlueZ")
async def test_real_strap_reconnects_after_a_drop(devices, service, clock, tmp_path) -> None:
    run = await start_run(service, devices[:1], tmp_path / "o.sqlite3", clock)
    await wait_streaming(run)
    await bluez_disconnect(run.link().seen.address)
    await eventually(lambda: run.link().stats.connects == 2, "the reconnect", PATIENCE_S)
    await wait_streaming(run, notifications=5)
    recorded = await check_streamed_and_stopped(run)
    assert link_states(recorded).count("streaming") == 2
    assert "lost" in link_states(recorded)


async def test_real_strap_through_a_service_outage(devices, service, clock, tmp_path) -> None:
    run = await start_run(service, devices[:1], tmp_path / "o.sqlite3", clock)
    await wait_streaming(run, notifications=5)
    await service.stop()
    await wait_streaming(run, notifications=10)
    await service.start()
    outbox = run.collector.uplinks[0].outbox
    await eventually(lambda: len(outbox) == 0, "the outbox to drain", PATIENCE_S)
    await check_streamed_and_stopped(run)


async def test_two_real_straps(devices, service, clock, tmp_path) -> None:
    if len(devices) < 2:
        pytest.skip("give --ble-device twice for the two-strap check")
    run = await start_run(service, devices[:2], tmp_path / "o.sqlite3", clock)
    await wait_streaming(run, 0)
    await wait_streaming(run, 1)
    await check_streamed_and_stopped(run, 0)
    await check_streamed_and_stopped(run, 1)
