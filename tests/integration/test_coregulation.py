"""Co-regulation through the real service: a simulated dyad streams over the ingest websocket
into uvicorn on loopback with SQLite; the console and the client view watch live.

Synchrony, cues and the pacer reach the console; the client view gets the pacer and the cues
addressed to the client, never synchrony or therapist cues; every cue is recorded exactly once
across a restart (the runtime is rebuilt from the recording); replay shows the cues live
showed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Callable

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from attune.api.auth import COOKIE_NAME
from attune.api.inputs import session_inputs, stream_setup
from attune.api.replay import build_timeline
from attune.hrv.engine import EngineConfig
from attune.settings import Settings
from attune.sim import CLIENT_PROFILE, THERAPIST_PROFILE, Coupling, DyadSimulator, therapy_session
from attune.sim import Role as SimRole
from tests.integration.conftest import FakeClock, RunningService, running
from tests.integration.dyad_feed import DyadFeed, send
from tests.integration.test_live import watch

WAIT_S = 60.0  # a bound on waiting for a message, not a timing assertion

Message = dict[str, object]


class Viewer:
    """A live socket read in the background into ``seen``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Message] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                self.seen.append(json.loads(text))
                self._changed.set()

    async def wait_for(self, predicate: Callable[[Message], bool]) -> Message:
        async def found() -> Message:
            while True:
                for message in self.seen:
                    if predicate(message):
                        return message
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(found(), WAIT_S)

    async def close(self) -> None:
        await self.ws.close()
        await self._task

    def of_type(self, kind: str) -> list[Message]:
        return [m for m in self.seen if m["type"] == kind]

    @property
    def last_seq(self) -> int:
        return max(int(m["seq"]) for m in self.seen if m["type"] != "session")


async def start(settings: Settings, clock: FakeClock):
    """The service and a way to stop it (a restart keeps the data directory)."""
    server = running(settings, clock)
    service = await anext(server)

    async def stop() -> None:
        with contextlib.suppress(StopAsyncIteration):
            await anext(server)

    return service, stop


def dyad(seed: int = 1) -> DyadSimulator:
    return DyadSimulator(
        therapy_session(),
        THERAPIST_PROFILE,
        CLIENT_PROFILE,
        Coupling(SimRole.THERAPIST, lag_s=3.0, strength=0.7),
        seed=seed,
    )


async def viewers(service: RunningService, session, client_token: str, after_seq):
    console = await watch(
        service, session.id, headers=session.therapist.ws_headers, after_seq=after_seq
    )
    client = await watch(service, session.id, token=client_token, after_seq=after_seq)
    return Viewer(console), Viewer(client)


async def settle(service: RunningService, session, console: Viewer, client: Viewer) -> None:
    """Wait until both viewers have everything published so far: a client-view change
    published after the last input reaches both, in order."""
    http = session.therapist.http
    for show in (True, False):
        response = await http.put(
            f"/api/sessions/{session.id}/client-view", json={"show_numbers": show}
        )
        assert response.status_code == 200, response.text
    for viewer in (console, client):
        await viewer.wait_for(lambda m: m["type"] == "client_view" and not m["show_numbers"])


def check_live(live_cues: list[Message], console: Viewer, client: Viewer) -> Message:
    """What the console and the client view saw; returns the pacer message."""
    assert {"client_arousal_rising", "client_recovering"} <= {c["kind"] for c in live_cues}
    synchrony = console.of_type("synchrony")
    assert any(m["status"] == "ok" for m in synchrony)
    assert any(m["pacer_removed"] for m in synchrony), "synchrony knows the pacer"
    (pacer,) = console.of_type("pacer")
    assert (pacer["change"], pacer["breaths_per_min"], pacer["source"]) == (
        "started",
        6.0,
        "therapist",
    )
    # The client view: the pacer and the client's own cues, never synchrony or therapist cues.
    assert client.of_type("pacer") == [pacer]
    assert not client.of_type("synchrony")
    assert not client.of_type("beat")
    assert {m["audience"] for m in client.of_type("cue")} == {"client"}
    console_client_cues = [c for c in console.of_type("cue") if c["audience"] == "client"]
    assert client.of_type("cue") == console_client_cues
    return pacer


async def test_a_dyad_session_live_across_a_restart_and_in_replay(settings: Settings) -> None:
    clock = FakeClock()
    service, stop = await start(settings, clock)
    session = await service.new_session()
    t0_s = clock.now_s
    client_token = await service.link(session, "client")
    feed = DyadFeed(dyad(), t0_s)
    console, client = await viewers(service, session, client_token, None)
    # Baseline, conversation and the client's arousal, then a restart.
    clock.now_s = t0_s + 540.0
    await send(service.ws_url, session.collector_tokens, feed.until(540.0))
    await settle(service, session, console, client)
    before = [dict(m) for m in console.of_type("cue")]
    await console.close()
    await client.close()
    await stop()

    service, stop = await start(settings, clock)
    # The therapist's login is still valid (the same database), on the new server's port.
    http = httpx.AsyncClient(
        base_url=service.base_url, cookies={COOKIE_NAME: session.therapist.cookie}
    )
    session = dataclasses.replace(
        session, therapist=dataclasses.replace(session.therapist, http=http)
    )
    console, client = await viewers(service, session, client_token, None)
    await send(service.ws_url, session.collector_tokens, feed.until(660.0))
    # Grounding: the therapist starts the pacer, like the console's control does.
    clock.now_s = t0_s + 660.0
    response = await session.therapist.http.put(
        f"/api/sessions/{session.id}/pacer", json={"breaths_per_min": 6.0, "exhale_ratio": 1.5}
    )
    assert response.status_code == 200, response.text
    assert response.json()["running"] is True
    await send(service.ws_url, session.collector_tokens, feed.until(840.0))
    clock.now_s = t0_s + 840.0
    await settle(service, session, console, client)
    await console.close()
    await client.close()

    live_cues = before + console.of_type("cue")
    assert before, "cues fired before the restart"
    assert console.of_type("cue"), "and after it"
    pacer = check_live(live_cues, console, client)

    # Every cue shown is recorded once, the restart notwithstanding.
    store = service.services.store
    shown = await store.events.cues_shown(session.id)
    assert [(c.kind, c.t_s, c.audience) for c in shown] == [
        (c["kind"], c["t_s"], c["audience"]) for c in live_cues
    ]
    (change,) = await store.events.pacer_changes(session.id)
    assert (change.breaths_per_min, change.inhale_exhale_ratio, change.source) == (
        6.0,
        1.5,
        "therapist",
    )

    # Replay runs the recording through the same pipeline: the same cues, pacer included.
    session_row = await store.sessions.get(session.id)
    participants = await store.sessions.participants(session.id)
    setup = await stream_setup(store, session_row, participants)
    timeline = build_timeline(
        await session_inputs(store, session.id), session_row, EngineConfig(), setup
    )
    replayed = [json.loads(text) for text in timeline.texts]
    assert [m for m in replayed if m["type"] == "cue"] == live_cues
    assert [m for m in replayed if m["type"] == "pacer"] == [pacer]
    await http.aclose()
    await stop()
