"""The collector's Bleak boundary: scanning for Heart Rate Service straps and one connection.

Everything Bleak or BlueZ raises is translated here into ``CollectorError`` (``problems``).
Two BlueZ rules shape the design:

- One discovery session per D-Bus client: Bleak shares one bus per process, so two
  ``BleakScanner``s at once get ``InProgress``. ``ScanHub`` runs a single scanner for every
  strap that is looking, and stops it when none is.
- One LE connection attempt at a time per adapter (bleak#1036): connects take a shared lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog
from bleak import BleakClient, BleakScanner
from bleak.args.bluez import BlueZClientArgs, BlueZScannerArgs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from attune.collector.clock import Clock
from attune.collector.problems import Problem, diagnose, problem

if TYPE_CHECKING:
    from attune.collector.battery import BlueZBatteryWatch

log = structlog.get_logger(__name__)

HRS_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HRM_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
# Body Sensor Location values, Heart Rate Service 1.0 §3.2 (7-255 reserved).
BODY_LOCATIONS = ("other", "chest", "wrist", "finger", "hand", "ear lobe", "foot")
BATTERY_MAX_PCT = 100
_ADDRESS = re.compile(
    r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$|^[0-9A-F]{8}-([0-9A-F]{4}-){3}[0-9A-F]{12}$", re.IGNORECASE
)

NotifyMode = Literal["start", "acquire"]


@dataclass(frozen=True, slots=True)
class SeenStrap:
    """A strap heard advertising the Heart Rate Service."""

    name: str
    address: str
    rssi_dbm: int


def is_address(selector: str) -> bool:
    """A Bluetooth address (Linux/Windows) or a CoreBluetooth UUID (macOS)."""
    return bool(_ADDRESS.match(selector))


def selector_matches(selector: str, seen: SeenStrap) -> bool:
    """An address matches exactly; anything else is a case-insensitive part of the name."""
    if is_address(selector):
        return seen.address.lower() == selector.lower()
    return selector.casefold() in seen.name.casefold()


def _seen(device: BLEDevice, adv: AdvertisementData) -> SeenStrap:
    return SeenStrap(adv.local_name or device.name or "", device.address, adv.rssi)


def _scanner_args(adapter: str | None) -> BlueZScannerArgs:
    return {"adapter": adapter} if adapter else {}


def _client_args(adapter: str | None) -> BlueZClientArgs:
    return {"adapter": adapter} if adapter else {}


async def scan_straps(duration_s: float, *, adapter: str | None = None) -> list[SeenStrap]:
    """Straps advertising the Heart Rate Service, strongest first (``attune scan``)."""
    try:
        found = await BleakScanner.discover(
            timeout=duration_s,
            return_adv=True,
            service_uuids=[HRS_UUID],
            bluez=_scanner_args(adapter),
        )
    except Exception as exc:
        raise diagnose(exc, "scan") from exc
    straps = [_seen(device, adv) for device, adv in found.values()]
    return sorted(straps, key=lambda s: (-s.rssi_dbm, s.name, s.address))


Matcher = Callable[[SeenStrap], bool]


class ScanHub:
    """One shared scanner; ``find`` waits for an advert that a matcher accepts."""

    def __init__(self, *, adapter: str | None = None) -> None:
        self._adapter = adapter
        self._waiters: list[tuple[Matcher, asyncio.Future[tuple[SeenStrap, BLEDevice]]]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def find(self, matches: Matcher, timeout_s: float) -> tuple[SeenStrap, BLEDevice] | None:
        """The first matching strap seen within ``timeout_s`` real seconds, or None."""
        future: asyncio.Future[tuple[SeenStrap, BLEDevice]] = (
            asyncio.get_running_loop().create_future()
        )
        waiter = (matches, future)
        self._waiters.append(waiter)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            self._changed.set()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        try:
            while self._waiters:
                async with BleakScanner(
                    self._on_advert,
                    service_uuids=[HRS_UUID],
                    bluez=_scanner_args(self._adapter),
                ):
                    while self._waiters:
                        self._changed.clear()
                        await self._changed.wait()
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, who diagnose it
            for _, future in self._waiters:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._task = None

    def _on_advert(self, device: BLEDevice, adv: AdvertisementData) -> None:
        seen = _seen(device, adv)
        for waiter in self._waiters:
            matches, future = waiter
            if not future.done() and matches(seen):
                future.set_result((seen, device))
                self._waiters.remove(waiter)
                self._changed.set()
                return


@dataclass(slots=True)
class StrapCallbacks:
    """Where a connection's data goes; times come from the collector's clock."""

    notification: Callable[[float, bytes], None]
    battery: Callable[[float, int], None]
    disconnected: Callable[[], None]


class StrapConnection:
    """One connected strap: 0x2A37 notifications flow into ``callbacks`` until closed.

    Each connection is a new ``BleakClient`` on a freshly scanned ``BLEDevice``, so every
    reconnect re-subscribes (BlueZ forgets notify sessions of a closed client).
    """

    def __init__(
        self,
        device: BLEDevice,
        label: str,
        callbacks: StrapCallbacks,
        *,
        clock: Clock,
        notify: NotifyMode = "start",
        adapter: str | None = None,
    ) -> None:
        self.label = label
        self.body_location: str | None = None
        self.battery_source: Literal["gatt", "bluez"] | None = None
        self._device = device
        self._callbacks = callbacks
        self._clock = clock
        self._notify = notify
        self._adapter = adapter
        self._client: BleakClient | None = None
        self._battery_watch: BlueZBatteryWatch | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def open(self, gate: asyncio.Lock, timeout_s: float) -> None:
        """Connect (holding ``gate``), read what the strap tells about itself, subscribe."""
        client = BleakClient(
            self._device,
            disconnected_callback=lambda _client: self._callbacks.disconnected(),
            timeout=self._clock.real_s(timeout_s),
            bluez=_client_args(self._adapter),
        )
        self._client = client
        try:
            async with gate:
                await client.connect()
            hrm = self._heart_rate_measurement(client)
            self.body_location = await self._read_body_location(client)
            await self._watch_battery(client)
            await client.start_notify(
                hrm, self._on_hrm, bluez={"use_start_notify": self._notify == "start"}
            )
        except Exception as exc:
            await self.close()
            raise diagnose(exc, self.label) from exc
        except BaseException:
            await asyncio.shield(self.close())
            raise

    def _heart_rate_measurement(self, client: BleakClient) -> BleakGATTCharacteristic:
        hrm = client.services.get_characteristic(HRM_UUID)
        if hrm is None:
            raise problem(
                Problem.NOT_A_HEART_RATE_STRAP,
                f"{self.label} has no Heart Rate Measurement characteristic (0x2A37)",
            )
        return hrm

    async def close(self) -> None:
        """Disconnect (a no-op for the strap if the link is already down, but it releases
        Bleak's D-Bus connection)."""
        watch, self._battery_watch = self._battery_watch, None
        if watch is not None:
            await watch.stop()
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except (BleakError, OSError, TimeoutError) as exc:
                log.info("strap_disconnect_failed", strap=self.label, error=str(exc))

    def _on_hrm(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        # Stamp first: this is the arrival time the beat timeline anchors to.
        self._callbacks.notification(self._clock.now_s(), bytes(data))

    def _on_battery_notification(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if data:
            self._on_battery(data[0])

    def _on_battery(self, level_pct: int) -> None:
        if 0 <= level_pct <= BATTERY_MAX_PCT:
            self._callbacks.battery(self._clock.now_s(), level_pct)
        else:
            log.warning("strap_battery_out_of_range", strap=self.label, level_pct=level_pct)

    async def _read_body_location(self, client: BleakClient) -> str | None:
        char = client.services.get_characteristic(BODY_SENSOR_LOCATION_UUID)
        if char is None:
            return None
        try:
            value = await client.read_gatt_char(char)
        except BleakError as exc:
            log.info("strap_body_location_unreadable", strap=self.label, error=str(exc))
            return None
        if not value:
            return None
        return BODY_LOCATIONS[value[0]] if value[0] < len(BODY_LOCATIONS) else "other"

    async def _watch_battery(self, client: BleakClient) -> None:
        char = client.services.get_characteristic(BATTERY_LEVEL_UUID)
        if char is not None:
            self.battery_source = "gatt"
            try:
                value = await client.read_gatt_char(char)
                if value:
                    self._on_battery(value[0])
                if "notify" in char.properties:
                    await client.start_notify(char, self._on_battery_notification)
            except BleakError as exc:
                log.info("strap_battery_unreadable", strap=self.label, error=str(exc))
            return
        path = _bluez_path(self._device)
        if path is None:
            log.info("strap_battery_unknown", strap=self.label, reason="no Battery Service")
            return
        # bluetoothd's battery plugin hides the Battery Service and shows
        # org.bluez.Battery1 on the device instead (bleak#393).
        from attune.collector.battery import BlueZBatteryWatch  # noqa: PLC0415 - Linux only

        watch = BlueZBatteryWatch(path, self._on_battery)
        if await watch.start():
            self._battery_watch = watch
            self.battery_source = "bluez"


def _bluez_path(device: BLEDevice) -> str | None:
    if sys.platform != "linux" or not isinstance(device.details, dict):
        return None
    path = device.details.get("path")
    return path if isinstance(path, str) else None
