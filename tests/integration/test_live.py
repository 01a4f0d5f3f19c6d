"""The live websocket: first-message auth, per-session tokens, Origin check, resume."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm
from tests.integration.test_ingest import auth, greeted


async def stream_beats(service, token: str, n: int, start_s: float) -> None:
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        await greeted(ws)
        for i in range(n):
            payload = encode_hrm(HeartRateMeasurement(60, True, None, (1024,), True))
            note = {"received_at_s": start_s + i, "payload_hex": payload.hex()}
            await ws.send(json.dumps({"v": 1, "type": "batch", "seq": i, "notifications": [note]}))
            assert json.loads(await ws.recv())["type"] == "ack"


async def read_until(ws, predicate, limit: int = 200) -> list[dict]:
    seen = []
    for _ in range(limit):
        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
        seen.append(msg)
        if predicate(msg):
            return seen
    raise AssertionError(f"no matching message in {limit}")


async def test_therapist_sees_session_beats_and_metrics(service) -> None:
    session_id, tokens = await service.new_session()
    view = service.services.view_tokens.issue(session_id, "therapist")
    async with connect(f"{service.ws_url}/live/{session_id}") as live:
        await live.send(json.dumps({"type": "auth", "token": view, "after_seq": None}))
        info = json.loads(await live.recv())
        assert info["type"] == "session"
        assert sorted(p["role"] for p in info["participants"]) == ["client", "therapist"]
        await stream_beats(service, tokens["client"], 5, start_s=info["t_s"] + 1e9)
        seen = await read_until(live, lambda m: m["type"] == "metrics" and m["n_beats"] >= 3)
    beats = [m for m in seen if m["type"] == "beat"]
    assert beats
    assert all(m["hr_bpm"] == 60.0 for m in beats)
    seqs = [m["seq"] for m in seen]
    assert seqs == sorted(set(seqs))


async def test_resume_after_seq_gets_only_newer_messages(service) -> None:
    session_id, tokens = await service.new_session()
    await stream_beats(service, tokens["therapist"], 6, start_s=1e9)
    view = service.services.view_tokens.issue(session_id, "therapist")
    async with connect(f"{service.ws_url}/live/{session_id}") as live:
        await live.send(json.dumps({"type": "auth", "token": view, "after_seq": 4}))
        assert json.loads(await live.recv())["type"] == "session"
        first = json.loads(await live.recv())
    assert first["seq"] == 5


async def test_wrong_or_foreign_tokens_are_refused(service) -> None:
    session_a, _ = await service.new_session()
    session_b, _ = await service.new_session()
    foreign = service.services.view_tokens.issue(session_b, "therapist")
    for token, reason in (("forged", "invalid view token"), (foreign, "another session")):
        async with connect(f"{service.ws_url}/live/{session_a}") as live:
            await live.send(json.dumps({"type": "auth", "token": token, "after_seq": None}))
            error = json.loads(await live.recv())
            assert error["type"] == "error"
            assert error["code"] == "unauthorized"
            assert reason in error["reason"]
            await live.wait_closed()
            assert live.close_code == 1008


async def test_cross_origin_pages_are_refused(service) -> None:
    session_id, _ = await service.new_session()
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{service.ws_url}/live/{session_id}", origin="http://evil.example"):
            pass
    assert info.value.response.status_code == 403


async def test_healthz(service) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{service.base_url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
