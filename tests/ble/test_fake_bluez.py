"""The fake models the BlueZ behaviours the collector is built around (virtual-strap-bluez.md
§2); if one of these stops holding, the collector tests above prove less."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDBusError, BleakError

from attune.collector.ble import HRM_UUID, HRS_UUID
from attune.collector.problems import diagnose
from attune.testing.bluez import StrapConfig
from attune.testing.bluez.fake import DEVICE, GATT_CHARACTERISTIC


def ignore(*_args: object) -> None:
    pass


async def find(name: str, timeout_s: float = 2.0):
    device = await BleakScanner.find_device_by_filter(
        lambda _device, adv: adv.local_name == name, timeout=timeout_s, service_uuids=[HRS_UUID]
    )
    assert device is not None, f"{name} not found"
    return device


async def test_one_discovery_session_per_client(bluez) -> None:
    bluez.add_strap(StrapConfig())
    async with BleakScanner(service_uuids=[HRS_UUID]):
        second = BleakScanner(service_uuids=[HRS_UUID])
        with pytest.raises(BleakDBusError) as info:
            await second.start()
    assert info.value.dbus_error == "org.bluez.Error.InProgress"


async def test_concurrent_connects_are_refused(bluez) -> None:
    a = bluez.add_strap(StrapConfig(connect_latency_s=2.0))
    b = bluez.add_strap(StrapConfig(name="TICKR 1", address="C7:3B:11:6E:21:04", seed=2))
    devices = [await find(a.config.name), await find(b.config.name)]
    clients = [BleakClient(d, timeout=5) for d in devices]
    results = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert diagnose(errors[0], "strap").code == "strap_busy"
    assert bluez.refused_concurrent_connects == 1
    for client in clients:
        await client.disconnect()


async def test_acquire_notify_excludes_start_notify(bluez) -> None:
    strap = bluez.add_strap(StrapConfig())
    device = await find(strap.config.name)
    holder = BleakClient(device, timeout=5)
    await holder.connect()
    await holder.start_notify(HRM_UUID, ignore, bluez={"use_start_notify": False})
    other = BleakClient(device, timeout=5)
    await other.connect()  # BlueZ shares the connected device between clients
    with pytest.raises(BleakDBusError) as info:
        await other.start_notify(HRM_UUID, ignore)
    assert info.value.dbus_error_details == "Notify acquired"
    await other.disconnect()
    await holder.disconnect()


async def test_a_departed_client_loses_its_notify_session(bluez) -> None:
    strap = bluez.add_strap(StrapConfig())
    client = BleakClient(await find(strap.config.name), timeout=5)
    await client.connect()
    await client.start_notify(HRM_UUID, ignore)
    hrm_path = next(p for p in bluez.objects if p.endswith("char0011"))
    assert bluez.get(hrm_path, GATT_CHARACTERISTIC, "Notifying") is True
    await client.disconnect()  # closes the client's D-Bus connection too
    assert strap.connects == 1
    for _ in range(100):
        if not bluez.get(hrm_path, GATT_CHARACTERISTIC, "Notifying"):
            break
        await asyncio.sleep(0.01)
    assert bluez.get(hrm_path, GATT_CHARACTERISTIC, "Notifying") is False


async def test_temporary_device_is_reaped_and_a_stale_handle_fails(bluez, clock) -> None:
    strap = bluez.add_strap(StrapConfig(temporary_timeout_s=2.0))
    device = await find(strap.config.name)
    assert bluez.get(strap.path, DEVICE, "Name") == strap.config.name
    await clock.sleep(4.0)  # no scan running: no adverts, so bluetoothd forgets it
    assert strap.path not in bluez.objects
    with pytest.raises(BleakError) as info:
        await BleakClient(device, timeout=5).connect()
    assert diagnose(info.value, "strap").code == "strap_not_found"
