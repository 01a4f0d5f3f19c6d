"""Live session runtimes: committed inputs -> session stream -> hub.

Every input (collector message or marker) is numbered and committed, then fed to the
session's stream, under the session's lock, so the recorded ``input_no`` order is exactly the
order the live stream consumed. A runtime is rebuilt after a restart by feeding the recording
back in that order (in a worker thread, off the event loop); the stream is deterministic, so
its state and live ``seq`` come back exactly, and the hub's resume buffer is refilled with the
same messages, so browsers resume across a restart as if nothing happened.

With several instances (scale-out), only the holder of a session's lease (``Ownership``)
keeps its runtime; the rebuild is then also how an instance takes a session over from one
that died. Requests that reach another instance are passed on (``Peers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from pydantic import JsonValue
from sqlalchemy.exc import SQLAlchemyError

from attune.api.audiences import audience_roles, delivery
from attune.api.commits import GroupCommit
from attune.api.forwarding import A, OwnerAction, R
from attune.api.inputs import baseline_json, session_inputs, stream_setup
from attune.api.live_messages import session_pacer
from attune.api.ownership import LocalOwnership, Ownership
from attune.api.stream import AnyInput, SessionStream, StreamSetup, live_order
from attune.cues.config import CueConfig, default_cue_config
from attune.errors import AttuneError, ConflictError, OwnedElsewhereError
from attune.hub import Hub, LiveItem, Subscription
from attune.pipeline.session import SessionPipeline
from attune.protocol.ingest import SeqMessage
from attune.protocol.live import (
    CueMessage,
    LiveMessage,
    PacerMessage,
    ParticipantInfo,
    ResonanceMessage,
    SessionInfo,
    SessionPacer,
)
from attune.store import (
    MarkerRow,
    ParticipantRow,
    PendingRecord,
    RecordedInput,
    RecordOutcome,
    SessionRow,
    Store,
)

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class SessionRuntime:
    """One live session's stream and input counter."""

    session: SessionRow
    participants: dict[str, ParticipantRow]
    stream: SessionStream
    next_input_no: int = 1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    used_s: float = 0.0  # monotonic time of the last use (scale-out: idle leases go back)
    show_numbers: bool = False
    baselines_stored: set[str] = field(default_factory=set)  # client participants

    def item(self, message: LiveMessage) -> LiveItem:
        return LiveItem(
            seq=message.seq,
            audience=audience_roles(message, self.participants),
            text=message.model_dump_json(),
            droppable=delivery(str(getattr(message, "type", ""))).droppable,
        )


def session_info(
    session: SessionRow,
    participants: list[ParticipantRow],
    *,
    seq: int,
    now_s: float,
    role: str,
    show_numbers: bool = False,
    pacer: SessionPacer | None = None,
) -> SessionInfo:
    """The ``session`` message for a viewer; the client view learns only of the client."""
    shown = [p for p in participants if role == "therapist" or p.role == "client"]
    return SessionInfo(
        seq=seq,
        t_s=now_s - session.origin_s,
        session_id=session.id,
        title=session.title,
        participants=[ParticipantInfo(id=p.id, role=p.role, name=p.display_name) for p in shown],
        show_numbers=show_numbers,
        pacer=pacer,
    )


class Peers(Protocol):
    """The other service instances (scale-out; attune.api.cluster)."""

    def tell(self, message: dict[str, str]) -> None:
        """Tell every instance (``op`` and ``session``): ``refresh``."""

    async def forward(self, session_id: str, action: str, args: dict[str, JsonValue]) -> JsonValue:
        """Run the named owner action (attune.api.forwarding) on the instance that computes
        the session: its result, or the error it raised, raised here as the same class."""
        ...


@dataclass(slots=True)
class SessionRuntimes:
    """Creates runtimes on demand (rebuilding them from the recording) and feeds them."""

    store: Store
    hub: Hub
    ownership: Ownership = field(default_factory=LocalOwnership)
    peers: Peers | None = None
    monotonic: Callable[[], float] = time.monotonic
    cue_config: CueConfig = field(default_factory=default_cue_config)
    commits: GroupCommit = field(init=False)
    _runtimes: dict[str, SessionRuntime] = field(default_factory=dict)
    _loading: dict[str, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.store.recording)

    async def get(self, session_id: str) -> SessionRuntime:
        """The session's runtime; NotFoundError if there is no such session,
        OwnedElsewhereError if another instance computes it."""
        runtime = self._runtimes.get(session_id)
        if runtime is None or not self.ownership.owns(session_id):
            async with self._loading.setdefault(session_id, asyncio.Lock()):
                runtime = await self._load(session_id)
            self._loading.pop(session_id, None)
        runtime.used_s = self.monotonic()
        return runtime

    async def _load(self, session_id: str) -> SessionRuntime:
        await self.ownership.acquire(session_id)
        runtime = self._runtimes.get(session_id)
        if runtime is None:
            try:
                runtime = await self._rebuild(session_id)
            except BaseException:
                await self.ownership.release(session_id)
                raise
            self._runtimes[session_id] = runtime
        return runtime

    async def watch(
        self, session: SessionRow, role: str, after_seq: int | None, *, now_s: float
    ) -> tuple[SessionInfo, Subscription]:
        """Subscribe a viewer; returns its ``session`` message and its subscription. Where
        this instance computes the session (always, with one process) its runtime is loaded
        first, which refills the resume buffer after a restart."""
        runtime = await self.get(session.id) if self.ownership.owns(session.id) else None
        subscription = await self.hub.subscribe(session.id, role, after_seq)
        pacer = None
        if runtime is not None:
            session, participants = runtime.session, list(runtime.participants.values())
            show_numbers = runtime.show_numbers
            pacer = session_pacer(runtime.stream.pipeline.coreg.pacer_setting)
        else:
            participants = await self.store.sessions.participants(session.id)
            show_numbers = await self.store.sessions.show_numbers(session.id)
        info = session_info(
            session,
            participants,
            seq=subscription.head_seq,
            now_s=now_s,
            role=role,
            show_numbers=show_numbers,
            pacer=pacer,
        )
        return info, subscription

    async def refresh(self, session_id: str) -> None:
        """Reload the session row and participants of a loaded runtime (after a start, stop
        or new participant), here and on the instance that computes it; one not loaded yet
        will read them when it is."""
        await self.reload(session_id)
        if self.peers is not None:
            self.peers.tell({"op": "refresh", "session": session_id})

    async def reload(self, session_id: str) -> None:
        """``refresh`` on this instance only."""
        runtime = self._runtimes.get(session_id)
        if runtime is not None:
            runtime.session = await self.store.sessions.get(session_id)
            if runtime.session.origin_s != runtime.stream.origin_s:
                # Loaded before the start: session time now counts from the start. Nothing
                # fed yet takes the new zero as it is; otherwise the next use rebuilds the
                # stream from the recording, as a restart would.
                if runtime.stream.live_seq > 0:
                    self.drop(session_id)
                    return
                runtime.stream.origin_s = runtime.session.origin_s
            participants = await self.store.sessions.participants(session_id)
            runtime.participants = {p.id: p for p in participants}
            setup = await stream_setup(self.store, runtime.session, participants, self.cue_config)
            _add_participants(runtime.stream.pipeline, setup)

    def forget(self, session_id: str) -> None:
        """Drop a deleted session's state and end its viewers' subscriptions."""
        self.drop(session_id)
        self.hub.close(session_id)

    def drop(self, session_id: str) -> None:
        """Drop a runtime this instance no longer computes (its lease was lost or the
        session erased); the next use rebuilds it from the recording."""
        self._runtimes.pop(session_id, None)

    @contextlib.contextmanager
    def _dropped_on_clash(self, session_id: str) -> Iterator[None]:
        """Around recording an input: a ConflictError means another instance recorded
        under this input number (or marker key), so our runtime is stale; drop it, and the
        retry is computed from the rebuilt recording."""
        try:
            yield
        except ConflictError:
            self.drop(session_id)
            raise

    async def release_idle(self, idle_s: float) -> list[str]:
        """Give up the sessions unused for ``idle_s`` (scale-out: another instance may take
        them at once); returns their ids."""
        released = []
        for session_id, runtime in list(self._runtimes.items()):
            if self.monotonic() - runtime.used_s < idle_s or runtime.lock.locked():
                continue
            async with runtime.lock:
                if self._runtimes.get(session_id) is runtime:
                    del self._runtimes[session_id]
                    await self.ownership.release(session_id)
                    released.append(session_id)
        return released

    async def ingest(
        self, participant: ParticipantRow, message: SeqMessage, *, now_s: float
    ) -> RecordOutcome:
        """Commit one collector message, then (unless it is late) feed and publish it."""
        runtime = await self.get(participant.session_id)
        async with runtime.lock:
            self._still_owned(runtime)
            late = runtime.stream.is_late(participant.id, message.seq)
            input_no = runtime.next_input_no
            pending = PendingRecord(
                participant.session_id, participant.id, message, input_no, not late, now_s
            )
            with self._dropped_on_clash(participant.session_id):
                outcome = await self.commits.record(pending)
            if outcome is RecordOutcome.NEW:
                runtime.next_input_no += 1
                if not late:
                    item = RecordedInput(input_no, participant.id, True, message)
                    await self._effects(runtime, self._publish(runtime, item), now_s)
        return outcome

    def _still_owned(self, runtime: SessionRuntime) -> None:
        """Under the runtime's lock: the lease may have gone while we waited for it."""
        session_id = runtime.session.id
        if self._runtimes.get(session_id) is not runtime or not self.ownership.owns(session_id):
            raise OwnedElsewhereError(f"session {session_id} moved to another instance")

    async def add_marker(
        self,
        session_id: str,
        *,
        t_s: float,
        text: str,
        author_id: str | None,
        now_s: float,
        idempotency_key: str | None = None,
    ) -> MarkerRow:
        """Commit a marker as the session's next input and publish it (on the instance
        that computes the session: from elsewhere, through ``on_owner``). With a key, a
        marker already posted with it is the answer (its text must be the same:
        ConflictError if not), so a retried post records one marker."""
        runtime = await self.get(session_id)
        async with runtime.lock:
            self._still_owned(runtime)
            if idempotency_key is not None:
                earlier = await self.store.recording.marker_by_key(session_id, idempotency_key)
                if earlier is not None:
                    if earlier.text != text:
                        raise ConflictError(
                            "this idempotency key was used for another marker; "
                            "send a new key with a new marker"
                        )
                    return earlier
            with self._dropped_on_clash(session_id):
                marker = await self.store.recording.add_marker(
                    session_id,
                    input_no=runtime.next_input_no,
                    t_s=t_s,
                    text=text,
                    author_id=author_id,
                    now_s=now_s,
                    idempotency_key=idempotency_key,
                )
            runtime.next_input_no += 1
            self._publish(runtime, marker)
        return marker

    async def on_owner(self, session_id: str, action: OwnerAction[A, R], args: A) -> R:
        """Run ``action`` where the session is computed: here if this instance holds (or
        can take) its lease, else on the instance that does (scale-out), whose error is
        raised here as the same class. OwnedElsewhereError if that instance does not
        answer."""
        try:
            await self.get(session_id)
        except OwnedElsewhereError:
            if self.peers is None:
                raise
            answer = await self.peers.forward(session_id, action.name, args.model_dump(mode="json"))
            return action.result.model_validate(answer)
        return await action.run(self, session_id, args)

    async def control(
        self,
        session_id: str,
        kind: str,
        body: dict[str, JsonValue],
        *,
        author_id: str | None,
        now_s: float,
        check: Callable[[SessionRuntime], None] | None = None,
    ) -> SessionRuntime:
        """Commit a session control (attune.api.stream: pacer, resonance assessment, client
        view) as the session's next input at session time now, and publish what it does.
        ``check`` runs first under the session's lock and may refuse (raise) the control.
        Returns the runtime, its state now including the control."""
        runtime = await self.get(session_id)
        async with runtime.lock:
            self._still_owned(runtime)
            if check is not None:
                check(runtime)
            with self._dropped_on_clash(session_id):
                row = await self.store.controls.add(
                    session_id,
                    input_no=runtime.next_input_no,
                    t_s=now_s - runtime.session.origin_s,
                    kind=kind,
                    body=dict(body),
                    author_id=author_id,
                    now_s=now_s,
                )
            runtime.next_input_no += 1
            await self._effects(runtime, self._publish(runtime, row), now_s)
        return runtime

    def _publish(self, runtime: SessionRuntime, item: AnyInput) -> list[LiveMessage]:
        messages = runtime.stream.feed(item)
        for message in messages:
            self.hub.publish(runtime.session.id, runtime.item(message))
        return messages

    async def _effects(
        self, runtime: SessionRuntime, messages: list[LiveMessage], now_s: float
    ) -> None:
        """What the live path alone records: cues as shown, pacer changes, a picked
        resonance rate and a learnt calm baseline. A rebuild replays the stream without
        them, so each is recorded once however often the session is rebuilt."""
        session = runtime.session
        try:
            for message in messages:
                if isinstance(message, CueMessage):
                    await self.store.events.record_cue_shown(
                        session.id,
                        at_s=now_s,
                        t_s=message.t_s,
                        audience=message.audience,
                        kind=message.kind,
                        text=message.text,
                        detail={
                            "seq": message.seq,
                            "reason": [r.model_dump(mode="json") for r in message.reason],
                        },
                    )
                elif isinstance(message, PacerMessage):
                    await self.store.events.record_pacer_change(
                        session.id,
                        at_s=now_s,
                        t_s=message.t_s,
                        breaths_per_min=message.breaths_per_min,
                        inhale_exhale_ratio=message.exhale_ratio,
                        source=message.source,
                        detail={
                            "seq": message.seq,
                            "change": message.change,
                            "effective_s": message.effective_s,
                            "anchor_s": message.anchor_s,
                        },
                    )
                elif (
                    isinstance(message, ResonanceMessage)
                    and message.resonance_bpm is not None
                    and session.client_id is not None
                ):
                    await self.store.clients.set_resonance(
                        session.client_id, message.resonance_bpm, now_s=now_s
                    )
            await self._store_baselines(runtime, now_s)
        except (AttuneError, SQLAlchemyError) as exc:
            # The input is committed and published; only this derived record is missing.
            log.exception("session event not recorded", session=session.id, error=str(exc))

    async def _store_baselines(self, runtime: SessionRuntime, now_s: float) -> None:
        """Store a client's calm baseline on the client once this session has learnt it."""
        pipeline, client_id = runtime.stream.pipeline, runtime.session.client_id
        if client_id is None:
            return
        for pid, p in runtime.participants.items():
            if p.role != "client" or pid in runtime.baselines_stored or pid in pipeline.baselines:
                continue
            baseline = pipeline.calm_baseline(pid)
            if baseline is not None:
                runtime.baselines_stored.add(pid)
                await self.store.clients.set_baseline(
                    client_id, baseline_json(baseline), now_s=now_s
                )

    async def _rebuild(self, session_id: str) -> SessionRuntime:
        session = await self.store.sessions.get(session_id)
        participants = await self.store.sessions.participants(session_id)
        inputs = await session_inputs(self.store, session_id)
        setup = await stream_setup(self.store, session, participants, self.cue_config)
        runtime = SessionRuntime(
            session,
            {p.id: p for p in participants},
            SessionStream(session.origin_s, setup.pipeline()),
            next_input_no=(inputs[-1].input_no + 1) if inputs else 1,
            show_numbers=await self.store.sessions.show_numbers(session_id),
        )
        buffered = await asyncio.to_thread(_replay, runtime, inputs, self.hub.buffer_messages)
        self.hub.restore(session_id, buffered)
        return runtime


def _add_participants(pipeline: SessionPipeline, setup: StreamSetup) -> None:
    """Roles and stored baselines of participants added since the stream was built (their
    data come after they were added, so a rebuild sees the same)."""
    for pid, role in setup.roles.items():
        pipeline.roles.setdefault(pid, role)
    for pid, baseline in setup.baselines.items():
        pipeline.baselines.setdefault(pid, baseline)


def _replay(runtime: SessionRuntime, inputs: list[AnyInput], keep: int) -> list[LiveItem]:
    """Feed recorded inputs as live did; the last ``keep`` messages refill the resume buffer."""
    tail: deque[LiveMessage] = deque(maxlen=keep)
    for item in live_order(inputs):
        tail.extend(runtime.stream.feed(item))
    return [runtime.item(message) for message in tail]
