"""The user-facing problems, provoked through the fake BlueZ and the real Bleak: each becomes a
CollectorError with its code and advice; the recoverable ones heal when the cause goes."""

from __future__ import annotations

import pytest

from attune.errors import CollectorError
from attune.testing.bluez import FakeBlueZ, StrapConfig
from tests.ble.helpers import (
    check_streamed_and_stopped,
    eventually,
    fast_config,
    link_reasons,
    start_run,
)


def code_of(run) -> str | None:
    error = run.link().last_error
    return error.code if error else None


async def test_adapter_off_is_retried_until_it_is_switched_on(
    bluez, service, clock, tmp_path
) -> None:
    bluez.add_strap(StrapConfig())
    bluez.power(False)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await eventually(lambda: code_of(run) == "adapter_off", "the adapter-off problem")
    assert "bluetoothctl power on" in run.link().last_error.advice
    bluez.power(True)
    await run.streaming()
    recorded = await check_streamed_and_stopped(run)
    assert link_reasons(recorded, "backoff")[0].startswith("Bluetooth is off")


async def test_adapter_switched_off_mid_stream(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(StrapConfig())
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming()
    bluez.power(False)
    await eventually(lambda: code_of(run) == "adapter_off", "the adapter-off problem")
    bluez.power(True)
    await eventually(lambda: strap.connects == 2, "the reconnect")
    await run.streaming()
    recorded = await check_streamed_and_stopped(run)
    assert link_reasons(recorded, "lost")


async def test_no_permission_stops_the_link_with_advice(bluez, service, clock, tmp_path) -> None:
    bluez.add_strap(StrapConfig())
    bluez.deny_access()
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    (final,) = await run.task  # a fatal problem ends the run by itself
    assert final.state.value == "stopped"
    assert "Access to BlueZ was denied" in final.reason
    error = run.link().last_error
    assert (error.code, error.fatal) == ("no_permission", True)
    assert "bluetooth` group" in error.advice


async def test_bluez_too_old_is_refused_before_anything_starts(
    bluez, service, clock, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ATTUNE_FAKE_BLUEZ_VERSION", "5.50")
    bluez.add_strap(StrapConfig())
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    with pytest.raises(CollectorError) as info:
        await run.task
    assert info.value.code == "bluez_too_old"
    assert "BlueZ 5.50 is too old" in info.value.message
    assert bluez.calls[("org.bluez.Adapter1", "StartDiscovery")] == 0


@pytest.mark.parametrize(
    ("how", "code"), [("refusing", "strap_busy"), ("hidden", "strap_not_found")]
)
async def test_strap_held_by_another_app(bluez, service, clock, tmp_path, *, how, code) -> None:
    strap = bluez.add_strap(StrapConfig())
    strap.occupy(how)
    config = fast_config(not_found_notice_s=3.0)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock, config)
    await eventually(lambda: code_of(run) == code, code)
    assert "other app" in run.link().last_error.advice
    strap.release()
    await run.streaming()
    await check_streamed_and_stopped(run)


async def test_bluez_not_running_then_started(
    system_bus, service, clock, tmp_path, monkeypatch
) -> None:
    for name, value in system_bus.env().items():
        monkeypatch.setenv(name, value)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await eventually(lambda: code_of(run) == "bluetooth_service_down", "BlueZ to be missed")
    assert "systemctl start bluetooth" in run.link().last_error.advice
    fake = await FakeBlueZ(clock).start()
    try:
        fake.add_strap(StrapConfig())
        await run.streaming()
        await check_streamed_and_stopped(run)
    finally:
        await fake.stop()
