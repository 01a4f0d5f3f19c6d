"""A fake ``org.bluez`` on a (private) D-Bus, good enough for the real Bleak BlueZ backend.

Written on dbus-fast's low-level message API rather than its ``ServiceInterface`` classes:
every call is dispatched by hand, so the fake knows each caller's unique name (BlueZ keeps
discovery and notify sessions per D-Bus client; Bleak opens a new connection per
``BleakClient.connect``), can reply late (a pending ``Connect``), can pass file descriptors
(``AcquireNotify``), and emits ``InterfacesAdded``/``InterfacesRemoved`` from ``/`` as
bluetoothd does. What Bleak 3.1 calls and reads is listed in virtual-strap-bluez.md §1.3.

Modelled from BlueZ's documentation and sources, not from traces of a real adapter; see
docs/collector.md ("What the virtual strap cannot prove").
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from attune.collector.clock import Clock

if TYPE_CHECKING:
    from attune.testing.bluez.strap import StrapConfig, VirtualStrap

BLUEZ = "org.bluez"
ADAPTER = "org.bluez.Adapter1"
DEVICE = "org.bluez.Device1"
GATT_SERVICE = "org.bluez.GattService1"
GATT_CHARACTERISTIC = "org.bluez.GattCharacteristic1"
GATT_DESCRIPTOR = "org.bluez.GattDescriptor1"
BATTERY = "org.bluez.Battery1"
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"

ERROR_FAILED = "org.bluez.Error.Failed"
ERROR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERROR_NOT_READY = "org.bluez.Error.NotReady"
ERROR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERROR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERROR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERROR_ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
ERROR_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
ERROR_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
ERROR_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
ERROR_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"

# D-Bus signatures of every property the fake exports (names are unique across BlueZ's
# interfaces in the subset we model).
SIGNATURES = {
    "Address": "s",
    "AddressType": "s",
    "Name": "s",
    "Alias": "s",
    "Class": "u",
    "Powered": "b",
    "Discoverable": "b",
    "DiscoverableTimeout": "u",
    "Pairable": "b",
    "PairableTimeout": "u",
    "Discovering": "b",
    "UUIDs": "as",
    "Modalias": "s",
    "Roles": "as",
    "ExperimentalFeatures": "as",
    "Adapter": "o",
    "Appearance": "q",
    "Paired": "b",
    "Bonded": "b",
    "Trusted": "b",
    "Blocked": "b",
    "LegacyPairing": "b",
    "Connected": "b",
    "ServicesResolved": "b",
    "RSSI": "n",
    "TxPower": "n",
    "ManufacturerData": "a{qv}",
    "ServiceData": "a{sv}",
    "UUID": "s",
    "Device": "o",
    "Primary": "b",
    "Includes": "ao",
    "Service": "o",
    "Characteristic": "o",
    "Value": "ay",
    "Flags": "as",
    "Notifying": "b",
    "NotifyAcquired": "b",
    "MTU": "q",
    "Handle": "q",
    "Percentage": "y",
    "Source": "s",
}

Reply = Message | None
Handler = Callable[[Message], Reply | Awaitable[Reply]]


class BluezError(Exception):
    """Raised by a method handler: becomes a D-Bus error reply."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}")
        self.name = name
        self.text = text


def variants(props: Mapping[str, object]) -> dict[str, Variant]:
    """Wrap plain values with their BlueZ signatures."""
    return {name: Variant(SIGNATURES[name], value) for name, value in props.items()}


def ok(msg: Message, signature: str = "", body: list[Any] | None = None) -> Message:
    return Message.new_method_return(msg, signature, body or [])


@dataclass(slots=True)
class BusObject:
    """One object path: its interfaces' properties and its methods."""

    path: str
    props: dict[str, dict[str, Variant]] = field(default_factory=dict)
    methods: dict[tuple[str, str], Handler] = field(default_factory=dict)
    writable: dict[tuple[str, str], Callable[[Any], None]] = field(default_factory=dict)


class FakeBlueZ:
    """``org.bluez`` with one adapter (``hci0``) and any number of virtual straps.

    ``await FakeBlueZ(clock).start()``, then ``add_strap(StrapConfig(...))``; hooks on the
    adapter: ``power()``, ``deny_access()``. Counters: ``calls`` per (interface, member),
    ``refused_concurrent_connects``.
    """

    adapter_path = "/org/bluez/hci0"

    def __init__(self, clock: Clock, *, seed: int = 0) -> None:
        self.clock = clock
        self.seed = seed
        self.bus: MessageBus | None = None
        self.objects: dict[str, BusObject] = {}
        self.straps: list[VirtualStrap] = []
        self.calls: Counter[tuple[str, str]] = Counter()
        self.refused_concurrent_connects = 0
        self.powered = True
        self.access_denied = False
        self.connecting: VirtualStrap | None = None
        self.discovery_sessions: dict[str, list[str] | None] = {}
        self._filters: dict[str, list[str] | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Self:
        """Connect to the system bus (``DBUS_SYSTEM_BUS_ADDRESS``) and own ``org.bluez``."""
        self.bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
        self.bus.add_message_handler(self._on_message)
        await self._call_bus_daemon(
            "AddMatch",
            "s",
            ["type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"],
        )
        self.export(self._adapter_object())
        await self.bus.request_name(BLUEZ)
        return self

    async def stop(self) -> None:
        for strap in self.straps:
            await strap.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.bus is not None:
            with contextlib.suppress(Exception):
                await self.bus.release_name(BLUEZ)
            self.bus.disconnect()
            await self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
            self.bus = None

    def add_strap(self, config: StrapConfig) -> VirtualStrap:
        """A virtual strap near the adapter; it advertises whenever someone scans."""
        from attune.testing.bluez.strap import VirtualStrap  # noqa: PLC0415 - import cycle

        strap = VirtualStrap(self, config)
        self.straps.append(strap)
        strap.start()
        return strap

    # --- hooks ---------------------------------------------------------------------------

    def power(self, on: bool) -> None:
        """Switch the adapter on or off (off drops every link and ends discovery)."""
        if on == self.powered:
            return
        self.powered = on
        if not on:
            self.discovery_sessions.clear()
            for strap in self.straps:
                strap.adapter_off()
            self.set(self.adapter_path, ADAPTER, Discovering=False)
        self.set(self.adapter_path, ADAPTER, Powered=on)
        for strap in self.straps:
            strap.availability_changed(f"adapter {'on' if on else 'off'}")

    def deny_access(self, denied: bool = True) -> None:
        """Answer every method call with AccessDenied, as a D-Bus policy without rights does."""
        self.access_denied = denied

    # --- object tree ---------------------------------------------------------------------

    def export(self, obj: BusObject) -> None:
        self.objects[obj.path] = obj
        self._signal("/", OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}", [obj.path, obj.props])

    def unexport(self, path: str) -> None:
        obj = self.objects.pop(path, None)
        if obj is not None:
            self._signal("/", OBJECT_MANAGER, "InterfacesRemoved", "oas", [path, list(obj.props)])

    def add_interface(self, path: str, interface: str, props: dict[str, object]) -> None:
        obj = self.objects[path]
        obj.props[interface] = variants(props)
        added = {interface: obj.props[interface]}
        self._signal("/", OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}", [path, added])

    def remove_interface(self, path: str, interface: str) -> None:
        obj = self.objects.get(path)
        if obj is not None and obj.props.pop(interface, None) is not None:
            self._signal("/", OBJECT_MANAGER, "InterfacesRemoved", "oas", [path, [interface]])

    def get(self, path: str, interface: str, name: str) -> object:
        return self.objects[path].props[interface][name].value

    def set(self, path: str, interface: str, **changes: object) -> None:
        """Update properties and emit PropertiesChanged for those that changed."""
        obj = self.objects.get(path)
        if obj is None or interface not in obj.props:
            return
        props = obj.props[interface]
        changed = {
            name: variant
            for name, variant in variants(changes).items()
            if name not in props or props[name].value != variant.value or name == "Value"
        }
        if changed:
            props.update(changed)
            self._signal(
                path, PROPERTIES, "PropertiesChanged", "sa{sv}as", [interface, changed, []]
            )

    def invalidate(self, path: str, interface: str, *names: str) -> None:
        obj = self.objects.get(path)
        if obj is None or interface not in obj.props:
            return
        gone = [name for name in names if obj.props[interface].pop(name, None) is not None]
        if gone:
            self._signal(path, PROPERTIES, "PropertiesChanged", "sa{sv}as", [interface, {}, gone])

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, message: Message) -> asyncio.Future[None]:
        if self.bus is None:
            raise RuntimeError("the fake is not running")
        future: asyncio.Future[None] = self.bus.send(message)
        return future

    # --- discovery -----------------------------------------------------------------------

    @property
    def discovering(self) -> bool:
        return bool(self.discovery_sessions)

    def wants(self, uuids: list[str]) -> bool:
        """Whether an advert with these service UUIDs passes the merged discovery filter."""
        filters = list(self.discovery_sessions.values())
        if any(f is None for f in filters):
            return True
        wanted = {u for f in filters if f is not None for u in f}
        return bool(wanted & set(uuids))

    # --- dispatch ------------------------------------------------------------------------

    def _on_message(self, msg: Message) -> Message | bool | None:
        if msg.message_type is MessageType.SIGNAL:
            self._on_signal(msg)
            return None
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        self.calls[(msg.interface or "", msg.member or "")] += 1
        if self.access_denied:
            return Message.new_error(msg, ERROR_ACCESS_DENIED, "Rejected send message")
        try:
            result = self._dispatch(msg)
        except BluezError as exc:
            return Message.new_error(msg, exc.name, exc.text)
        if inspect.isawaitable(result):
            self.spawn(self._reply_later(msg, result))
            return True
        return result if result is not None else True

    async def _reply_later(self, msg: Message, pending: Awaitable[Reply]) -> None:
        try:
            reply = await pending
        except BluezError as exc:
            reply = Message.new_error(msg, exc.name, exc.text)
        if reply is not None and self.bus is not None:
            self.send(reply)

    def _dispatch(self, msg: Message) -> Reply | Awaitable[Reply]:
        path, interface, member = msg.path or "", msg.interface or "", msg.member or ""
        if interface == OBJECT_MANAGER and member == "GetManagedObjects" and path == "/":
            managed = {p: o.props for p, o in self.objects.items()}
            return ok(msg, "a{oa{sa{sv}}}", [managed])
        obj = self.objects.get(path)
        if obj is None:
            raise BluezError(ERROR_UNKNOWN_OBJECT, f"Method {member} on unknown object {path}")
        if interface == PROPERTIES:
            return self._properties(msg, obj, member)
        handler = obj.methods.get((interface, member))
        if handler is None:
            raise BluezError(ERROR_UNKNOWN_METHOD, f"{interface}.{member} does not exist")
        return handler(msg)

    def _properties(self, msg: Message, obj: BusObject, member: str) -> Message:
        interface = msg.body[0]
        props = obj.props.get(interface)
        if props is None:
            raise BluezError(ERROR_INVALID_ARGS, f"No such interface '{interface}'")
        if member == "GetAll":
            return ok(msg, "a{sv}", [props])
        name = msg.body[1]
        if member == "Get":
            if name not in props:
                raise BluezError(ERROR_INVALID_ARGS, f"No such property '{name}'")
            return ok(msg, "v", [props[name]])
        if member == "Set":
            setter = obj.writable.get((interface, name))
            if setter is None:
                raise BluezError(ERROR_READ_ONLY, f"Property '{name}' is not writable")
            setter(msg.body[2].value)
            return ok(msg)
        raise BluezError(ERROR_UNKNOWN_METHOD, f"{PROPERTIES}.{member} does not exist")

    def _on_signal(self, msg: Message) -> None:
        if msg.member != "NameOwnerChanged" or msg.sender != "org.freedesktop.DBus":
            return
        name, _old, new = msg.body
        if name.startswith(":") and not new:
            # A client left the bus: BlueZ ends its discovery and notify sessions.
            self._end_discovery(name)
            for strap in self.straps:
                strap.client_gone(name)

    def _signal(self, path: str, interface: str, member: str, sig: str, body: list[Any]) -> None:
        if self.bus is not None:
            self.send(Message.new_signal(path, interface, member, sig, body))

    async def _call_bus_daemon(self, member: str, signature: str, body: list[Any]) -> None:
        assert self.bus is not None  # noqa: S101 - called from start()
        reply = await self.bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply is None or reply.message_type is MessageType.ERROR:
            raise RuntimeError(f"{member} failed: {reply and reply.body}")

    # --- adapter -------------------------------------------------------------------------

    def _adapter_object(self) -> BusObject:
        props = {
            "Address": "00:1A:7D:DA:71:13",
            "AddressType": "public",
            "Name": "attune-virtual",
            "Alias": "attune-virtual",
            "Class": 0,
            "Powered": self.powered,
            "Discoverable": False,
            "DiscoverableTimeout": 180,
            "Pairable": True,
            "PairableTimeout": 0,
            "Discovering": False,
            "UUIDs": [],
            "Modalias": "usb:v1D6Bp0246d0542",
            "Roles": ["central", "peripheral"],
            "ExperimentalFeatures": [],
        }
        return BusObject(
            self.adapter_path,
            {ADAPTER: variants(props)},
            {
                (ADAPTER, "SetDiscoveryFilter"): self._set_discovery_filter,
                (ADAPTER, "StartDiscovery"): self._start_discovery,
                (ADAPTER, "StopDiscovery"): self._stop_discovery,
                (ADAPTER, "RemoveDevice"): self._remove_device,
                (ADAPTER, "GetDiscoveryFilters"): lambda msg: ok(
                    msg, "as", [["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData"]]
                ),
            },
            {(ADAPTER, "Powered"): self.power},
        )

    def _set_discovery_filter(self, msg: Message) -> Message:
        uuids = msg.body[0].get("UUIDs")
        self._filters[msg.sender or ""] = [u.lower() for u in uuids.value] if uuids else None
        return ok(msg)

    def _start_discovery(self, msg: Message) -> Message:
        sender = msg.sender or ""
        if not self.powered:
            raise BluezError(ERROR_NOT_READY, "Resource Not Ready")
        if sender in self.discovery_sessions:
            # One discovery session per D-Bus client (adapter.c start_discovery).
            raise BluezError(ERROR_IN_PROGRESS, "Operation already in progress")
        self.discovery_sessions[sender] = self._filters.get(sender)
        self.set(self.adapter_path, ADAPTER, Discovering=True)
        return ok(msg)

    def _stop_discovery(self, msg: Message) -> Message:
        sender = msg.sender or ""
        if not self.powered:
            raise BluezError(ERROR_NOT_READY, "Resource Not Ready")
        if sender not in self.discovery_sessions:
            raise BluezError(ERROR_FAILED, "No discovery started")
        self._end_discovery(sender)
        return ok(msg)

    def _end_discovery(self, sender: str) -> None:
        self._filters.pop(sender, None)
        if self.discovery_sessions.pop(sender, ...) is ... or self.discovering:
            return
        self.set(self.adapter_path, ADAPTER, Discovering=False)
        for strap in self.straps:
            # bluetoothd forgets RSSI when discovery ends (device_set_rssi(dev, 0)).
            self.invalidate(strap.path, DEVICE, "RSSI", "TxPower")

    def _remove_device(self, msg: Message) -> Message:
        for strap in self.straps:
            if strap.path == msg.body[0]:
                strap.remove_device_object()
                return ok(msg)
        raise BluezError(ERROR_DOES_NOT_EXIST, "Does Not Exist")
