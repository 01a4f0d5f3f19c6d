"""A fake BlueZ (``org.bluez`` on a private D-Bus) with virtual heart-rate straps, driving the
real Bleak BlueZ backend without Bluetooth hardware (see virtual-strap-bluez.md)."""

from attune.testing.bluez.bus import DBusDaemonMissingError, PrivateSystemBus, find_dbus_daemon
from attune.testing.bluez.fake import FakeBlueZ
from attune.testing.bluez.strap import Availability, Emitted, StrapConfig, VirtualStrap

__all__ = [
    "Availability",
    "DBusDaemonMissingError",
    "Emitted",
    "FakeBlueZ",
    "PrivateSystemBus",
    "StrapConfig",
    "VirtualStrap",
    "find_dbus_daemon",
]
