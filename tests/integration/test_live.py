"""The live websocket: first-message auth by role, what each role sees, Origin check, resume
(also across a restart), and link revocation."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm
from tests.integration.conftest import running
from tests.integration.test_ingest import auth, greeted

T0_S = 1.9e9  # collector clock of the test data (any fixed time works)


def note_batch(seq: int, t_s: float, *, contact: bool = True, rr: int = 1024) -> str:
    rr_1024 = (rr,) if contact else ()
    payload = encode_hrm(HeartRateMeasurement(60, contact, None, rr_1024, contact))
    note = {"received_at_s": t_s, "payload_hex": payload.hex()}
    return json.dumps({"v": 1, "type": "batch", "seq": seq, "notifications": [note]})


def link_event(seq: int, t_s: float, state: str) -> str:
    return json.dumps({"v": 1, "type": "link", "seq": seq, "at_s": t_s, "state": state})


async def stream(service, token: str, messages: list[str]) -> None:
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        await greeted(ws)
        for message in messages:
            await ws.send(message)
            assert json.loads(await ws.recv())["type"] == "ack"


def strap_session(first_seq: int = 0, n: int = 8, t0_s: float = T0_S) -> list[str]:
    """Streaming, beats, a contact loss and its recovery: every kind of message."""
    beats = [note_batch(first_seq + 1 + i, t0_s + 1 + i, contact=i != n // 2) for i in range(n)]
    return [link_event(first_seq, t0_s, "streaming"), *beats]


async def watch(service, session_id: str, *, token=None, headers=None, after_seq=0):
    ws = await connect(f"{service.ws_url}/live/{session_id}", additional_headers=headers or {})
    await ws.send(json.dumps({"type": "auth", "token": token, "after_seq": after_seq}))
    return ws


async def read_until(ws, predicate, limit: int = 500) -> list[dict]:
    seen = []
    for _ in range(limit):
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"no matching message in {limit}")


async def test_therapist_sees_beats_and_metrics_in_seq_order(service) -> None:
    session = await service.new_session()
    live = await watch(service, session.id, headers=session.therapist.ws_headers, after_seq=None)
    info = json.loads(await live.recv())
    assert info["type"] == "session"
    assert sorted(p["role"] for p in info["participants"]) == ["client", "therapist"]
    # Beats come out once the artefact screen has seen the two after them.
    await stream(service, session.collector_tokens["client"], strap_session(n=8))
    seen = await read_until(live, lambda m: m["type"] == "metrics" and m["n_beats"] >= 3)
    await live.close()
    beats = [m for m in seen if m["type"] == "beat"]
    assert beats
    assert all(m["hr_bpm"] == 60.0 for m in beats)
    seqs = [m["seq"] for m in seen]
    assert seqs == sorted(set(seqs))


async def test_the_client_view_gets_only_its_own_signal_state(service) -> None:
    """The client link sees what audiences.LIVE_DELIVERY allows it and nothing else: its own
    strap's link, quality and calm index, never the therapist's data, beats, metrics or
    markers."""
    session = await service.new_session()
    await stream(service, session.collector_tokens["therapist"], strap_session())
    await stream(service, session.collector_tokens["client"], strap_session())
    marked = await session.therapist.http.post(
        f"/api/sessions/{session.id}/markers", json={"text": "client looks tense"}
    )
    assert marked.status_code == 201
    client_id = session.participant_ids["client"]

    therapist_view = await watch(service, session.id, headers=session.therapist.ws_headers)
    client_view = await watch(service, session.id, token=await service.link(session, "client"))
    client_info = json.loads(await client_view.recv())
    assert client_info["type"] == "session"
    assert [p["id"] for p in client_info["participants"]] == [client_id]
    sentinel = link_event(100, T0_S + 50, "stopped")  # the client's last message
    await stream(service, session.collector_tokens["client"], [sentinel])

    def is_sentinel(m):
        return m["type"] == "link" and m["state"] == "stopped"

    assert json.loads(await therapist_view.recv())["type"] == "session"
    everything = await read_until(therapist_view, is_sentinel)
    got = await read_until(client_view, is_sentinel)
    await therapist_view.close()
    await client_view.close()

    assert {m["type"] for m in everything} >= {"beat", "metrics", "quality", "link", "marker"}
    allowed = [
        m
        for m in everything
        if m.get("participant") == client_id and m["type"] in {"quality", "link", "calm"}
    ]
    assert got == allowed
    assert {m["type"] for m in got} == {"quality", "link", "calm"}


async def test_resume_after_seq_gets_only_newer_messages(service) -> None:
    session = await service.new_session()
    await stream(service, session.collector_tokens["therapist"], strap_session())
    live = await watch(service, session.id, headers=session.therapist.ws_headers, after_seq=4)
    assert json.loads(await live.recv())["type"] == "session"
    first = json.loads(await live.recv())
    await live.close()
    assert first["seq"] == 5


async def test_resume_works_across_a_restart(settings) -> None:
    """After a restart the recording is replayed into the same stream, so the same seq
    numbers name the same messages and the resume buffer holds them again."""
    before = {}
    async for service in running(settings):
        session = await service.new_session()
        await stream(service, session.collector_tokens["client"], strap_session(n=6))
        live = await watch(service, session.id, headers=session.therapist.ws_headers)
        last_seq = json.loads(await live.recv())["seq"]
        while len(before) < last_seq:
            message = json.loads(await asyncio.wait_for(live.recv(), 5))
            before[message["seq"]] = message
        await live.close()
    async for service in running(settings):
        cookie = session.therapist.ws_headers  # the login survives the restart
        live = await watch(service, session.id, headers=cookie, after_seq=last_seq - 5)
        info = json.loads(await live.recv())
        assert info["seq"] == last_seq
        after = [json.loads(await asyncio.wait_for(live.recv(), 5)) for _ in range(5)]
        await live.close()
    assert after == [before[seq] for seq in range(last_seq - 4, last_seq + 1)]


async def test_reviewers_get_nothing_live(service) -> None:
    session = await service.new_session()
    live = await watch(service, session.id, token=await service.link(session, "reviewer"))
    error = json.loads(await live.recv())
    assert (error["type"], error["code"]) == ("error", "forbidden")
    with pytest.raises(ConnectionClosed):
        await live.recv()
    assert live.close_code == 1008


async def test_wrong_or_foreign_credentials_are_refused(service) -> None:
    session = await service.new_session()
    other = await service.new_session()  # another therapist's session
    foreign_link = await service.link(other, "client")
    cases = [
        ({"token": None}, "unauthorized", "sign in"),
        ({"token": "forged"}, "unauthorized", "invalid view link"),
        ({"token": foreign_link}, "forbidden", "another session"),
        ({"headers": other.therapist.ws_headers}, "not_found", "no session"),
    ]
    for kwargs, code, reason in cases:
        live = await watch(service, session.id, **kwargs)
        error = json.loads(await live.recv())
        assert (error["type"], error["code"]) == ("error", code)
        assert reason in error["reason"]
        with pytest.raises(ConnectionClosed):
            await live.recv()
        assert live.close_code == 1008


async def test_a_garbled_first_message_is_refused(service) -> None:
    session = await service.new_session()
    async with connect(f"{service.ws_url}/live/{session.id}") as live:
        await live.send("hello?")
        error = json.loads(await live.recv())
    assert error["code"] == "unauthorized"
    assert "first message" in error["reason"]


async def test_cross_origin_pages_are_refused(service) -> None:
    session = await service.new_session()
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            f"{service.ws_url}/live/{session.id}",
            origin="http://evil.example",
            additional_headers=session.therapist.ws_headers,
        ):
            pass
    assert info.value.response.status_code == 403


async def test_revoking_a_link_closes_its_socket(service) -> None:
    session = await service.new_session()
    response = await session.therapist.http.post(
        f"/api/sessions/{session.id}/links", json={"role": "client"}
    )
    link = response.json()
    live = await watch(service, session.id, token=link["token"])
    assert json.loads(await live.recv())["type"] == "session"
    revoked = await session.therapist.http.delete(f"/api/sessions/{session.id}/links/{link['id']}")
    assert revoked.json()["revoked_at_s"] is not None
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(live.recv(), 5)
    assert live.close_code == 4403
    again = await watch(service, session.id, token=link["token"])
    assert json.loads(await again.recv())["reason"] == "this link was revoked or has expired"
    await again.close()


async def test_a_session_watched_before_its_start_times_beats_from_the_start(
    clocked_service, clock
) -> None:
    """A console opened on a created, not yet started session loads its runtime with the
    creation as time zero; the start moves time zero, and live beats count from it (as a
    rebuild from the recording would)."""
    service = clocked_service
    therapist = await service.therapist()
    http = therapist.http
    client = await http.post("/api/clients", json={"pseudonym": "C-early", "display_name": "C"})
    created = await http.post(
        "/api/sessions", json={"client_id": client.json()["id"], "title": "Watched early"}
    )
    session_id = created.json()["id"]
    added = await http.post(
        f"/api/sessions/{session_id}/participants", json={"role": "client", "display_name": "C"}
    )
    token = added.json()["collector_token"]
    live = await watch(service, session_id, headers=therapist.ws_headers, after_seq=None)
    assert json.loads(await live.recv())["type"] == "session"
    clock.now_s += 300.0  # the therapist waits five minutes, then starts
    assert (await http.post(f"/api/sessions/{session_id}/start")).status_code == 200
    start_s = clock.now_s
    await stream(service, token, strap_session(n=8, t0_s=start_s))
    seen = await read_until(live, lambda m: m["type"] == "beat")
    await live.close()
    beat = seen[-1]
    assert 0.0 < beat["t_s"] < 10.0, beat  # not 300 s late
