"""One GATT characteristic of a virtual strap, as BlueZ exports it (``GattCharacteristic1``).

Notify sessions are kept per D-Bus client (BlueZ's ``notify_clients``), survive a link drop
while the client lives (BlueZ re-enables them on reconnect, which is why Bleak opens a new
D-Bus connection per connect), and end when the client leaves the bus. ``AcquireNotify``
hands out one end of a SOCK_SEQPACKET pair and excludes ``StartNotify`` ("Notify acquired").
Bleak slices device paths and handles out of these paths (pitfall 6), hence the fixed
``serviceHHHH/charHHHH`` form.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

from dbus_fast import Message

from attune.testing.bluez.fake import (
    ERROR_FAILED,
    ERROR_IN_PROGRESS,
    ERROR_NOT_PERMITTED,
    GATT_CHARACTERISTIC,
    GATT_DESCRIPTOR,
    BluezError,
    BusObject,
    FakeBlueZ,
    Handler,
    Reply,
    ok,
    variants,
)

CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"


class GattCharacteristic:
    """State and D-Bus methods of one characteristic; ``notify`` sends a value."""

    def __init__(
        self,
        fake: FakeBlueZ,
        path: str,
        uuid: str,
        flags: list[str],
        value: bytes = b"",
        *,
        mtu: int,
        connected: Callable[[], bool],
        on_subscribed: Callable[[GattCharacteristic], None],
    ) -> None:
        self.fake = fake
        self.path = path
        self.uuid = uuid
        self.flags = flags
        self.value = value
        self.sessions: set[str] = set()
        self.acquired: socket.socket | None = None
        self._mtu = mtu
        self._connected = connected
        self._on_subscribed = on_subscribed

    @property
    def exported(self) -> bool:
        return self.path in self.fake.objects

    def bus_objects(self) -> list[BusObject]:
        """The characteristic and, if it notifies, its CCCD descriptor."""
        props: dict[str, object] = {
            "UUID": self.uuid,
            "Service": self.path.rsplit("/", 1)[0],
            "Value": self.value,
            "Flags": self.flags,
            "MTU": self._mtu,
        }
        methods: dict[tuple[str, str], Handler] = {
            (GATT_CHARACTERISTIC, "ReadValue"): self._read,
            (GATT_CHARACTERISTIC, "WriteValue"): self._write,
        }
        if "notify" not in self.flags:
            return [BusObject(self.path, {GATT_CHARACTERISTIC: variants(props)}, methods)]
        props |= {"Notifying": False, "NotifyAcquired": False}
        methods |= {
            (GATT_CHARACTERISTIC, "StartNotify"): self._start_notify,
            (GATT_CHARACTERISTIC, "StopNotify"): self._stop_notify,
            (GATT_CHARACTERISTIC, "AcquireNotify"): self._acquire_notify,
        }
        cccd = {"UUID": CCCD_UUID, "Characteristic": self.path, "Value": b"\x00\x00"}
        handle = int(self.path[-4:], 16) + 1
        return [
            BusObject(self.path, {GATT_CHARACTERISTIC: variants(props)}, methods),
            BusObject(f"{self.path}/desc{handle:04x}", {GATT_DESCRIPTOR: variants(cccd)}),
        ]

    def notify(self, payload: bytes) -> bool:
        """Send ``payload`` to whoever subscribed; False if nobody did."""
        if self.acquired is not None:
            try:
                self.acquired.send(payload)
            except OSError:
                return False
            return True
        if self.sessions:
            self.fake.set(self.path, GATT_CHARACTERISTIC, Value=payload)
            return True
        return False

    def link_down(self) -> None:
        self.release_acquired()
        if self.sessions:
            self.fake.set(self.path, GATT_CHARACTERISTIC, Notifying=False)

    def link_up(self) -> None:
        if self.sessions:
            # BlueZ re-enables notifications for clients that are still subscribed.
            self.fake.set(self.path, GATT_CHARACTERISTIC, Notifying=True)

    def client_gone(self, sender: str) -> None:
        if sender in self.sessions:
            self.sessions.discard(sender)
            if not self.sessions and self.acquired is None:
                self.fake.set(self.path, GATT_CHARACTERISTIC, Notifying=False)

    def release_acquired(self) -> None:
        sock, self.acquired = self.acquired, None
        if sock is None:
            return
        with contextlib.suppress(ValueError, RuntimeError):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        self.fake.set(self.path, GATT_CHARACTERISTIC, NotifyAcquired=False)
        if not self.sessions:
            self.fake.set(self.path, GATT_CHARACTERISTIC, Notifying=False)

    def _require_link(self) -> None:
        if not self._connected():
            raise BluezError(ERROR_FAILED, "Not connected")

    def _read(self, msg: Message) -> Reply:
        self._require_link()
        if "read" not in self.flags:
            raise BluezError(ERROR_NOT_PERMITTED, "Read not permitted")
        if self.sessions:
            # bluetoothd updates Value on a read too, so subscribers see it again (pitfall 8).
            self.fake.set(self.path, GATT_CHARACTERISTIC, Value=self.value)
        return ok(msg, "ay", [self.value])

    def _write(self, msg: Message) -> Reply:
        self._require_link()
        if "write" not in self.flags:
            raise BluezError(ERROR_NOT_PERMITTED, "Write not permitted")
        self.value = bytes(msg.body[0])
        return ok(msg)

    def _start_notify(self, msg: Message) -> Reply:
        self._require_link()
        if self.acquired is not None:
            raise BluezError(ERROR_NOT_PERMITTED, "Notify acquired")
        sender = msg.sender or ""
        if sender in self.sessions:
            raise BluezError(ERROR_IN_PROGRESS, "Operation already in progress")
        self.sessions.add(sender)
        self.fake.set(self.path, GATT_CHARACTERISTIC, Notifying=True)
        self._on_subscribed(self)
        return ok(msg)

    def _stop_notify(self, msg: Message) -> Reply:
        sender = msg.sender or ""
        if sender not in self.sessions:
            raise BluezError(ERROR_FAILED, "No notify session started")
        self.client_gone(sender)
        return ok(msg)

    async def _acquire_notify(self, msg: Message) -> Reply:
        self._require_link()
        if self.acquired is not None or self.sessions:
            raise BluezError(ERROR_NOT_PERMITTED, "Notify acquired")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self.acquired = ours
        self.fake.set(self.path, GATT_CHARACTERISTIC, NotifyAcquired=True, Notifying=True)
        reply = Message.new_method_return(msg, "hq", [0, self._mtu], unix_fds=[theirs.fileno()])
        try:
            await self.fake.send(reply)
        finally:
            # Our copy of the client's end must go, or its close() never reaches us (pitfall 5).
            theirs.close()
        asyncio.get_running_loop().add_reader(ours.fileno(), self._on_readable)
        self._on_subscribed(self)
        return None

    def _on_readable(self) -> None:
        # The client closed its end (EOF): the acquired notify session is over.
        sock = self.acquired
        if sock is None:
            return
        try:
            data = sock.recv(1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.release_acquired()
