"""Live session runtimes: committed inputs -> session stream -> hub.

Every input (collector message or marker) is numbered and committed, then fed to the
session's stream, under the session's lock, so the recorded ``input_no`` order is exactly the
order the live stream consumed. A runtime is rebuilt after a restart by feeding the recording
back in that order (in a worker thread, off the event loop); the stream is deterministic, so
its state and live ``seq`` come back exactly, and the hub's resume buffer is refilled with the
same messages, so browsers resume across a restart as if nothing happened.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from attune.api.audiences import audience_roles, delivery
from attune.api.stream import SessionStream, live_order
from attune.hub.memory import LiveItem, MemoryHub
from attune.protocol.ingest import SeqMessage
from attune.protocol.live import LiveMessage, ParticipantInfo, SessionInfo
from attune.store import (
    MarkerRow,
    ParticipantRow,
    RecordedInput,
    RecordOutcome,
    SessionInput,
    SessionRow,
    Store,
)


@dataclass(slots=True)
class SessionRuntime:
    """One live session's stream and input counter."""

    session: SessionRow
    participants: dict[str, ParticipantRow]
    stream: SessionStream
    next_input_no: int = 1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def session_info(self, now_s: float, role: str) -> SessionInfo:
        """The ``session`` message for a viewer; the client view learns only of the client."""
        shown = [p for p in self.participants.values() if role == "therapist" or p.role == "client"]
        return SessionInfo(
            seq=self.stream.live_seq,
            t_s=now_s - self.session.origin_s,
            session_id=self.session.id,
            title=self.session.title,
            participants=[
                ParticipantInfo(id=p.id, role=p.role, name=p.display_name) for p in shown
            ],
        )

    def item(self, message: LiveMessage) -> LiveItem:
        return LiveItem(
            seq=message.seq,
            audience=audience_roles(message, self.participants),
            text=message.model_dump_json(),
            droppable=delivery(str(getattr(message, "type", ""))).droppable,
        )


@dataclass(slots=True)
class SessionRuntimes:
    """Creates runtimes on demand (rebuilding them from the recording) and feeds them."""

    store: Store
    hub: MemoryHub
    _runtimes: dict[str, SessionRuntime] = field(default_factory=dict)
    _loading: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def get(self, session_id: str) -> SessionRuntime:
        """The session's runtime; NotFoundError if there is no such session."""
        runtime = self._runtimes.get(session_id)
        if runtime is not None:
            return runtime
        async with self._loading.setdefault(session_id, asyncio.Lock()):
            runtime = self._runtimes.get(session_id)
            if runtime is None:
                runtime = await self._rebuild(session_id)
                self._runtimes[session_id] = runtime
        self._loading.pop(session_id, None)
        return runtime

    async def refresh(self, session_id: str) -> None:
        """Reload the session row and participants of a loaded runtime (after a start, stop
        or new participant); one not loaded yet will read them when it is."""
        runtime = self._runtimes.get(session_id)
        if runtime is not None:
            runtime.session = await self.store.sessions.get(session_id)
            participants = await self.store.sessions.participants(session_id)
            runtime.participants = {p.id: p for p in participants}

    def forget(self, session_id: str) -> None:
        """Drop a deleted session's state and end its viewers' subscriptions."""
        self._runtimes.pop(session_id, None)
        self.hub.close(session_id)

    async def ingest(
        self, participant: ParticipantRow, message: SeqMessage, *, now_s: float
    ) -> RecordOutcome:
        """Commit one collector message, then (unless it is late) feed and publish it."""
        runtime = await self.get(participant.session_id)
        async with runtime.lock:
            late = runtime.stream.is_late(participant.id, message.seq)
            input_no = runtime.next_input_no
            outcome = await self.store.recording.record(
                participant.session_id,
                participant.id,
                message,
                input_no=input_no,
                live=not late,
                now_s=now_s,
            )
            if outcome is RecordOutcome.NEW:
                runtime.next_input_no += 1
                if not late:
                    self._publish(runtime, RecordedInput(input_no, participant.id, True, message))
        return outcome

    async def add_marker(
        self, session_id: str, *, t_s: float, text: str, author_id: str | None, now_s: float
    ) -> MarkerRow:
        """Commit a marker as the session's next input and publish it."""
        runtime = await self.get(session_id)
        async with runtime.lock:
            marker = await self.store.recording.add_marker(
                session_id,
                input_no=runtime.next_input_no,
                t_s=t_s,
                text=text,
                author_id=author_id,
                now_s=now_s,
            )
            runtime.next_input_no += 1
            self._publish(runtime, marker)
        return marker

    def _publish(self, runtime: SessionRuntime, item: SessionInput) -> None:
        for message in runtime.stream.feed(item):
            self.hub.publish(runtime.session.id, runtime.item(message))

    async def _rebuild(self, session_id: str) -> SessionRuntime:
        session = await self.store.sessions.get(session_id)
        participants = await self.store.sessions.participants(session_id)
        inputs = await self.store.recording.inputs(session_id)
        runtime = SessionRuntime(
            session,
            {p.id: p for p in participants},
            SessionStream(session.origin_s),
            next_input_no=(inputs[-1].input_no + 1) if inputs else 1,
        )
        buffered = await asyncio.to_thread(_replay, runtime, inputs, self.hub.buffer_messages)
        self.hub.restore(session_id, buffered)
        return runtime


def _replay(runtime: SessionRuntime, inputs: list[SessionInput], keep: int) -> list[LiveItem]:
    """Feed recorded inputs as live did; the last ``keep`` messages refill the resume buffer."""
    tail: deque[LiveMessage] = deque(maxlen=keep)
    for item in live_order(inputs):
        tail.extend(runtime.stream.feed(item))
    return [runtime.item(message) for message in tail]
