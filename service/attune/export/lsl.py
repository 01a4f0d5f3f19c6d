"""The Lab Streaming Layer outlet: live sessions, from the hub, to LSL (``attune serve --lsl``).

``LslBridge`` finds the running sessions (polling the store), subscribes to each one's live
hub channel with the therapist's view (everything), and pushes what ``lsl_streams`` makes of
each message to pylsl outlets. It recomputes nothing: what LSL gets is what the console gets.
A subscription that falls too far behind resumes from the hub's buffer; a session that ends
has its queue drained and its outlets closed.

pylsl loads the native liblsl when imported: its wheels bundle it for Linux x86_64 (glibc
2.35+), macOS and Windows; elsewhere install liblsl (``load_pylsl`` says so).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from attune.errors import ConfigError
from attune.export.lsl_streams import (
    Sample,
    StreamSpec,
    lsl_timestamp,
    participant_streams,
    samples,
    session_streams,
)
from attune.export.record import participant_labels
from attune.hub import EndReason as HubEnd
from attune.hub import Hub, Subscription, SubscriptionEnded
from attune.protocol.live import live_message
from attune.store import Store, schema

log = structlog.get_logger(__name__)
MAX_BUFFERED_S = 360  # what an outlet keeps for a slow inlet (irregular: x100 samples)


def load_pylsl() -> ModuleType:
    """pylsl with its native library; ConfigError saying why it cannot load."""
    try:
        import pylsl  # noqa: PLC0415 - loads a native library: only when LSL is wanted
    except (ImportError, OSError, RuntimeError) as exc:
        raise ConfigError(
            f"Lab Streaming Layer is unavailable: {exc}. pylsl's wheels bundle liblsl for"
            " Linux x86_64, macOS and Windows; elsewhere install liblsl"
            " (https://github.com/sccn/liblsl/releases) or set PYLSL_LIB to its path"
        ) from exc
    module: ModuleType = pylsl
    return module


@dataclass(slots=True)
class Outlets:
    """pylsl outlets by source id."""

    pylsl: ModuleType
    _open: dict[str, Any] = field(default_factory=dict)

    def open(self, spec: StreamSpec) -> None:
        if spec.source_id in self._open:
            return
        lsl = self.pylsl
        info = lsl.StreamInfo(
            spec.name,
            spec.type,
            len(spec.channels),
            lsl.IRREGULAR_RATE,
            lsl.cf_string if spec.channel_format == "string" else lsl.cf_float32,
            spec.source_id,
        )
        desc = info.desc()
        desc.append_child_value("manufacturer", "Attune")
        desc.append_child_value("session_id", spec.session_id)
        if spec.participant_id is not None:
            desc.append_child_value("participant_id", spec.participant_id)
            desc.append_child_value("role", spec.label or "")
        channels = desc.append_child("channels")
        for c in spec.channels:
            channel = channels.append_child("channel")
            channel.append_child_value("label", c.label)
            channel.append_child_value("unit", c.unit)
            channel.append_child_value("type", spec.type)
        self._open[spec.source_id] = lsl.StreamOutlet(info, max_buffered=MAX_BUFFERED_S)
        log.info("lsl_outlet_opened", source_id=spec.source_id, type=spec.type)

    def push(self, sample: Sample, timestamp: float) -> bool:
        outlet = self._open.get(sample.source_id)
        if outlet is None:
            return False
        outlet.push_sample(list(sample.values), timestamp)
        return True

    def close(self, prefix: str = "") -> None:
        """Close the outlets whose source id starts with ``prefix`` (all by default)."""
        for source in [s for s in self._open if s.startswith(prefix)]:
            del self._open[source]  # pylsl destroys the outlet with its last reference


@dataclass(slots=True)
class LslBridge:
    """Publishes every running session's live messages to LSL until cancelled."""

    store: Store
    hub: Hub
    clock: Callable[[], float] = time.time
    poll_s: float = 2.0
    _sessions: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = field(default_factory=dict)

    async def run(self) -> None:
        outlets = Outlets(load_pylsl())
        try:
            while True:
                try:
                    running = await self._running()
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("lsl_poll_failed", error=str(exc))  # try again next time
                    running = set(self._sessions)
                for session_id in running - self._sessions.keys():
                    ending = asyncio.Event()
                    task = asyncio.create_task(self._publish(session_id, outlets, ending))
                    self._sessions[session_id] = (task, ending)
                for session_id, (task, ending) in list(self._sessions.items()):
                    if session_id not in running:
                        ending.set()  # drain what is queued, then close
                    if task.done():
                        del self._sessions[session_id]  # restarted next time if still running
                        failure = None if task.cancelled() else task.exception()
                        if failure is not None:
                            log.error("lsl_session_failed", session=session_id, error=repr(failure))
                await asyncio.sleep(self.poll_s)
        finally:
            tasks = [task for task, _ in self._sessions.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._sessions.clear()
            outlets.close()

    async def _running(self) -> set[str]:
        s = schema.sessions
        query = select(s.c.id).where(s.c.started_at_s.is_not(None), s.c.ended_at_s.is_(None))
        async with self.store.engine.connect() as conn:
            return {row.id for row in await conn.execute(query)}

    async def _publish(self, session_id: str, outlets: Outlets, ending: asyncio.Event) -> None:
        session = await self.store.sessions.get(session_id)
        for spec in session_streams(session_id):
            outlets.open(spec)
        labels = await self._participants(session_id, outlets)
        subscription = await self.hub.subscribe(session_id, "therapist", None)
        last_seq: int | None = None
        try:
            while not (ending.is_set() and subscription.pending == 0):
                try:
                    item = await asyncio.wait_for(subscription.get(), self.poll_s)
                except TimeoutError:
                    labels = await self._participants(session_id, outlets)
                    continue
                except SubscriptionEnded as ended:
                    if ended.reason is not HubEnd.OVERFLOW:
                        return  # the session was deleted
                    subscription = await self._resume(session_id, subscription, last_seq)
                    continue
                last_seq = item.seq
                message = live_message.validate_json(item.text)
                participant = getattr(message, "participant", None)
                if participant is not None and participant not in labels:
                    labels = await self._participants(session_id, outlets)
                wall_now_s, lsl_now_s = self.clock(), outlets.pylsl.local_clock()
                for sample in samples(session_id, message, labels):
                    stamp = lsl_timestamp(sample.t_s, session.origin_s, wall_now_s, lsl_now_s)
                    outlets.push(sample, stamp)
        finally:
            self.hub.unsubscribe(session_id, subscription)
            outlets.close(f"attune.{session_id}.")

    async def _resume(
        self, session_id: str, old: Subscription, last_seq: int | None
    ) -> Subscription:
        """A subscription that fell behind: start again after the last message pushed."""
        self.hub.unsubscribe(session_id, old)
        log.warning("lsl_subscription_resumed", session=session_id, after_seq=last_seq)
        return await self.hub.subscribe(session_id, "therapist", last_seq)

    async def _participants(self, session_id: str, outlets: Outlets) -> dict[str, str]:
        """The session's participants by id, labelled as the exports do; opens their outlets."""
        rows = await self.store.sessions.participants(session_id)
        labels = participant_labels(rows)
        for row in rows:
            for spec in participant_streams(session_id, row.id, labels[row.id]):
                outlets.open(spec)
        return labels
