"""The async driver of one strap link: runs ``LinkMachine`` against Bleak and the uplink.

The driver only turns the machine's state into I/O (scan, connect, watch, wait) and the
outcome back into an input; every decision is the machine's. Each transition is sent to
the service as a ``link`` message and offered to ``on_report`` (the CLI prints it).
Notifications are stamped in the Bleak callback and queued in the uplink's outbox before
anything else happens to them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from bleak.backends.device import BLEDevice

from attune.collector.ble import (
    NotifyMode,
    ScanHub,
    SeenStrap,
    StrapCallbacks,
    StrapConnection,
    selector_matches,
)
from attune.collector.clock import Clock, until_event, wait_event
from attune.collector.link import (
    BackoffElapsed,
    Connected,
    Dropped,
    Failed,
    Found,
    LinkInput,
    LinkMachine,
    LinkPolicy,
    NotFound,
    Report,
    Step,
    StopRequested,
)
from attune.collector.problems import Problem, diagnose, problem
from attune.collector.uplink import Uplink
from attune.errors import CollectorError, PayloadError
from attune.pipeline.events import LinkState
from attune.protocol.ingest import SensorInfo
from attune.sensor.hrm import parse_hrm

log = structlog.get_logger(__name__)
MAX_REASON_CHARS = 256  # the protocol's limit on a link reason
LINK_LOST = "link to the strap was lost (out of range, switched off or taken off?)"


@dataclass(slots=True)
class LinkStats:
    """What the collector saw of one strap, for status lines and tests."""

    notifications: int = 0
    malformed: int = 0
    last_malformed: str | None = None
    hr_bpm: int | None = None
    contact: bool | None = None
    battery_pct: int | None = None
    connects: int = 0


@dataclass(slots=True)
class Claims:
    """Which link owns which strap address, so two selectors never take the same strap."""

    owners: dict[str, StrapLink] = field(default_factory=dict)

    def free_for(self, address: str, link: StrapLink) -> bool:
        return self.owners.get(address, link) is link

    def claim(self, address: str, link: StrapLink) -> None:
        self.owners[address] = link

    def release(self, address: str, link: StrapLink) -> None:
        if self.owners.get(address) is link:
            del self.owners[address]


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """How links connect; shared by all straps of a collector."""

    policy: LinkPolicy = field(default_factory=LinkPolicy)
    notify: NotifyMode = "start"
    adapter: str | None = None


class StrapLink:
    """Keeps one strap streaming into its participant's uplink until stopped."""

    def __init__(
        self,
        selector: str,
        uplink: Uplink,
        *,
        scanner: ScanHub,
        gate: asyncio.Lock,
        claims: Claims,
        clock: Clock,
        settings: LinkSettings | None = None,
        rng: random.Random | None = None,
        on_report: Callable[[StrapLink, Report], None] | None = None,
    ) -> None:
        self.selector = selector
        self.uplink = uplink
        self.settings = settings or LinkSettings()
        self.machine = LinkMachine(self.settings.policy, rng or random.Random())  # noqa: S311
        self.stats = LinkStats()
        self.last_error: CollectorError | None = None
        self.seen: SeenStrap | None = None
        self._scanner = scanner
        self._gate = gate
        self._claims = claims
        self._clock = clock
        self._on_report = on_report
        self._pinned: str | None = None
        self._device: BLEDevice | None = None
        self._connection: StrapConnection | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._last_rx_s = 0.0

    @property
    def state(self) -> LinkState:
        return self.machine.state

    @property
    def label(self) -> str:
        return self.seen.name if self.seen and self.seen.name else self.selector

    def stop(self) -> None:
        """Ask the link to disconnect and finish (``run`` returns soon after)."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> Report | None:
        """Drive the link until stopped or a fatal problem; returns the last report."""
        step = self.machine.start()
        last = self._emit(step)
        try:
            while self.machine.state is not LinkState.STOPPED:
                event = await self._next_input(step)
                step = self.machine.handle(event, self._clock.monotonic_s())
                last = self._emit(step) or last
        finally:
            await self._close_connection()
        return last

    async def _next_input(self, step: Step) -> LinkInput:
        if self._stop.is_set():
            return StopRequested()
        match self.machine.state:
            case LinkState.SCANNING:
                return await self._scan()
            case LinkState.CONNECTING:
                return await self._connect()
            case LinkState.STREAMING:
                return await self._stream()
            case _:
                stopped = await wait_event(self._clock, self._stop, step.wait_s or 0.0)
                return StopRequested() if stopped else BackoffElapsed()

    async def _scan(self) -> LinkInput:
        wait_s = self.settings.policy.not_found_notice_s
        try:
            found = await until_event(
                self._scanner.find(self._matches, self._clock.real_s(wait_s)), self._stop
            )
        except Exception as exc:  # noqa: BLE001 - every scan failure is diagnosed
            return self._failed(diagnose(exc, self.selector))
        if self._stop.is_set():
            return StopRequested()
        if found is None:
            self.last_error = problem(Problem.STRAP_NOT_FOUND, f"{self.selector} not found")
            return NotFound(wait_s)
        self.seen, self._device = found
        self._claims.claim(self.seen.address, self)
        self.uplink.update_sensor(SensorInfo(name=self.seen.name, address=self.seen.address))
        return Found(self.seen.name, self.seen.address)

    def _matches(self, seen: SeenStrap) -> bool:
        if self._pinned is not None:
            return seen.address == self._pinned
        return selector_matches(self.selector, seen) and self._claims.free_for(seen.address, self)

    async def _connect(self) -> LinkInput:
        assert self._device is not None  # noqa: S101 - set by the Found that led here
        connection = StrapConnection(
            self._device,
            self.label,
            StrapCallbacks(self._on_notification, self._on_battery, self._on_disconnected),
            clock=self._clock,
            notify=self.settings.notify,
            adapter=self.settings.adapter,
        )
        timeout_s = self.settings.policy.connect_timeout_s
        try:
            await until_event(connection.open(self._gate, timeout_s), self._stop)
        except CollectorError as exc:
            if self._pinned is None and self.seen is not None:
                self._claims.release(self.seen.address, self)
            return self._failed(exc)
        if self._stop.is_set():
            await connection.close()
            return StopRequested()
        # Bleak fires the disconnected callback during its own connect retries (after
        # le-connection-abort-by-local BlueZ flips Connected True -> False): only a link
        # that is down now counts.
        self._disconnected.clear()
        if not connection.connected:
            self._disconnected.set()
        self._connection = connection
        self._pinned = self.seen.address if self.seen else None
        self.stats.connects += 1
        self._last_rx_s = self._clock.monotonic_s()
        if self.seen is not None:
            self.uplink.update_sensor(
                SensorInfo(
                    name=self.seen.name,
                    address=self.seen.address,
                    body_location=connection.body_location,
                )
            )
        return Connected()

    async def _stream(self) -> LinkInput:
        silence_s = self.settings.policy.silence_timeout_s
        while True:
            self._wake.clear()
            if self._stop.is_set():
                return StopRequested()
            if self._disconnected.is_set():
                await self._close_connection()
                return Dropped(LINK_LOST)
            quiet_s = self._clock.monotonic_s() - self._last_rx_s
            if quiet_s >= silence_s:
                await self._close_connection()
                return Dropped(f"no notifications for {quiet_s:.1f} s (silence watchdog)")
            await wait_event(self._clock, self._wake, silence_s - quiet_s)

    def _failed(self, error: CollectorError) -> Failed:
        self.last_error = error
        log.warning(
            "strap_problem",
            strap=self.label,
            code=error.code,
            error=error.message,
            advice=error.advice,
        )
        return Failed(error.message, error.fatal)

    def _emit(self, step: Step) -> Report | None:
        for report in step.reports:
            reason = report.reason[:MAX_REASON_CHARS] if report.reason else None
            self.uplink.send_link(self._clock.now_s(), report.state, reason)
            log.info("strap_link", strap=self.label, state=report.state.value, reason=reason)
            if self._on_report is not None:
                self._on_report(self, report)
        return step.reports[-1] if step.reports else None

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    def _on_notification(self, received_at_s: float, payload: bytes) -> None:
        self.uplink.send_notification(received_at_s, payload)
        self._last_rx_s = self._clock.monotonic_s()
        self.stats.notifications += 1
        try:
            hrm = parse_hrm(payload)
        except PayloadError as exc:
            # Forwarded as received (the service records and counts it); noted here too.
            self.stats.malformed += 1
            self.stats.last_malformed = exc.reason
            log.warning("strap_payload_malformed", strap=self.label, reason=exc.reason)
            return
        self.stats.hr_bpm, self.stats.contact = hrm.hr_bpm, hrm.contact

    def _on_battery(self, at_s: float, level_pct: int) -> None:
        if level_pct != self.stats.battery_pct:
            self.stats.battery_pct = level_pct
            self.uplink.send_battery(at_s, level_pct)

    def _on_disconnected(self) -> None:
        self._disconnected.set()
        self._wake.set()
