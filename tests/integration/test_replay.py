"""Replay and re-analysis of a recorded session through the same stream as live."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from tests.integration.test_ingest import batch
from tests.integration.test_live import link_event, read_until, stream, watch

BEATS = 40
LATE_SEQ = 20  # the client's batch that arrives last: recorded, never shown live


async def recorded_session(service):
    """Both straps streaming 40 one-beat notifications, the client's 20th arriving after all
    the others, and a marker."""
    session = await service.new_session()
    t0_s = time.time()  # session time zero is about now
    for role, rr in (("therapist", 1000), ("client", 800)):
        batches = {i: batch(i, t0_s + (i * rr) / 1024, rr=rr) for i in range(1, BEATS + 1)}
        order = list(batches)
        if role == "client":
            order.remove(LATE_SEQ)
            order.append(LATE_SEQ)
        messages = [link_event(0, t0_s, "streaming"), *(batches[i] for i in order)]
        await stream(service, session.collector_tokens[role], messages)
    response = await session.therapist.http.post(
        f"/api/sessions/{session.id}/markers", json={"text": "breathing together"}
    )
    assert response.status_code == 201
    return session


async def live_history(service, session) -> list[dict]:
    """Everything the therapist's live view was sent, from the resume buffer."""
    live = await watch(service, session.id, headers=session.therapist.ws_headers)
    last_seq = json.loads(await live.recv())["seq"]
    messages = await read_until(live, lambda m: m["seq"] == last_seq)
    await live.close()
    return messages


async def open_replay(service, session, *, token=None):
    headers = {} if token else session.therapist.ws_headers
    ws = await connect(f"{service.ws_url}/replay/{session.id}", additional_headers=headers)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    info = json.loads(await ws.recv())
    state = json.loads(await ws.recv())
    return ws, info, state


async def command(ws, **message) -> dict:
    """Send a command and return its reply (skipping stream messages still in flight)."""
    await ws.send(json.dumps(message))
    return (await read_until(ws, lambda m: m["type"] in {"replay_state", "error"}))[-1]


async def play_to_end(ws, speed=None) -> list[dict]:
    await ws.send(json.dumps({"type": "play", "speed": speed}))
    seen = await read_until(ws, lambda m: m["type"] == "replay_state" and m["state"] == "ended")
    assert seen[0] == {**seen[0], "type": "replay_state", "state": "playing", "speed": speed}
    return seen[1:-1]


async def test_a_replay_reproduces_what_was_shown_live(service) -> None:
    session = await recorded_session(service)
    live = await live_history(service, session)
    ws, info, state = await open_replay(service, session)
    assert info["type"] == "session"
    assert {p["role"] for p in info["participants"]} == {"therapist", "client"}
    assert (state["state"], state["t_s"], state["reset"]) == ("paused", 0.0, True)
    assert state["duration_s"] == max(m["t_s"] for m in live)
    replayed = await play_to_end(ws)
    await ws.close()
    assert replayed == live
    assert {m["type"] for m in replayed} >= {"beat", "metrics", "link", "marker"}


async def test_seek_restarts_the_stream_at_a_session_time(service) -> None:
    session = await recorded_session(service)
    ws, _, state = await open_replay(service, session)
    everything = await play_to_end(ws)
    middle_s = state["duration_s"] / 2
    reply = await command(ws, type="seek", t_s=middle_s)
    assert (reply["state"], reply["t_s"], reply["reset"]) == ("paused", middle_s, True)
    rest = await play_to_end(ws)
    await ws.close()
    start = next(i for i, m in enumerate(everything) if m["seq"] == rest[0]["seq"])
    assert rest == everything[start:]
    assert 0 < start < len(everything)
    assert all(m["t_s"] < middle_s for m in everything[: start - 1] if m["type"] == "beat")


async def test_pause_replies_and_play_at_a_speed_is_reported(service) -> None:
    session = await recorded_session(service)
    ws, _, _ = await open_replay(service, session)
    playing = await command(ws, type="play", speed=64)
    assert (playing["state"], playing["speed"], playing["reset"]) == ("playing", 64, False)
    paused = await command(ws, type="pause")
    assert (paused["state"], paused["reset"]) == ("paused", False)
    too_fast = await command(ws, type="play", speed=65)
    assert (too_fast["type"], too_fast["code"]) == ("error", "invalid_command")
    await ws.close()


async def test_reanalysis_with_a_shorter_window_changes_the_metrics(service) -> None:
    session = await recorded_session(service)
    ws, _, _ = await open_replay(service, session)
    default = [m for m in await play_to_end(ws) if m["type"] == "metrics"]
    reply = await command(ws, type="analyse", engine={"window_s": 10.0})
    assert (reply["reset"], reply["engine"]["window_s"]) == (True, 10.0)
    await command(ws, type="seek", t_s=0.0)
    short = [m for m in await play_to_end(ws) if m["type"] == "metrics"]
    unknown = await command(ws, type="analyse", engine={"no_such_setting": 1})
    await ws.close()
    assert (unknown["type"], unknown["code"]) == ("error", "invalid_settings")
    assert len(short) == len(default)
    assert max(m["window_s"] for m in short) <= 10.0
    assert max(m["window_s"] for m in default) > 30.0


async def test_reviewer_links_replay_and_client_links_do_not(service) -> None:
    session = await recorded_session(service)
    ws, info, _ = await open_replay(service, session, token=await service.link(session, "reviewer"))
    assert info["type"] == "session"
    assert len(await play_to_end(ws)) > BEATS
    await ws.close()
    client = await connect(f"{service.ws_url}/replay/{session.id}")
    await client.send(json.dumps({"type": "auth", "token": await service.link(session, "client")}))
    error = json.loads(await asyncio.wait_for(client.recv(), 5))
    assert (error["type"], error["code"]) == ("error", "forbidden")
    await client.close()


@pytest.mark.parametrize("include_late", [True, False])
async def test_rest_reanalysis(service, include_late) -> None:
    session = await recorded_session(service)
    http = session.therapist.http
    url = f"/api/sessions/{session.id}/analysis"
    default = (await http.post(url, json={"include_late": include_late})).json()
    short = (await http.post(url, json={"engine": {"window_s": 10}})).json()
    assert default["engine"]["window_s"] == 60.0
    assert short["engine"]["window_s"] == 10.0
    by_role = {p["role"]: p for p in default["participants"]}
    assert by_role["therapist"]["beats_n"] == BEATS
    client_beats = BEATS if include_late else BEATS - 1
    assert by_role["client"]["beats_n"] == client_beats
    assert len(by_role["client"]["metrics"]) == client_beats
    assert max(m["window_s"] for p in short["participants"] for m in p["metrics"]) <= 10.0
    for engine in ({"window_s": "long"}, {"no_such_setting": 1}):
        refused = await http.post(url, json={"engine": engine})
        assert refused.status_code == 422, engine
