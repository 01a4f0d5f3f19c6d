"""The replay websocket: a recorded session streamed through the same pipeline, with play,
pause, speed (1x to 64x, or as fast as possible), seek and re-analysis.

The session's inputs are run through a fresh ``SessionStream`` (in a worker thread) into a
timeline of live messages; playing paces that timeline by session time. Seeking moves the
position; re-analysis rebuilds the timeline with other engine settings at the same position.
Therapists (their own sessions) and reviewer links may replay; client links may not.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from attune.api import sockets
from attune.api.analysis import run_stream
from attune.api.auth import ViewRole
from attune.api.deps import Services, services
from attune.api.inputs import session_inputs, stream_setup
from attune.api.stream import AnyInput, StreamSetup, engine_config, engine_config_json, live_order
from attune.api.viewer import open_viewer
from attune.errors import ConfigError
from attune.hrv.engine import EngineConfig
from attune.protocol.live import ErrorMessage, ParticipantInfo, SessionInfo
from attune.protocol.viewer import Analyse, Pause, Play, Seek, replay_command
from attune.protocol.viewer import ReplayState as ReplayStateMessage
from attune.store import SessionRow

router = APIRouter()
log = structlog.get_logger(__name__)
REPLAY_ROLES: frozenset[ViewRole] = frozenset({"therapist", "reviewer"})
_YIELD_EVERY = 64  # as fast as possible still lets commands and other sockets in


@dataclass(frozen=True, slots=True)
class Timeline:
    """A replayed session: message texts and their (non-decreasing) session times."""

    texts: list[str]
    clock_s: list[float]
    duration_s: float
    config: EngineConfig

    def index_at(self, t_s: float) -> int:
        return bisect.bisect_left(self.clock_s, t_s)


def build_timeline(
    inputs: list[AnyInput],
    session: SessionRow,
    config: EngineConfig,
    setup: StreamSetup | None = None,
) -> Timeline:
    """Run the inputs as live did and lay the messages out on session time."""
    texts, clock_s, latest_s = [], [], 0.0
    for message in run_stream(live_order(inputs), session.origin_s, config, setup=setup):
        # Messages come in input order; session times can step back slightly between the
        # two straps, so the replay clock is the running maximum.
        latest_s = max(latest_s, message.t_s)
        texts.append(message.model_dump_json())
        clock_s.append(latest_s)
    end_s = session.ended_at_s - session.origin_s if session.ended_at_s is not None else 0.0
    return Timeline(texts, clock_s, max(latest_s, end_s), config)


@dataclass(slots=True)
class _Player:
    timeline: Timeline
    index: int = 0
    playing: bool = False
    speed: float | None = 1.0
    anchor_wall_s: float = 0.0  # loop time when position anchor_t_s was reached
    anchor_t_s: float = 0.0

    @property
    def t_s(self) -> float:
        if self.index < len(self.timeline.clock_s):
            return self.timeline.clock_s[self.index]
        return self.timeline.duration_s

    def due_in_s(self, now_s: float) -> float:
        if self.speed is None:
            return 0.0
        due_s = self.anchor_wall_s + (self.t_s - self.anchor_t_s) / self.speed
        return due_s - now_s

    def anchor(self, now_s: float, t_s: float) -> None:
        self.anchor_wall_s, self.anchor_t_s = now_s, t_s

    def state(self, *, reset: bool) -> str:
        ended = self.index >= len(self.timeline.texts)
        return ReplayStateMessage(
            t_s=self.t_s if not reset else self.anchor_t_s,
            state="ended" if ended else "playing" if self.playing else "paused",
            speed=self.speed,
            duration_s=self.timeline.duration_s,
            reset=reset,
            engine=engine_config_json(self.timeline.config),
        ).model_dump_json()


@router.websocket("/replay/{session_id}")
async def replay(websocket: WebSocket, session_id: str) -> None:
    """Replay a recorded session for a therapist or a reviewer link."""
    opened = await open_viewer(websocket, session_id, REPLAY_ROLES, "replay.watch")
    if opened is None:
        return
    access, _ = opened
    svc = services(websocket)
    svc.viewers.add(session_id, access.principal.actor, websocket)
    try:
        await _run(websocket, svc, access.session)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        svc.viewers.remove(session_id, websocket)


async def _run(websocket: WebSocket, svc: Services, session: SessionRow) -> None:
    inputs = await session_inputs(svc.store, session.id)
    participants = await svc.store.sessions.participants(session.id)
    setup = await stream_setup(svc.store, session, participants, svc.runtimes.cue_config)
    timeline = await asyncio.to_thread(build_timeline, inputs, session, EngineConfig(), setup)
    info = SessionInfo(
        seq=0,
        t_s=0.0,
        session_id=session.id,
        title=session.title,
        participants=[
            ParticipantInfo(id=p.id, role=p.role, name=p.display_name) for p in participants
        ],
    )
    await websocket.send_text(info.model_dump_json())
    player = _Player(timeline)
    await websocket.send_text(player.state(reset=True))

    async def rebuild(config: EngineConfig) -> Timeline:
        return await asyncio.to_thread(build_timeline, inputs, session, config, setup)

    commands: asyncio.Queue[str | bytes | None] = asyncio.Queue()
    reader = asyncio.create_task(_read_commands(websocket, commands))
    try:
        await _play(websocket, player, commands, rebuild)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _read_commands(websocket: WebSocket, commands: asyncio.Queue[str | bytes | None]) -> None:
    try:
        while True:
            await commands.put(await sockets.receive_frame(websocket))
    except WebSocketDisconnect:
        await commands.put(None)


Rebuild = Callable[[EngineConfig], Awaitable[Timeline]]


class _Tick(enum.Enum):
    DUE = "the next message is due"  # no command came before it


async def _play(
    websocket: WebSocket,
    player: _Player,
    commands: asyncio.Queue[str | bytes | None],
    rebuild: Rebuild,
) -> None:
    """Send the timeline's messages when they fall due, obeying commands in between."""
    loop = asyncio.get_running_loop()
    while True:
        if player.playing and player.index < len(player.timeline.texts):
            frame = await _command_within(commands, player.due_in_s(loop.time()))
        else:
            frame = await commands.get()
        if frame is None:
            return  # the browser went away
        if frame is not _Tick.DUE:
            await websocket.send_text(await _apply(player, frame, loop.time(), rebuild))
            continue
        await websocket.send_text(player.timeline.texts[player.index])
        player.index += 1
        if player.index == len(player.timeline.texts):
            player.playing = False
            await websocket.send_text(player.state(reset=False))
        elif player.speed is None and player.index % _YIELD_EVERY == 0:
            await asyncio.sleep(0)


async def _command_within(
    commands: asyncio.Queue[str | bytes | None], delay_s: float
) -> str | bytes | _Tick | None:
    """The next command if one comes within ``delay_s``, else ``_Tick.DUE``."""
    if delay_s <= 0:
        return _Tick.DUE if commands.empty() else commands.get_nowait()
    try:
        return await asyncio.wait_for(commands.get(), delay_s)
    except TimeoutError:
        return _Tick.DUE


async def _apply(player: _Player, frame: str | bytes, now_s: float, rebuild: Rebuild) -> str:
    """Carry out one command; returns the reply (a replay_state, or an error)."""
    try:
        command = replay_command.validate_json(frame)
        if isinstance(command, Analyse):
            config = engine_config(command.engine)
    except ValidationError as exc:
        return _error("invalid_command", f"invalid command: {exc.errors()[0]['msg']}")
    except ConfigError as exc:
        return _error("invalid_settings", str(exc))
    if isinstance(command, Play):
        restart = player.index >= len(player.timeline.texts)
        if restart:
            player.index = 0
        player.playing, player.speed = True, command.speed
        player.anchor(now_s, player.t_s)
        return player.state(reset=restart)
    if isinstance(command, Pause):
        player.playing = False
        return player.state(reset=False)
    t_s = command.t_s if isinstance(command, Seek) else player.t_s
    if isinstance(command, Analyse):
        player.timeline = await rebuild(config)
    player.index = player.timeline.index_at(t_s)
    player.anchor(now_s, t_s)
    return player.state(reset=True)


def _error(code: str, reason: str) -> str:
    return ErrorMessage(seq=0, t_s=0.0, code=code, reason=reason).model_dump_json()
