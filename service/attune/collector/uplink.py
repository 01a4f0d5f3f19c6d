"""Websocket uplink from a collector to the service's ingest endpoint.

Every message gets the next ``seq`` and goes into the outbox before it is sent; it leaves the
outbox only when the service acks it (after its database commit). After any disconnect the
uplink reconnects with capped, jittered backoff and resends everything unacknowledged in seq
order; the service drops duplicates by (participant, seq), so delivery is exactly-once.

While the service is unreachable, notifications are coalesced into the newest batch that has
never been sent (up to the protocol's batch limits), so an hour offline costs a few hundred
messages rather than thousands. A message is frozen as soon as it is written to a socket:
the service may have committed it, so its content must never change afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from attune.collector.clock import Clock, SystemClock, wait_event
from attune.collector.link import Backoff
from attune.collector.outbox import MemoryOutbox, Outbox
from attune.pipeline.events import LinkState
from attune.protocol.ingest import (
    MAX_MESSAGE_BYTES,
    MAX_NOTIFICATIONS_PER_BATCH,
    Ack,
    Batch,
    Battery,
    Hello,
    IngestError,
    Link,
    Notification,
    SensorInfo,
    Welcome,
    service_message,
)

log = structlog.get_logger(__name__)
REFUSED_ATTEMPT = 16  # past the cap of the backoff
# Coalesced batches stay well under the service's message limit whatever the payloads.
COALESCE_MAX_BYTES = MAX_MESSAGE_BYTES // 2


@dataclass(slots=True)
class Uplink:
    """Delivers a participant's messages to ``url`` with its collector ``token``."""

    url: str
    token: str
    sensor: SensorInfo = field(default_factory=SensorInfo)
    outbox: Outbox = field(default_factory=MemoryOutbox)
    collector: str = "attune"
    rng: random.Random = field(default_factory=random.Random)
    clock: Clock = field(default_factory=SystemClock)
    backoff: Backoff = field(default_factory=Backoff)
    on_welcome: Callable[[Welcome], None] | None = None
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _acked: asyncio.Event = field(default_factory=asyncio.Event)
    _connected: bool = False
    _hello_due: bool = False
    # Highest seq ever written to a socket; messages up to it are never rewritten.
    _frozen_through: int | None = None
    # The open (never sent) batch at the tail of the outbox, kept parsed for coalescing.
    _open_batch: tuple[int, list[Notification], int] | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    def send_notification(self, received_at_s: float, payload: bytes) -> int:
        """Queue one 0x2A37 notification, stamped with its arrival time."""
        note = Notification(received_at_s=received_at_s, payload_hex=payload.hex())
        seq = self._coalesce(note)
        if seq is not None:
            return seq
        seq = self._queue(lambda seq: Batch(v=1, type="batch", seq=seq, notifications=[note]))
        self._open_batch = (seq, [note], len(note.model_dump_json()))
        return seq

    def send_link(self, at_s: float, state: LinkState, reason: str | None = None) -> int:
        return self._queue(
            lambda seq: Link(v=1, type="link", seq=seq, at_s=at_s, state=state, reason=reason)
        )

    def send_battery(self, at_s: float, level_pct: int) -> int:
        return self._queue(
            lambda seq: Battery(v=1, type="battery", seq=seq, at_s=at_s, level_pct=level_pct)
        )

    def update_sensor(self, sensor: SensorInfo) -> None:
        """New strap details (name, address, body location): sent in a fresh ``hello``."""
        if sensor != self.sensor:
            self.sensor = sensor
            self._hello_due = True
            self._wakeup.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` clock seconds for the outbox to empty; True if it did."""
        deadline_s = self.clock.monotonic_s() + timeout_s
        while len(self.outbox):
            self._acked.clear()
            left_s = deadline_s - self.clock.monotonic_s()
            if left_s <= 0:
                return False
            await wait_event(self.clock, self._acked, left_s)
        return True

    def _queue(self, build: Callable[[int], Batch | Link | Battery]) -> int:
        self._open_batch = None
        seq = self.outbox.append(lambda seq: build(seq).model_dump_json())
        self._wakeup.set()
        return seq

    def _coalesce(self, note: Notification) -> int | None:
        """Append ``note`` to the open batch if it was never sent and has room."""
        if self._open_batch is None:
            return None
        seq, notes, size = self._open_batch
        tail = self.outbox.tail()
        frozen = self._frozen_through
        if (
            (tail is None or tail[0] != seq)
            or (frozen is not None and seq <= frozen)
            or len(notes) >= MAX_NOTIFICATIONS_PER_BATCH
        ):
            return None
        size += len(note.model_dump_json()) + 1
        if size > COALESCE_MAX_BYTES:
            return None
        notes.append(note)
        self._open_batch = (seq, notes, size)
        batch = Batch(v=1, type="batch", seq=seq, notifications=notes)
        self.outbox.replace(seq, batch.model_dump_json())
        self._wakeup.set()
        return seq

    async def run(self) -> None:
        """Deliver until cancelled, reconnecting after every failure."""
        if self._frozen_through is None:
            # Whatever a previous process left may have been sent already.
            tail = self.outbox.tail()
            self._frozen_through = tail[0] if tail else -1
        attempt = 0
        while True:
            try:
                async with connect(
                    self.url, additional_headers={"Authorization": f"Bearer {self.token}"}
                ) as ws:
                    attempt = 0
                    await self._session(ws)
            except InvalidStatus as exc:
                # A refused token will not fix itself: wait the longest before asking again
                # (aioesphomeapi's ReconnectLogic does the same on auth errors).
                attempt = REFUSED_ATTEMPT
                log.warning(
                    "uplink_refused",
                    status=exc.response.status_code,
                    url=self.url,
                    advice="check the collector token for this participant",
                )
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.info("uplink_disconnected", error=str(exc) or type(exc).__name__)
            finally:
                self._connected = False
            await self.clock.sleep(self.backoff.delay_s(attempt, self.rng))
            attempt += 1

    async def _session(self, ws: ClientConnection) -> None:
        welcome = await self._hello(ws)
        renumbered = self.outbox.align(welcome.last_seq)
        if renumbered:
            self._open_batch = None
            log.warning(
                "uplink_outbox_renumbered",
                messages=renumbered,
                service_last_seq=welcome.last_seq,
                reason="the service already holds these seqs from another outbox",
            )
        if self.on_welcome is not None:
            self.on_welcome(welcome)
        self._connected = True
        log.info("uplink_connected", url=self.url, pending=len(self.outbox))
        receiver = asyncio.create_task(self._receive(ws))
        try:
            await self._send_pending(ws, receiver)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    def _hello_text(self) -> str:
        self._hello_due = False
        return Hello(
            v=1, type="hello", collector=self.collector, sensor=self.sensor
        ).model_dump_json()

    async def _hello(self, ws: ClientConnection) -> Welcome:
        await ws.send(self._hello_text())
        welcome = service_message.validate_json(await ws.recv())
        if not isinstance(welcome, Welcome):
            raise WebSocketException(f"expected welcome, got {welcome.type}")
        return welcome

    async def _send_pending(self, ws: ClientConnection, receiver: asyncio.Task[None]) -> None:
        sent_through = -1
        while not receiver.done():
            self._wakeup.clear()
            if self._hello_due:
                # New strap details; the service answers with a welcome, which _receive ignores.
                await ws.send(self._hello_text())
            batch = self.outbox.pending(sent_through)
            if batch:
                # Freeze the whole snapshot before the first await: a notification arriving
                # while we send must not be coalesced into a message already on its way.
                sent_through = batch[-1][0]
                self._frozen_through = max(self._frozen_through or -1, sent_through)
            for _, text in batch:
                await ws.send(text)
            waiter = asyncio.create_task(self._wakeup.wait())
            try:
                await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        receiver.result()  # re-raise why the connection ended

    async def _receive(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                message = service_message.validate_json(raw)
            except ValidationError:
                log.warning("uplink_bad_reply", reply=str(raw)[:200])
                continue
            if isinstance(message, Ack):
                self.outbox.ack(message.seq)
                self._acked.set()
            elif isinstance(message, IngestError):
                log.error(
                    "uplink_message_rejected",
                    code=message.code,
                    reason=message.reason,
                    seq=message.seq,
                )
                if message.seq is not None:
                    # The service refused it for good (and logged why); resending it forever
                    # would help nobody.
                    self.outbox.ack(message.seq)
                    self._acked.set()
