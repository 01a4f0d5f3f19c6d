"""The ingest websocket against a real uvicorn: auth, acks after commit, idempotency, and
clear errors for bad messages that keep the connection and its other data."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm

HELLO = {"v": 1, "type": "hello", "collector": "test", "sensor": {"name": "H10", "address": "x"}}


def batch(seq: int, t_s: float = 1000.0, rr: int = 1024) -> str:
    payload = encode_hrm(HeartRateMeasurement(60, contact=True, rr_1024=(rr,), rr_present=True))
    return json.dumps(
        {
            "v": 1,
            "type": "batch",
            "seq": seq,
            "notifications": [{"received_at_s": t_s, "payload_hex": payload.hex()}],
        }
    )


async def greeted(ws) -> dict:
    await ws.send(json.dumps(HELLO))
    return json.loads(await ws.recv())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_unknown_token_is_refused_at_the_handshake(service) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{service.ws_url}/ingest", additional_headers=auth("nope")):
            pass
    assert info.value.response.status_code == 403


async def test_hello_then_batches_are_acked_and_recorded_once(service) -> None:
    session_id, tokens = await service.new_session()
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(tokens["client"])) as ws:
        welcome = await greeted(ws)
        assert welcome["type"] == "welcome"
        assert welcome["session_id"] == session_id
        assert welcome["last_seq"] is None
        for seq in (0, 1, 1, 0, 2):  # resends after a lost ack are harmless
            await ws.send(batch(seq, 1000.0 + seq))
            assert json.loads(await ws.recv()) == {"v": 1, "type": "ack", "seq": seq}
    recorded = await service.services.recording.recorded_input(session_id)
    assert [r.seq for r in recorded] == [0, 1, 2]
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(tokens["client"])) as ws:
        assert (await greeted(ws))["last_seq"] == 2


@pytest.mark.parametrize(
    ("message", "code", "reason_part"),
    [
        ("not json", "invalid_message", "invalid message"),
        ('{"v": 2, "type": "batch"}', "invalid_message", "v"),
        ('{"v": 1, "type": "teleport", "seq": 1}', "invalid_message", "type"),
        (
            batch(5).replace('"payload_hex": "', '"payload_hex": "zz'),
            "invalid_message",
            "payload_hex",
        ),
        (batch(6, t_s=-1.0), "invalid_message", "received_at_s"),
        (batch(-1), "invalid_message", "seq"),
        (
            json.dumps({"v": 1, "type": "battery", "seq": 7, "at_s": 5.0, "level_pct": 101}),
            "invalid_message",
            "level_pct",
        ),
        (
            '{"v": 1, "type": "batch", "seq": 8, "notifications": [], "x": ' + '"a"' + "}",
            "invalid_message",
            "notifications",
        ),
        (batch(9)[:-1] + ', "pad": "' + "x" * 70_000 + '"}', "too_large", "larger than"),
    ],
)
async def test_bad_messages_get_a_reason_and_lose_nothing(
    service, message, code, reason_part
) -> None:
    session_id, tokens = await service.new_session()
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(tokens["client"])) as ws:
        await greeted(ws)
        await ws.send(batch(0))
        assert json.loads(await ws.recv())["type"] == "ack"
        await ws.send(message)
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        assert error["code"] == code
        assert reason_part in error["reason"]
        await ws.send(batch(100, 1001.0))  # the connection carries on
        assert json.loads(await ws.recv()) == {"v": 1, "type": "ack", "seq": 100}
    recorded = await service.services.recording.recorded_input(session_id)
    assert [r.seq for r in recorded] == [0, 100]


async def test_data_before_hello_is_refused(service) -> None:
    _, tokens = await service.new_session()
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(tokens["client"])) as ws:
        await ws.send(batch(0))
        error = json.loads(await ws.recv())
        assert (error["code"], error["reason"], error["seq"]) == (
            "invalid_message",
            "send hello first",
            0,
        )
