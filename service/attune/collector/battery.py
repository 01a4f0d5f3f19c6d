"""Battery level from BlueZ's ``org.bluez.Battery1`` (Linux only).

bluetoothd's battery plugin (on by default in Debian and Ubuntu, BlueZ >= 5.48) claims the
Battery Service, so 0x180F/0x2A19 never reaches Bleak; the level appears as
``org.bluez.Battery1.Percentage`` on the device object instead (bleak#393). Bleak has no API
for it, so we read it over our own D-Bus connection with dbus-fast and follow its
``PropertiesChanged``; the interface may appear only after services resolve, hence the
``InterfacesAdded`` match too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

log = structlog.get_logger(__name__)

BATTERY = "org.bluez.Battery1"
DBUS = "org.freedesktop.DBus"


def _call(member: str, signature: str, body: list[Any], **target: str) -> Message:
    destination = target.get("destination", DBUS)
    path = target.get("path", "/org/freedesktop/DBus")
    interface = target.get("interface", DBUS)
    return Message(
        destination=destination,
        path=path,
        interface=interface,
        member=member,
        signature=signature,
        body=body,
    )


class BlueZBatteryWatch:
    """Reports ``Battery1.Percentage`` of one device path to ``on_level``."""

    def __init__(self, device_path: str, on_level: Callable[[int], None]) -> None:
        self.device_path = device_path
        self._on_level = on_level
        self._bus: MessageBus | None = None

    async def start(self) -> bool:
        """Subscribe and read the current level; False if the system bus cannot be used."""
        try:
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, DBusError) as exc:
            log.info("battery1_unavailable", path=self.device_path, error=str(exc))
            return False
        self._bus = bus
        bus.add_message_handler(self._on_message)
        rules = (
            (
                "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
                f"member='PropertiesChanged',path='{self.device_path}',arg0='{BATTERY}'"
            ),
            (
                "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',"
                f"member='InterfacesAdded',arg0path='{self.device_path}'"
            ),
        )
        for rule in rules:
            await bus.call(_call("AddMatch", "s", [rule]))
        reply = await bus.call(
            _call(
                "Get",
                "ss",
                [BATTERY, "Percentage"],
                destination="org.bluez",
                path=self.device_path,
                interface="org.freedesktop.DBus.Properties",
            )
        )
        if reply is not None and reply.message_type is MessageType.METHOD_RETURN:
            self._on_level(int(reply.body[0].value))
        return True

    async def stop(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]

    def _on_message(self, msg: Message) -> None:
        if msg.message_type is not MessageType.SIGNAL:
            return
        if msg.member == "PropertiesChanged" and msg.path == self.device_path:
            interface, changed, _ = msg.body
            if interface == BATTERY and "Percentage" in changed:
                self._on_level(int(changed["Percentage"].value))
        elif msg.member == "InterfacesAdded" and msg.body[0] == self.device_path:
            props = msg.body[1].get(BATTERY)
            if props and "Percentage" in props:
                self._on_level(int(props["Percentage"].value))
