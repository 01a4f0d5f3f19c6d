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
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from attune.api.app import create_app
from attune.api.auth import COOKIE_NAME
from attune.api.inputs import calm_baseline, session_inputs, stream_setup
from attune.api.replay import build_timeline
from attune.cli.demo import play_therapist
from attune.cues.config import default_cue_config
from attune.errors import ConfigError
from attune.hrv.engine import EngineConfig
from attune.settings import Settings
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    Coupling,
    DyadSimulator,
    PersonPhase,
    PersonProfile,
    Phase,
    SessionScript,
    resonance_protocol_script,
    therapy_session,
)
from attune.sim import Role as SimRole
from tests.integration.conftest import PASSWORD, FakeClock, RunningService, running
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
    kinds = {c["kind"] for c in live_cues}
    # The client strap loses contact at 400 s: cues pause with a "signal lost" cue.
    assert {"client_arousal_rising", "client_recovering", "signal_lost"} <= kinds
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


BAD_PACER = [
    ({"breaths_per_min": 3.5}, "greater than or equal to 4"),
    ({"breaths_per_min": 7.5}, "less than or equal to 7"),
    ({"breaths_per_min": 5.2}, "multiple of 0.5"),
    ({"breaths_per_min": 6.0, "exhale_ratio": 0.5}, "greater than or equal to 1"),
    ({"breaths_per_min": 6.0, "exhale_ratio": 3.5}, "less than or equal to 3"),
    ({"exhale_ratio": 1.5}, "Field required"),
    ({"breaths_per_min": "six"}, "valid number"),
    ({"breaths_per_min": 6.0, "speed": 2}, "Extra inputs"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_PACER)
async def test_an_out_of_range_pacer_is_refused_and_changes_nothing(
    service: RunningService, body, reason
) -> None:
    session = await service.new_session()
    url = f"/api/sessions/{session.id}/pacer"
    response = await session.therapist.http.put(url, json=body)
    assert response.status_code == 422
    assert reason in response.text
    assert (await session.therapist.http.get(url)).json() == {"running": False} | dict.fromkeys(
        ("breaths_per_min", "exhale_ratio", "effective_s", "anchor_s", "source")
    )
    store = service.services.store
    assert await store.events.pacer_changes(session.id) == []
    assert await store.controls.of_session(session.id) == []


async def pacer_session(service: RunningService):
    """A session with a client view watching from the start."""
    session = await service.new_session()
    client = Viewer(await watch(service, session.id, token=await service.link(session, "client")))
    await client.wait_for(lambda m: m["type"] == "session")
    return session, client


async def test_the_pacer_is_set_changed_and_stopped_live_and_recorded(
    clocked_service: RunningService, clock: FakeClock
) -> None:
    service = clocked_service
    session, client = await pacer_session(service)
    http, url = session.therapist.http, f"/api/sessions/{session.id}/pacer"
    clock.now_s += 30.0
    started = await http.put(url, json={"breaths_per_min": 6.0, "exhale_ratio": 1.5})
    assert started.json() == {
        "running": True,
        "breaths_per_min": 6.0,
        "exhale_ratio": 1.5,
        "effective_s": 30.0,
        "anchor_s": 30.0,
        "source": "therapist",
    }
    clock.now_s += 25.0  # 55 s: the change waits for the end of the breath under way (60 s)
    changed = await http.put(url, json={"breaths_per_min": 5.0, "exhale_ratio": 2.0})
    assert (changed.json()["effective_s"], changed.json()["breaths_per_min"]) == (60.0, 5.0)
    clock.now_s += 20.0
    stopped = await http.delete(url)
    assert stopped.json()["running"] is False
    again = await http.delete(url)  # not running: nothing to stop, nothing recorded
    assert again.json()["running"] is False
    await client.wait_for(lambda m: m["type"] == "pacer" and m["change"] == "stopped")
    await client.close()
    changes = [
        (m["change"], m["breaths_per_min"], m["effective_s"]) for m in client.of_type("pacer")
    ]
    assert changes == [("started", 6.0, 30.0), ("changed", 5.0, 60.0), ("stopped", None, 75.0)]
    recorded = await service.services.store.events.pacer_changes(session.id)
    assert [(p.t_s, p.breaths_per_min, p.source) for p in recorded] == [
        (30.0, 6.0, "therapist"),
        (55.0, 5.0, "therapist"),
        (75.0, None, "therapist"),
    ]


async def test_the_client_view_setting_is_stored_published_and_given_to_late_viewers(
    service: RunningService,
) -> None:
    session, client = await pacer_session(service)
    http, url = session.therapist.http, f"/api/sessions/{session.id}/client-view"
    assert (await http.get(url)).json() == {"show_numbers": False}
    assert (await http.put(url, json={"show_numbers": "maybe"})).status_code == 422
    assert (await http.put(url, json={})).status_code == 422
    assert (await http.put(url, json={"show_numbers": True})).json() == {"show_numbers": True}
    await client.wait_for(lambda m: m["type"] == "client_view" and m["show_numbers"])
    await client.close()
    assert (await http.get(url)).json() == {"show_numbers": True}
    await http.put(
        f"/api/sessions/{session.id}/pacer", json={"breaths_per_min": 5.5, "exhale_ratio": 2.0}
    )
    late = await watch(service, session.id, token=await service.link(session, "client"))
    info = json.loads(await late.recv())
    await late.close()
    assert info["type"] == "session"
    assert info["show_numbers"] is True
    assert (info["pacer"]["breaths_per_min"], info["pacer"]["exhale_ratio"]) == (5.5, 2.0)


async def test_a_resonance_assessment_finds_the_rate_and_the_next_session_starts_there(
    clocked_service: RunningService, clock: FakeClock
) -> None:
    service = clocked_service
    session = await service.new_session()
    t0_s = clock.now_s
    http = session.therapist.http
    console = Viewer(await watch(service, session.id, headers=session.therapist.ws_headers))
    client = Viewer(await watch(service, session.id, token=await service.link(session, "client")))
    # A client whose resonance is at 5 breaths/min follows the assessment's pacer, step by
    # step after a quiet minute (the schedule the assessment sets: 2 minutes a step).
    person = PersonProfile(hr_bpm=72.0, resonance_bpm=5.0)
    protocol = resonance_protocol_script(lead_in_s=60.0, inhale_fraction=1 / 2.5)
    # The strap reads on after the last step: the last step is measured on a later beat.
    after = Phase("after", 30.0, PersonPhase(0.1), PersonPhase(0.2))
    script = SessionScript((*protocol.phases, after))
    feed = DyadFeed(DyadSimulator(script, client=person, seed=0), t0_s, roles=(SimRole.CLIENT,))
    await send(service.ws_url, session.collector_tokens, feed.until(60.0))
    clock.now_s = t0_s + 60.0
    started = await http.post(f"/api/sessions/{session.id}/resonance")
    assert started.status_code == 201, started.text
    assert (started.json()["state"], started.json()["breaths_per_min"]) == ("running", 6.5)
    refused = await http.post(f"/api/sessions/{session.id}/resonance")
    assert refused.status_code == 409
    await send(service.ws_url, session.collector_tokens, feed.until(script.duration_s))
    finished = await console.wait_for(
        lambda m: m["type"] == "resonance" and m["state"] == "finished"
    )
    await console.close()
    await client.close()

    rate = finished["resonance_bpm"]
    assert rate == pytest.approx(5.0, abs=0.5), finished["reason"]
    assert [s["breaths_per_min"] for s in finished["steps"]] == [6.5, 6.0, 5.5, 5.0, 4.5]
    assert all(s["valid"] for s in finished["steps"])
    state = (await http.get(f"/api/sessions/{session.id}/resonance")).json()
    assert (state["state"], state["resonance_bpm"]) == ("finished", rate)
    pacer_rates = [m["breaths_per_min"] for m in client.of_type("pacer")]
    assert pacer_rates == [6.5, 6.0, 5.5, 5.0, 4.5, None]
    assert {m["source"] for m in client.of_type("pacer")} == {"resonance-assessment"}
    assert not client.of_type("resonance"), "the assessment's figures are the therapist's"
    stored = await service.services.store.clients.get(session.client_id)
    assert stored.resonance_breaths_per_min == rate

    # The next session with this client starts its pacer at the client's resonance rate.
    created = await http.post(
        "/api/sessions", json={"client_id": session.client_id, "title": "Next session"}
    )
    next_id = created.json()["id"]
    assert (await http.post(f"/api/sessions/{next_id}/start")).status_code == 200
    pacer = (await http.get(f"/api/sessions/{next_id}/pacer")).json()
    assert (pacer["running"], pacer["breaths_per_min"], pacer["source"]) == (
        True,
        rate,
        "resonance",
    )


async def test_a_resonance_assessment_can_be_cancelled(service: RunningService) -> None:
    session = await service.new_session()
    http, url = session.therapist.http, f"/api/sessions/{session.id}/resonance"
    assert (await http.get(url)).status_code == 404
    assert (await http.delete(url)).status_code == 409
    assert (await http.post(url)).status_code == 201
    cancelled = await http.delete(url)
    assert cancelled.json()["state"] == "cancelled"
    pacer = (await http.get(f"/api/sessions/{session.id}/pacer")).json()
    assert pacer["running"] is False
    assert (await http.delete(url)).status_code == 409
    sources = [p.source for p in await service.services.store.events.pacer_changes(session.id)]
    assert sources == ["resonance-assessment", "resonance-assessment"]


async def test_a_therapist_setting_the_pacer_ends_an_assessment(service: RunningService) -> None:
    session = await service.new_session()
    http = session.therapist.http
    assert (await http.post(f"/api/sessions/{session.id}/resonance")).status_code == 201
    await http.put(f"/api/sessions/{session.id}/pacer", json={"breaths_per_min": 6.0})
    state = (await http.get(f"/api/sessions/{session.id}/resonance")).json()
    assert state["state"] == "cancelled"
    pacer = (await http.get(f"/api/sessions/{session.id}/pacer")).json()
    assert (pacer["breaths_per_min"], pacer["source"]) == (6.0, "therapist")


async def test_a_learnt_calm_baseline_is_stored_and_the_next_session_starts_from_it(
    clocked_service: RunningService, clock: FakeClock
) -> None:
    service = clocked_service
    session = await service.new_session()
    clients = service.services.store.clients
    assert await clients.baseline(session.client_id) is None
    feed = DyadFeed(dyad(seed=2), clock.now_s, roles=(SimRole.CLIENT,))
    await send(service.ws_url, session.collector_tokens, feed.until(240.0))
    stored = await clients.baseline(session.client_id)
    assert stored is not None
    baseline = calm_baseline(stored.value)
    assert baseline is not None
    assert 40.0 < baseline.hr_bpm < 120.0

    clock.now_s += 3600.0  # a week later, say: the next session with the same client
    http = session.therapist.http
    created = await http.post(
        "/api/sessions", json={"client_id": session.client_id, "title": "Next session"}
    )
    next_id = created.json()["id"]
    await http.post(f"/api/sessions/{next_id}/start")
    added = await http.post(
        f"/api/sessions/{next_id}/participants", json={"role": "client", "display_name": "C"}
    )
    token = added.json()["collector_token"]
    console = Viewer(await watch(service, next_id, headers=session.therapist.ws_headers))
    feed = DyadFeed(dyad(seed=3), clock.now_s, roles=(SimRole.CLIENT,))
    await send(service.ws_url, {"client": token}, feed.until(30.0))
    first = await console.wait_for(lambda m: m["type"] == "calm")
    await console.close()
    # Without a stored baseline the meter would spend its first 3 minutes learning one.
    assert first["state"] != "learning"
    assert first["baseline_progress"] == 1.0
    assert (await clients.baseline(session.client_id)) == stored  # not relearnt, not rewritten


async def test_the_clinics_cue_file_is_used_and_a_bad_one_stops_the_app(
    settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "cues.toml"
    good.write_text('[rules.client_arousal_rising]\ntext = "Slow down together."\n')
    async for service in running(settings.model_copy(update={"cues_file": good})):
        config = service.services.runtimes.cue_config
        assert config.client_arousal_rising.text == "Slow down together."
        assert config.attuned.text == default_cue_config().attuned.text  # the rest: defaults

    bad = tmp_path / "bad.toml"
    bad.write_text("[general]\nstale_after_s = -1.0\n")
    with pytest.raises(ConfigError, match="stale_after_s"):
        create_app(settings.model_copy(update={"cues_file": bad}))


def test_serve_with_a_bad_cue_file_says_why_and_exits(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[general]\nstale_after_s = -1.0\n")
    command = [sys.executable, "-m", "attune", "serve", "--port", "0", "--cues", str(bad)]
    result = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "stale_after_s" in result.stdout


async def test_controls_on_postgresql(pg_service: RunningService) -> None:
    session = await pg_service.new_session()
    http = session.therapist.http
    await http.put(f"/api/sessions/{session.id}/pacer", json={"breaths_per_min": 4.5})
    await http.put(f"/api/sessions/{session.id}/client-view", json={"show_numbers": True})
    assert (await http.post(f"/api/sessions/{session.id}/resonance")).status_code == 201
    store = pg_service.services.store
    kinds = [c.kind for c in await store.controls.of_session(session.id)]
    assert kinds == ["pacer", "client_view", "resonance_start"]
    assert await store.sessions.show_numbers(session.id) is True
    changes = await store.events.pacer_changes(session.id)
    assert [(p.breaths_per_min, p.source) for p in changes] == [
        (4.5, "therapist"),
        (6.5, "resonance-assessment"),
    ]


async def test_the_demo_therapist_sets_the_pacer_over_rest_at_grounding(
    clocked_service: RunningService, clock: FakeClock
) -> None:
    service = clocked_service
    therapist = await service.therapist()
    session = await service.new_session(therapist)
    origin_s = clock.now_s

    async def sleep(delay_s: float) -> None:
        clock.now_s += delay_s

    script = therapy_session()
    await play_therapist(
        service.base_url,
        session.id,
        therapist.username,
        PASSWORD,
        script,
        origin_s=origin_s,
        cycles=1,
        clock=clock,
        sleep=sleep,
    )
    grounding, recovery = script.phase_starts_s[3], script.phase_starts_s[5]
    changes = await service.services.store.events.pacer_changes(session.id)
    assert [(p.t_s, p.breaths_per_min, p.inhale_exhale_ratio, p.source) for p in changes] == [
        (grounding, 6.0, 1.5, "therapist"),
        (recovery, None, None, "therapist"),
    ]
