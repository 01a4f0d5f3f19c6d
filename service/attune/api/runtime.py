"""Live session runtimes: recorded input -> pure pipeline -> live messages -> hub.

A runtime is rebuilt after a restart by feeding the session's recording back through the
pipeline without publishing; the pipeline is deterministic, so its state and the live
``seq`` counter come back exactly where they were.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from attune.api.live_messages import to_live_message
from attune.hub.memory import LiveItem, MemoryHub
from attune.pipeline import PipelineEvent, SessionPipeline
from attune.protocol.ingest import Batch, Link, SeqMessage
from attune.protocol.live import ParticipantInfo, SessionInfo
from attune.store.recording import ParticipantRow, Recording, SessionRow

THERAPIST_ONLY = frozenset({"therapist"})


@dataclass(slots=True)
class SessionRuntime:
    """One live session's pipeline state and live sequence."""

    session: SessionRow
    participants: dict[str, ParticipantRow]
    hub: MemoryHub
    pipeline: SessionPipeline = field(default_factory=SessionPipeline)
    last_seq: dict[str, int] = field(default_factory=dict)
    publishing: bool = True
    _live_seq: int = 0

    @property
    def started_at_s(self) -> float:
        return self.session.started_at_s or self.session.created_at_s

    @property
    def live_seq(self) -> int:
        return self._live_seq

    def session_info(self, now_s: float) -> SessionInfo:
        return SessionInfo(
            seq=self._live_seq,
            t_s=now_s - self.started_at_s,
            session_id=self.session.id,
            title=self.session.title,
            participants=[
                ParticipantInfo(id=p.id, role=p.role, name=p.display_name)
                for p in self.participants.values()
            ],
        )

    def apply(self, participant_id: str, message: SeqMessage) -> None:
        """Feed one committed collector message through the pipeline and publish the result."""
        self.last_seq[participant_id] = max(message.seq, self.last_seq.get(participant_id, -1))
        if isinstance(message, Batch):
            for n in message.notifications:
                t_s = n.received_at_s - self.started_at_s
                self._publish(self.pipeline.notification(participant_id, t_s, n.payload))
        elif isinstance(message, Link):
            t_s = message.at_s - self.started_at_s
            self._publish(self.pipeline.link(participant_id, t_s, message.state, message.reason))
        else:
            t_s = message.at_s - self.started_at_s
            self._publish(self.pipeline.battery(participant_id, t_s, message.level_pct))

    def _publish(self, events: list[PipelineEvent]) -> None:
        for event in events:
            self._live_seq += 1
            if self.publishing:
                text = to_live_message(event, self._live_seq).model_dump_json()
                self.hub.publish(self.session.id, LiveItem(self._live_seq, THERAPIST_ONLY, text))


@dataclass(slots=True)
class SessionRuntimes:
    """Creates runtimes on demand, rebuilding their state from the recording."""

    recording: Recording
    hub: MemoryHub
    _runtimes: dict[str, SessionRuntime] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, session_id: str) -> SessionRuntime:
        async with self._lock:
            runtime = self._runtimes.get(session_id)
            if runtime is None:
                runtime = await self._rebuild(session_id)
                self._runtimes[session_id] = runtime
            return runtime

    async def refresh(self, session_id: str) -> SessionRuntime:
        """Reload the session row and participants (after a start or a new participant)."""
        runtime = await self.get(session_id)
        runtime.session = await self.recording.session(session_id)
        runtime.participants = {p.id: p for p in await self.recording.participants(session_id)}
        return runtime

    async def _rebuild(self, session_id: str) -> SessionRuntime:
        session = await self.recording.session(session_id)
        participants = await self.recording.participants(session_id)
        runtime = SessionRuntime(
            session, {p.id: p for p in participants}, self.hub, publishing=False
        )
        for item in await self.recording.recorded_input(session_id):
            runtime.apply(item.participant_id, item.message)
        runtime.publishing = True
        return runtime
