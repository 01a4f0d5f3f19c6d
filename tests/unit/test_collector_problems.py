"""Every Bleak, D-Bus and OS error the collector meets becomes a CollectorError with a code and
advice a user can act on; unknown exceptions are bugs and pass through."""

from __future__ import annotations

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)
from dbus_fast.errors import AuthError

from attune.collector.problems import (
    Problem,
    advice_for,
    check_bluez_version,
    diagnose,
    parse_bluez_version,
)
from attune.errors import CollectorError

R = BleakBluetoothNotAvailableReason

CASES = [
    (BleakBluetoothNotAvailableError("off", R.POWERED_OFF), "adapter_off"),
    (BleakBluetoothNotAvailableError("none", R.NO_BLUETOOTH), "no_adapter"),
    (BleakBluetoothNotAvailableError("no le", R.NO_BLE_CENTRAL_ROLE), "no_adapter"),
    (BleakBluetoothNotAvailableError("denied", R.DENIED_BY_USER), "no_permission"),
    (BleakBluetoothNotAvailableError("denied", R.DENIED_BY_SYSTEM), "no_permission"),
    (BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["Rejected"]), "no_permission"),
    (BleakDBusError("org.bluez.Error.NotAuthorized", []), "no_permission"),
    (
        BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", ["no org.bluez"]),
        "bluetooth_service_down",
    ),
    (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "adapter_off"),
    (BleakDBusError("org.bluez.Error.InProgress", ["in progress"]), "strap_busy"),
    (BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-remote"]), "strap_busy"),
    (BleakDBusError("org.bluez.Error.Failed", ["le-connection-refused"]), "strap_busy"),
    (BleakDBusError("org.bluez.Error.Failed", ["le-connection-timeout"]), "strap_unreachable"),
    (
        BleakDBusError("org.bluez.Error.Failed", ["le-connection-adapter-not-powered"]),
        "adapter_off",
    ),
    (BleakDBusError("org.bluez.Error.Failed", ["Software caused abort"]), "connect_failed"),
    (BleakDeviceNotFoundError("A0:9E", "gone"), "strap_not_found"),
    (BleakError("device 'dev_A0_9E_1A_8C_4C_AD' not found"), "strap_not_found"),
    (BleakError("adapter 'hci7' not found"), "no_adapter"),
    (
        BleakCharacteristicNotFoundError("00002a37-0000-1000-8000-00805f9b34fb"),
        "not_a_heart_rate_strap",
    ),
    (BleakError("Bleak requires BlueZ >= 5.55."), "bluez_too_old"),
    (BleakError("failed to discover services, device disconnected"), "connect_failed"),
    (TimeoutError(), "strap_unreachable"),
    (PermissionError(13, "Permission denied"), "no_permission"),
    (AuthError("EXTERNAL rejected"), "no_permission"),
    (FileNotFoundError(2, "No such file", "/run/dbus/system_bus_socket"), "bluetooth_service_down"),
    (ConnectionRefusedError(111, "refused"), "bluetooth_service_down"),
    (OSError(5, "I/O error"), "connect_failed"),
]


@pytest.mark.parametrize(("exc", "code"), CASES, ids=lambda v: getattr(v, "value", None) or str(v))
def test_diagnose(exc: BaseException, code: str) -> None:
    error = diagnose(exc, "Polar H10 8C4CAD2B", platform="linux")
    assert error.code == code
    assert error.advice == advice_for(Problem(code), "linux")
    assert error.fatal == (code in {"no_permission", "bluez_too_old", "not_a_heart_rate_strap"})


def test_every_problem_has_advice_on_every_platform() -> None:
    for problem in Problem:
        for platform in ("linux", "darwin", "win32"):
            assert len(advice_for(problem, platform)) > 20


def test_advice_follows_the_platform() -> None:
    assert "usermod" in advice_for(Problem.NO_PERMISSION, "linux")
    assert "Privacy & Security > Bluetooth" in advice_for(Problem.NO_PERMISSION, "darwin")
    assert "Radios" in advice_for(Problem.NO_PERMISSION, "win32")


def test_a_collector_error_passes_through_unchanged() -> None:
    error = CollectorError("x", advice="y", code="strap_busy")
    assert diagnose(error, "strap") is error


def test_unknown_exceptions_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        diagnose(KeyError("bug"), "strap")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("bluetoothctl: 5.66\n", (5, 66)),
        ("5.55", (5, 55)),
        ("bluetoothctl: 5.50", (5, 50)),
        ("", None),
    ],
)
def test_parse_bluez_version(text: str, version: tuple[int, int] | None) -> None:
    assert parse_bluez_version(text) == version


def test_check_bluez_version() -> None:
    check_bluez_version("bluetoothctl: 5.66")
    check_bluez_version(None)  # no bluetoothctl (containers): assume fine, as Bleak does
    with pytest.raises(CollectorError) as info:
        check_bluez_version("bluetoothctl: 5.53")
    assert (info.value.code, info.value.fatal) == ("bluez_too_old", True)
    assert "5.53" in info.value.message
