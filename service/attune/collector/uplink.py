"""Websocket uplink from a collector to the service's ingest endpoint.

Every message gets the next ``seq`` and goes into the outbox before it is sent; it leaves the
outbox only when the service acks it (after its database commit). After any disconnect the
uplink reconnects with capped, jittered backoff and resends everything unacknowledged in seq
order; the service drops duplicates by (participant, seq), so delivery is exactly-once.
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

from attune.collector.outbox import MemoryOutbox, Outbox
from attune.pipeline.events import LinkState
from attune.protocol.ingest import (
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
REFUSED_ATTEMPT = 16  # past the cap of backoff_delay_s


def backoff_delay_s(
    attempt: int, *, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random
) -> float:
    """Capped exponential backoff with full jitter (AWS architecture blog, "Exponential
    Backoff And Jitter"): uniform in [0, min(cap, base * 2**attempt)]."""
    return rng.uniform(0.0, min(cap_s, base_s * 2.0**attempt))


@dataclass(slots=True)
class Uplink:
    """Delivers a participant's messages to ``url`` with its collector ``token``."""

    url: str
    token: str
    sensor: SensorInfo = field(default_factory=SensorInfo)
    outbox: Outbox = field(default_factory=MemoryOutbox)
    collector: str = "attune"
    rng: random.Random = field(default_factory=random.Random)
    on_welcome: Callable[[Welcome], None] | None = None
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _connected: bool = False

    @property
    def connected(self) -> bool:
        return self._connected

    def send_notification(self, received_at_s: float, payload: bytes) -> int:
        """Queue one 0x2A37 notification, stamped with its arrival time."""
        note = Notification(received_at_s=received_at_s, payload_hex=payload.hex())
        return self._queue(lambda seq: Batch(v=1, type="batch", seq=seq, notifications=[note]))

    def send_link(self, at_s: float, state: LinkState, reason: str | None = None) -> int:
        return self._queue(
            lambda seq: Link(v=1, type="link", seq=seq, at_s=at_s, state=state, reason=reason)
        )

    def send_battery(self, at_s: float, level_pct: int) -> int:
        return self._queue(
            lambda seq: Battery(v=1, type="battery", seq=seq, at_s=at_s, level_pct=level_pct)
        )

    def _queue(self, build: Callable[[int], Batch | Link | Battery]) -> int:
        seq = self.outbox.next_seq()
        self.outbox.put(seq, build(seq).model_dump_json())
        self._wakeup.set()
        return seq

    async def run(self) -> None:
        """Deliver until cancelled, reconnecting after every failure."""
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
            await asyncio.sleep(backoff_delay_s(attempt, rng=self.rng))
            attempt += 1

    async def _session(self, ws: ClientConnection) -> None:
        hello = Hello(v=1, type="hello", collector=self.collector, sensor=self.sensor)
        await ws.send(hello.model_dump_json())
        welcome = service_message.validate_json(await ws.recv())
        if not isinstance(welcome, Welcome):
            raise WebSocketException(f"expected welcome, got {welcome.type}")
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

    async def _send_pending(self, ws: ClientConnection, receiver: asyncio.Task[None]) -> None:
        sent_through = -1
        while not receiver.done():
            self._wakeup.clear()
            for seq, text in self.outbox.pending(sent_through):
                await ws.send(text)
                sent_through = seq
            waiter = asyncio.create_task(self._wakeup.wait())
            await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
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
