"""A virtual heart-rate strap behind the fake ``org.bluez``, with fault hooks.

The strap model: a seeded RR simulator (``attune.sim``) paced on the shared clock, one
Heart Rate Measurement notification per ``notify_interval_s`` while someone is subscribed,
periodic adverts with a wandering RSSI while the adapter scans (Bleak reports a device only
on ``InterfacesAdded`` or a later ``PropertiesChanged``, pitfall 3), and BlueZ's device life
cycle: temporary device objects reaped after ``temporary_timeout_s``, ``Connected`` flipped
True then False on ``le-connection-abort-by-local`` (pitfall 4), link loss after the
supervision timeout when out of range, notify sessions per D-Bus client that survive a
reconnect while the client lives (pitfall 8), ``AcquireNotify`` over a SOCK_SEQPACKET pair
whose client end we close once the reply is written (pitfall 5), and the battery either as
GATT 0x180F/0x2A19 or, as with bluetoothd's battery plugin, as ``org.bluez.Battery1``
(pitfall 1).

Every notification the strap produces is kept in ``ledger`` (delivered or not), and the
moments it becomes available to connect and gets subscribed again in ``availability``, so
the fault benchmark can count lost beats and reconnect times in strap time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dbus_fast import Message, Variant

from attune.collector.clock import wait_event
from attune.sensor.hrm import HeartRateMeasurement, encode_hrm, parse_hrm
from attune.sim import PersonProfile, StrapPacketizer, resting_beats
from attune.testing.bluez.fake import (
    BATTERY,
    DEVICE,
    ERROR_FAILED,
    ERROR_IN_PROGRESS,
    ERROR_NOT_CONNECTED,
    ERROR_NOT_READY,
    GATT_SERVICE,
    BluezError,
    BusObject,
    Reply,
    ok,
    variants,
)
from attune.testing.bluez.gatt import GattCharacteristic

if TYPE_CHECKING:
    from attune.testing.bluez.fake import FakeBlueZ

HRS_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HRM_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
HR_CONTROL_POINT_UUID = "00002a39-0000-1000-8000-00805f9b34fb"
BAS_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DIS_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
POLAR_COMPANY_ID = 0x006B
ABORT_BY_LOCAL = "le-connection-abort-by-local"
ABORT_BY_REMOTE = "le-connection-abort-by-remote"
UINT16_MOD = 0x10000
RSSI_WANDER_DBM = 4


@dataclass(frozen=True, slots=True)
class StrapConfig:
    """A virtual strap; every duration is in strap (clock) seconds."""

    name: str = "Polar H10 8C4CAD2B"
    address: str = "A0:9E:1A:8C:4C:AD"
    battery_mode: Literal["gatt", "plugin"] = "gatt"
    battery_pct: int = 87
    body_location: int = 1  # chest (Heart Rate Service 1.0, §3.2)
    profile: PersonProfile = field(default_factory=lambda: PersonProfile(hr_bpm=68.0))
    seed: int = 1
    in_range: bool = True
    rssi_dbm: int = -62
    advert_interval_s: float = 0.5
    notify_interval_s: float = 1.0
    connect_latency_s: float = 0.06
    discovery_latency_s: float = 0.3
    supervision_timeout_s: float = 4.0
    le_connect_timeout_s: float = 20.0
    temporary_timeout_s: float = 30.0
    gatt_cache: bool = True
    mtu: int = 23
    # Put a notification serial in Energy Expended, so the benchmark can tell every
    # notification apart in the recording (a valid 0x2A37 field; real straps send kJ).
    tag_serial: bool = False


@dataclass(frozen=True, slots=True)
class Emitted:
    """One notification the strap produced at strap time ``t_s``."""

    serial: int
    t_s: float
    payload: bytes
    rr_1024: tuple[int, ...]
    delivered: bool
    raw: bool = False


@dataclass(frozen=True, slots=True)
class Availability:
    """The strap became ``available`` to connect (and why), went ``away``, or was
    ``subscribed`` again by a collector, at strap time ``t_s``."""

    t_s: float
    kind: Literal["available", "away", "subscribed"]
    cause: str = ""


@dataclass(frozen=True, slots=True)
class _ConnectFailure:
    name: str
    text: str


Occupation = Literal["hidden", "refusing"]


class VirtualStrap:
    """One strap; create it with ``FakeBlueZ.add_strap``."""

    def __init__(self, fake: FakeBlueZ, config: StrapConfig) -> None:
        self.fake = fake
        self.config = config
        self.clock = fake.clock
        self.path = f"{fake.adapter_path}/dev_{config.address.replace(':', '_')}"
        self.ledger: list[Emitted] = []
        self.availability: list[Availability] = []
        self.connects = 0
        self.in_range = config.in_range
        self.contact = True
        self.stalled = False
        self.battery_pct = config.battery_pct
        self.occupied: Occupation | None = None
        self.connected = False
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation, not crypto
        self._rssi = config.rssi_dbm
        self._exported = False
        self._gatt_exported = False
        self._last_seen_s = 0.0
        self._generation = 0
        self._pending_connect: asyncio.Event | None = None
        self._fail_next: _ConnectFailure | None = None
        self._changed = asyncio.Event()
        self._supervision: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._serial = 0
        self._available = False
        beats = resting_beats(config.profile, seed=config.seed)
        self._packetizer = StrapPacketizer(beats, period_s=config.notify_interval_s)
        self._chars = self._characteristics()

    # --- hooks ---------------------------------------------------------------------------

    def drop_link(self) -> None:
        """The link fails now (remote disconnect, interference)."""
        self._link_down("link dropped")

    def go_out_of_range(self) -> None:
        """Walk away: no adverts, no notifications; the link drops after the supervision
        timeout unless the strap comes back first."""
        self.in_range = False
        if self.connected and self._supervision is None:
            self._supervision = asyncio.ensure_future(self._supervise(self._generation))
        self.availability_changed("out of range")
        self._changed.set()

    def come_back(self) -> None:
        self.in_range = True
        if self._supervision is not None:
            self._supervision.cancel()
            self._supervision = None
        self.availability_changed("back in range")
        self._changed.set()

    def set_contact(self, contact: bool) -> None:
        """Skin contact: without it the strap sends ``04 00`` (contact lost, no RR)."""
        self.contact = contact

    def stall(self, stalled: bool = True) -> None:
        """Firmware hang: connected, but no notifications until the next connection."""
        self.stalled = stalled

    def inject_raw(self, *payloads: bytes) -> None:
        """Send these 0x2A37 payloads now (malformed or unusual ones)."""
        for payload in payloads:
            delivered = self._deliver(self._chars[HRM_UUID], payload)
            self.ledger.append(Emitted(-1, self.clock.now_s(), payload, (), delivered, raw=True))

    def set_battery(self, pct: int) -> None:
        self.battery_pct = pct
        if self.config.battery_mode == "plugin":
            if self.connected:
                self.fake.set(self.path, BATTERY, Percentage=pct)
            return
        char = self._chars[BATTERY_LEVEL_UUID]
        char.value = bytes([pct])
        if self.connected:
            self._deliver(char, char.value)

    def fail_next_connect(self, text: str = ABORT_BY_LOCAL, name: str = ERROR_FAILED) -> None:
        """The next Connect fails with this BlueZ error (abort-by-local also flips
        ``Connected`` True then False, as bluetoothd does)."""
        self._fail_next = _ConnectFailure(name, text)

    def occupy(self, how: Occupation = "hidden") -> None:
        """Another app or phone holds the strap: ``hidden`` stops advertising (one-connection
        straps), ``refusing`` keeps advertising but rejects connections."""
        self.occupied = how
        self.availability_changed("held by another app")
        self._changed.set()

    def release(self) -> None:
        self.occupied = None
        self.availability_changed("released by the other app")
        self._changed.set()

    # --- life cycle (called by FakeBlueZ) ------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self._advertise_loop()),
            asyncio.ensure_future(self._notify_loop()),
        ]
        self.availability_changed("switched on")

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._supervision] if self._supervision else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for char in self._chars.values():
            char.release_acquired()

    def adapter_off(self) -> None:
        if self._pending_connect is not None:
            self._pending_connect.set()
        self._link_down("adapter off")

    def client_gone(self, sender: str) -> None:
        for char in self._chars.values():
            char.client_gone(sender)

    def availability_changed(self, cause: str) -> None:
        """Log when the strap becomes (un)available to connect, for reconnect times."""
        available = (
            self.fake.powered and self.in_range and self.occupied is None and not self.connected
        )
        if available != self._available:
            self._available = available
            if available or not self.connected:  # being connected is not being away
                kind: Literal["available", "away"] = "available" if available else "away"
                self.availability.append(Availability(self.clock.now_s(), kind, cause))

    def remove_device_object(self) -> None:
        if self.connected:
            self._link_down("removed by the adapter")
        for path in reversed(self._gatt_paths()):
            if path in self.fake.objects:
                self.fake.unexport(path)
        self._gatt_exported = False
        self.fake.unexport(self.path)
        self._exported = False

    # --- advertising ---------------------------------------------------------------------

    def _advertising(self) -> bool:
        return (
            self.fake.powered
            and self.fake.discovering
            and self.in_range
            and not self.connected
            and self.occupied != "hidden"
            and self.fake.wants([HRS_UUID])
        )

    async def _advertise_loop(self) -> None:
        interval = self.config.advert_interval_s
        while True:
            await self.clock.sleep(interval * self._rng.uniform(0.8, 1.2))
            if self._advertising():
                self._advertise()
            elif (
                self._exported
                and not self.connected
                and self._pending_connect is None
                and self.clock.monotonic_s() - self._last_seen_s > self.config.temporary_timeout_s
            ):
                # bluetoothd removes a temporary (unpaired) device that stops advertising.
                self.remove_device_object()

    def _advertise(self) -> None:
        self._last_seen_s = self.clock.monotonic_s()
        rssi = self.config.rssi_dbm + self._rng.randint(-RSSI_WANDER_DBM, RSSI_WANDER_DBM)
        self._rssi = rssi if rssi != self._rssi else rssi + 1
        if not self._exported:
            self._exported = True
            self.fake.export(self._device_object())
        else:
            self.fake.set(self.path, DEVICE, RSSI=self._rssi)

    def _device_object(self) -> BusObject:
        props = {
            "Address": self.config.address,
            "AddressType": "random",
            "Name": self.config.name,
            "Alias": self.config.name,
            "Appearance": 0x0341,  # heart rate sensor: belt
            "Paired": False,
            "Bonded": False,
            "Trusted": False,
            "Blocked": False,
            "LegacyPairing": False,
            "Connected": self.connected,
            "ServicesResolved": False,
            "UUIDs": [HRS_UUID],
            "Adapter": self.fake.adapter_path,
            "RSSI": self._rssi,
            "TxPower": 0,
            "ManufacturerData": {POLAR_COMPANY_ID: Variant("ay", bytes.fromhex("331e3314"))},
        }
        return BusObject(
            self.path,
            {DEVICE: variants(props)},
            {
                (DEVICE, "Connect"): self._connect,
                (DEVICE, "Disconnect"): self._disconnect,
                (DEVICE, "Pair"): ok,
            },
            {
                (DEVICE, "Trusted"): lambda v: self.fake.set(self.path, DEVICE, Trusted=v),
                (DEVICE, "Alias"): lambda v: self.fake.set(self.path, DEVICE, Alias=v),
            },
        )

    # --- connection ----------------------------------------------------------------------

    def _connectable(self) -> bool:
        return self.fake.powered and self.in_range and self.occupied != "hidden"

    async def _connect(self, msg: Message) -> Reply:
        fake = self.fake
        if not fake.powered:
            raise BluezError(ERROR_NOT_READY, "Resource Not Ready")
        if self.connected:
            return ok(msg)
        if self._pending_connect is not None:
            raise BluezError(ERROR_IN_PROGRESS, "Operation already in progress")
        if fake.connecting is not None:
            # The controller creates one LE connection at a time (bleak#1036).
            fake.refused_concurrent_connects += 1
            raise BluezError(ERROR_IN_PROGRESS, "Operation already in progress")
        fake.connecting = self
        cancelled = self._pending_connect = asyncio.Event()
        try:
            await self._establish(cancelled)
        finally:
            fake.connecting = None
            self._pending_connect = None
        return ok(msg)

    async def _establish(self, cancelled: asyncio.Event) -> None:
        failure, self._fail_next = self._fail_next, None
        if failure is not None:
            await self.clock.sleep(self.config.connect_latency_s)
            if failure.text == ABORT_BY_LOCAL:
                self.fake.set(self.path, DEVICE, Connected=True)
                self.fake.set(self.path, DEVICE, Connected=False)
            raise BluezError(failure.name, failure.text)
        deadline_s = self.clock.monotonic_s() + self.config.le_connect_timeout_s
        while not self._connectable():
            if cancelled.is_set():
                raise BluezError(ERROR_FAILED, ABORT_BY_LOCAL)
            left_s = deadline_s - self.clock.monotonic_s()
            if left_s <= 0:
                raise BluezError(ERROR_FAILED, "le-connection-timeout")
            self._changed.clear()
            await wait_event(self.clock, self._changed, left_s)
        await self.clock.sleep(self.config.connect_latency_s)
        if self.occupied == "refusing":
            raise BluezError(ERROR_FAILED, ABORT_BY_REMOTE)
        if cancelled.is_set() or not self._connectable():
            raise BluezError(ERROR_FAILED, ABORT_BY_LOCAL)
        self._link_up()

    async def _disconnect(self, msg: Message) -> Reply:
        if self._pending_connect is not None:
            # Disconnect cancels a pending Connect (Bleak uses it on connect timeouts).
            self._pending_connect.set()
            self._changed.set()
            return ok(msg)
        if not self.connected:
            raise BluezError(ERROR_NOT_CONNECTED, "Not Connected")
        await self.clock.sleep(self.config.connect_latency_s / 2)
        self._link_down("disconnected by the host")
        return ok(msg)

    def _link_up(self) -> None:
        self.connected = True
        self.connects += 1
        self._generation += 1
        self.stalled = False
        self.availability_changed("connected")
        self.fake.set(self.path, DEVICE, Connected=True)
        if not self._gatt_exported:
            for obj in self._gatt_objects():
                self.fake.export(obj)
            self._gatt_exported = True
        self.fake.spawn(self._resolve_services(self._generation))

    async def _resolve_services(self, generation: int) -> None:
        await self.clock.sleep(self.config.discovery_latency_s)
        if not self.connected or generation != self._generation:
            return
        self.fake.set(self.path, DEVICE, UUIDs=self._service_uuids(), ServicesResolved=True)
        if self.config.battery_mode == "plugin":
            # bluetoothd's battery plugin claims BAS and shows its level on the device.
            self.fake.add_interface(
                self.path, BATTERY, {"Percentage": self.battery_pct, "Source": "GATT"}
            )
        for char in self._chars.values():
            char.link_up()

    def _link_down(self, cause: str) -> None:
        if not self.connected:
            return
        self.connected = False
        self._generation += 1
        if self._supervision is not None:
            self._supervision.cancel()
            self._supervision = None
        for char in self._chars.values():
            char.link_down()
        self.fake.set(self.path, DEVICE, ServicesResolved=False)
        self.fake.remove_interface(self.path, BATTERY)
        if not self.config.gatt_cache:
            for path in reversed(self._gatt_paths()):
                self.fake.unexport(path)
            self._gatt_exported = False
        self.fake.set(self.path, DEVICE, Connected=False)
        self._last_seen_s = self.clock.monotonic_s()
        self.availability_changed(cause)

    async def _supervise(self, generation: int) -> None:
        await self.clock.sleep(self.config.supervision_timeout_s)
        if generation == self._generation and not self.in_range:
            self._supervision = None
            self._link_down("supervision timeout")

    # --- notifications -------------------------------------------------------------------

    async def _notify_loop(self) -> None:
        interval = self.config.notify_interval_s
        next_s = self.clock.monotonic_s() + interval
        while True:
            await self.clock.sleep(next_s - self.clock.monotonic_s())
            next_s += interval
            self._tick()

    def _tick(self) -> None:
        # The heart beats on whether or not anyone listens: always advance the simulator.
        measurement = parse_hrm(self._packetizer.next_notification().payload)
        self._serial += 1
        if self.contact:
            energy = self._serial % UINT16_MOD if self.config.tag_serial else None
            measurement = dataclasses.replace(measurement, energy_kj=energy)
        else:
            measurement = HeartRateMeasurement(hr_bpm=0, contact=False)
        payload = encode_hrm(measurement)
        deliverable = self.connected and self.in_range and not self.stalled
        delivered = deliverable and self._deliver(self._chars[HRM_UUID], payload)
        self.ledger.append(
            Emitted(self._serial, self.clock.now_s(), payload, measurement.rr_1024, delivered)
        )

    def _deliver(self, char: GattCharacteristic, payload: bytes) -> bool:
        return self.connected and self.in_range and char.notify(payload)

    # --- GATT ----------------------------------------------------------------------------

    def _characteristics(self) -> dict[str, GattCharacteristic]:
        base, config = self.path, self.config
        specs = [
            ("service0010/char0011", HRM_UUID, ["notify"], b""),
            (
                "service0010/char0014",
                BODY_SENSOR_LOCATION_UUID,
                ["read"],
                bytes([config.body_location]),
            ),
            ("service0010/char0016", HR_CONTROL_POINT_UUID, ["write"], b""),
            ("service001c/char001d", MANUFACTURER_NAME_UUID, ["read"], b"Polar Electro Oy"),
        ]
        if config.battery_mode == "gatt":
            specs.append(
                (
                    "service0018/char0019",
                    BATTERY_LEVEL_UUID,
                    ["read", "notify"],
                    bytes([config.battery_pct]),
                )
            )
        chars = [
            GattCharacteristic(
                self.fake,
                f"{base}/{path}",
                uuid,
                flags,
                value,
                mtu=config.mtu,
                connected=lambda: self.connected,
                on_subscribed=self._subscribed,
            )
            for path, uuid, flags, value in specs
        ]
        return {c.uuid: c for c in chars}

    def _services(self) -> list[tuple[str, str]]:
        services = [(f"{self.path}/service0010", HRS_UUID), (f"{self.path}/service001c", DIS_UUID)]
        if self.config.battery_mode == "gatt":
            services.append((f"{self.path}/service0018", BAS_UUID))
        return services

    def _service_uuids(self) -> list[str]:
        return sorted(uuid for _, uuid in self._services())

    def _gatt_paths(self) -> list[str]:
        return [obj.path for obj in self._gatt_objects()]

    def _gatt_objects(self) -> list[BusObject]:
        objects = [
            BusObject(
                path,
                {GATT_SERVICE: variants({"UUID": uuid, "Device": self.path, "Primary": True})},
            )
            for path, uuid in self._services()
        ]
        for char in self._chars.values():
            objects += char.bus_objects()
        return objects

    def _subscribed(self, char: GattCharacteristic) -> None:
        if char.uuid == HRM_UUID:
            self.availability.append(Availability(self.clock.now_s(), "subscribed"))
