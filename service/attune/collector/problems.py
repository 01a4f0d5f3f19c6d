"""What can go wrong between the collector and a strap, in words a user can act on.

Bleak, BlueZ and D-Bus report problems as exception types and error strings; ``diagnose``
translates them at the boundary into a ``CollectorError`` with a message, advice and a
``Problem`` code. BlueZ's connect failure strings come from its src/error.h
(``le-connection-*``, BlueZ >= 5.62); the Bleak types from ``bleak.exc``. docs/collector.md
has a troubleshooting entry for every problem here.
"""

from __future__ import annotations

import enum
import sys

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

from attune.errors import CollectorError

MIN_BLUEZ = (5, 55)  # Bleak's BlueZ backend refuses older versions


class Problem(enum.StrEnum):
    STRAP_NOT_FOUND = "strap_not_found"
    STRAP_BUSY = "strap_busy"
    STRAP_UNREACHABLE = "strap_unreachable"
    NOT_A_HEART_RATE_STRAP = "not_a_heart_rate_strap"
    ADAPTER_OFF = "adapter_off"
    NO_ADAPTER = "no_adapter"
    BLUETOOTH_SERVICE_DOWN = "bluetooth_service_down"
    NO_PERMISSION = "no_permission"
    BLUEZ_TOO_OLD = "bluez_too_old"
    CONNECT_FAILED = "connect_failed"


FATAL = frozenset({Problem.NO_PERMISSION, Problem.BLUEZ_TOO_OLD, Problem.NOT_A_HEART_RATE_STRAP})

_ADVICE_LINUX = {
    Problem.STRAP_NOT_FOUND: (
        "Wear the strap (most straps sleep without skin contact; moisten the electrodes), check"
        " its battery, keep it within a few metres, and close other apps or phones that may be"
        " connected to it: a connected strap stops advertising. `attune scan` lists what is"
        " visible"
    ),
    Problem.STRAP_BUSY: (
        "Another app or phone is connected to the strap. Close it (Polar Flow, Polar Beat,"
        " Zwift, a watch) or switch that phone's Bluetooth off. Polar straps allow one"
        " connection by default; a second one can be enabled in Polar Flow"
    ),
    Problem.STRAP_UNREACHABLE: (
        "The strap did not answer: bring it closer to the adapter, away from USB 3 ports and"
        " Wi-Fi routers, and check its battery. The collector keeps retrying"
    ),
    Problem.NOT_A_HEART_RATE_STRAP: (
        "This device has no Heart Rate Measurement characteristic (0x2A37). Pick a strap that"
        " implements the Bluetooth Heart Rate Service; `attune scan` lists them"
    ),
    Problem.ADAPTER_OFF: (
        "Turn Bluetooth on: `bluetoothctl power on`, or `rfkill unblock bluetooth` if it is"
        " blocked. The collector retries on its own"
    ),
    Problem.NO_ADAPTER: (
        "Plug in a Bluetooth 4.0+ adapter and check that `bluetoothctl list` shows it;"
        " inside a container, share the host's D-Bus system bus"
    ),
    Problem.BLUETOOTH_SERVICE_DOWN: (
        "Start BlueZ: `sudo systemctl start bluetooth` (inside a container, mount"
        " /run/dbus/system_bus_socket from the host)"
    ),
    Problem.NO_PERMISSION: (
        "Your user may not talk to BlueZ over D-Bus. Add it to the `bluetooth` group"
        " (`sudo usermod -aG bluetooth $USER`, then log in again) or check the D-Bus policy in"
        " /etc/dbus-1/system.d/bluetooth.conf"
    ),
    Problem.BLUEZ_TOO_OLD: (
        "Upgrade BlueZ to 5.55 or newer (Debian 11+, Ubuntu 22.04+ ship it); `bluetoothctl"
        " --version` shows yours"
    ),
    Problem.CONNECT_FAILED: "The collector keeps retrying; see docs/collector.md if it persists",
}

_ADVICE_MACOS = {
    Problem.NO_PERMISSION: (
        "Allow Bluetooth for the app running attune (your terminal or IDE) in System Settings"
        " > Privacy & Security > Bluetooth, then restart it"
    ),
    Problem.ADAPTER_OFF: "Turn Bluetooth on in Control Centre; the collector retries on its own",
    Problem.NO_ADAPTER: "This Mac reports no Bluetooth LE adapter",
    Problem.BLUETOOTH_SERVICE_DOWN: "Restart Bluetooth (or the Mac); CoreBluetooth is not ready",
}

_ADVICE_WINDOWS = {
    Problem.NO_PERMISSION: (
        "Allow apps to use Bluetooth in Settings > Privacy & security > Radios"
    ),
    Problem.ADAPTER_OFF: "Turn Bluetooth on in Settings > Bluetooth & devices",
    Problem.NO_ADAPTER: "Windows reports no Bluetooth LE adapter; check Device Manager",
    Problem.STRAP_BUSY: (
        "Another app holds the strap. If Windows paired it, remove it under Settings >"
        " Bluetooth & devices (bonding can hide the Heart Rate Service), then retry"
    ),
}


def advice_for(problem: Problem, platform: str = sys.platform) -> str:
    """The advice for ``problem`` on ``platform`` (a ``sys.platform`` value)."""
    specific = {"darwin": _ADVICE_MACOS, "win32": _ADVICE_WINDOWS}.get(platform, {})
    return specific.get(problem) or _ADVICE_LINUX[problem]


def problem(kind: Problem, message: str, platform: str = sys.platform) -> CollectorError:
    """A ``CollectorError`` for ``kind`` with its advice."""
    return CollectorError(
        message, advice=advice_for(kind, platform), code=kind.value, fatal=kind in FATAL
    )


_UNAVAILABLE = {
    BleakBluetoothNotAvailableReason.POWERED_OFF: (Problem.ADAPTER_OFF, "Bluetooth is off"),
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: (Problem.NO_ADAPTER, "No Bluetooth adapter"),
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: (
        Problem.NO_ADAPTER,
        "The Bluetooth adapter cannot act as a BLE central",
    ),
    BleakBluetoothNotAvailableReason.DENIED_BY_USER: (
        Problem.NO_PERMISSION,
        "Bluetooth permission was denied",
    ),
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: (
        Problem.NO_PERMISSION,
        "The system denied access to Bluetooth",
    ),
    BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN: (
        Problem.NO_PERMISSION,
        "Access to Bluetooth was denied",
    ),
    BleakBluetoothNotAvailableReason.UNKNOWN: (Problem.ADAPTER_OFF, "Bluetooth is unavailable"),
}

_DBUS_ERRORS = {
    "org.freedesktop.DBus.Error.AccessDenied": Problem.NO_PERMISSION,
    "org.freedesktop.DBus.Error.AuthFailed": Problem.NO_PERMISSION,
    "org.bluez.Error.NotAuthorized": Problem.NO_PERMISSION,
    "org.freedesktop.DBus.Error.ServiceUnknown": Problem.BLUETOOTH_SERVICE_DOWN,
    "org.freedesktop.DBus.Error.NameHasNoOwner": Problem.BLUETOOTH_SERVICE_DOWN,
    "org.freedesktop.DBus.Error.NoReply": Problem.BLUETOOTH_SERVICE_DOWN,
    "org.bluez.Error.NotReady": Problem.ADAPTER_OFF,
    # BlueZ answers InProgress when another client already started connecting to the strap;
    # this collector serialises its own connects, so the other client is another app.
    "org.bluez.Error.InProgress": Problem.STRAP_BUSY,
}

_BLUEZ_CONNECT_ERRORS = {
    "le-connection-adapter-not-powered": Problem.ADAPTER_OFF,
    "le-connection-abort-by-remote": Problem.STRAP_BUSY,
    "le-connection-refused": Problem.STRAP_BUSY,
    "le-connection-concurrent-connection-limit": Problem.STRAP_BUSY,
    "le-connection-busy": Problem.STRAP_BUSY,
    "le-connection-timeout": Problem.STRAP_UNREACHABLE,
    "le-connection-abort-by-local": Problem.STRAP_UNREACHABLE,
}


def diagnose(exc: BaseException, strap: str, platform: str = sys.platform) -> CollectorError:
    """Translate an exception from Bleak, dbus-fast or the OS into a ``CollectorError``.

    Raise the original exception (``raise diagnose(exc, ...) from exc``) in the caller so
    the cause stays attached.
    """
    if isinstance(exc, CollectorError):
        return exc
    kind, message = _classify(exc, strap)
    return problem(kind, message, platform)


# Bleak raises plain BleakError for these; its message is the only way to tell them apart.
_BLEAK_MESSAGES = (
    ("Bleak requires BlueZ", Problem.BLUEZ_TOO_OLD, "BlueZ is too old ({exc})"),
    ("adapter '", Problem.NO_ADAPTER, "No such Bluetooth adapter ({exc})"),
    # Bleak's cache says BlueZ removed the device object (a temporary device that stopped
    # advertising): scan again.
    ("device '", Problem.STRAP_NOT_FOUND, "{strap} is no longer known to the adapter"),
)


def _classify(exc: BaseException, strap: str) -> tuple[Problem, str]:
    found = _classify_bleak(exc, strap) if isinstance(exc, BleakError) else _classify_os(exc)
    if found is None:
        raise exc
    return found


def _classify_bleak(exc: BleakError, strap: str) -> tuple[Problem, str]:
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return _UNAVAILABLE[exc.reason]
    if isinstance(exc, BleakDBusError):
        return _classify_dbus(exc, strap)
    if isinstance(exc, BleakDeviceNotFoundError):
        return Problem.STRAP_NOT_FOUND, f"{strap} is no longer known to the adapter"
    if isinstance(exc, BleakCharacteristicNotFoundError):
        return Problem.NOT_A_HEART_RATE_STRAP, f"{strap} has no characteristic {exc.char_specifier}"
    text = str(exc)
    for start, kind, message in _BLEAK_MESSAGES:
        if start in text:
            return kind, message.format(exc=exc, strap=strap)
    return Problem.CONNECT_FAILED, f"{strap}: {exc}"


def _classify_os(exc: BaseException) -> tuple[Problem, str] | None:
    if isinstance(exc, TimeoutError):
        return Problem.STRAP_UNREACHABLE, "The strap did not answer in time"
    if isinstance(exc, PermissionError) or _is_dbus_auth_error(exc):
        return Problem.NO_PERMISSION, f"Access to Bluetooth was denied ({exc})"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return Problem.BLUETOOTH_SERVICE_DOWN, f"The D-Bus system bus is not reachable ({exc})"
    if isinstance(exc, OSError):
        return Problem.CONNECT_FAILED, f"Bluetooth I/O failed ({exc})"
    return None


def _classify_dbus(exc: BleakDBusError, strap: str) -> tuple[Problem, str]:
    details = exc.dbus_error_details or ""
    if details in _BLUEZ_CONNECT_ERRORS:
        kind = _BLUEZ_CONNECT_ERRORS[details]
        return kind, f"{strap} could not be connected ({details})"
    kind = _DBUS_ERRORS.get(exc.dbus_error, Problem.CONNECT_FAILED)
    if kind is Problem.STRAP_BUSY:
        return kind, f"{strap} is being connected by another app ({exc})"
    return kind, f"{_SUBJECT.get(kind, strap)}: {exc}"


_SUBJECT = {
    Problem.NO_PERMISSION: "Access to BlueZ was denied",
    Problem.BLUETOOTH_SERVICE_DOWN: "BlueZ (bluetoothd) is not running",
    Problem.ADAPTER_OFF: "The Bluetooth adapter is not ready (off?)",
}


def _is_dbus_auth_error(exc: BaseException) -> bool:
    # dbus_fast is Linux-only; look it up lazily so this module imports everywhere.
    module = sys.modules.get("dbus_fast.errors")
    auth_error = getattr(module, "AuthError", None)
    return auth_error is not None and isinstance(exc, auth_error)


def parse_bluez_version(text: str) -> tuple[int, int] | None:
    """``(major, minor)`` from ``bluetoothctl --version`` output, as Bleak reads it."""
    digits = "".join(c if c.isdigit() or c == "." else " " for c in text).split()
    for word in digits:
        parts = word.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():  # noqa: PLR2004
            return int(parts[0]), int(parts[1])
    return None


def check_bluez_version(version_text: str | None) -> None:
    """Raise ``BLUEZ_TOO_OLD`` unless ``bluetoothctl --version`` says 5.55 or newer.

    ``None`` (bluetoothctl missing, e.g. in a container) passes, as in Bleak.
    """
    if version_text is None:
        return
    version = parse_bluez_version(version_text)
    if version is not None and version < MIN_BLUEZ:
        found = ".".join(map(str, version))
        raise problem(Problem.BLUEZ_TOO_OLD, f"BlueZ {found} is too old (5.55+ is needed)")
