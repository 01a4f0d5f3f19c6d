"""The ingest websocket against a real uvicorn: auth, acks after commit, idempotency, the
defined outcome of every kind of bad or out-of-order message, and that nothing else is lost."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

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


async def recorded(service, session_id: str) -> list[tuple[int, bool]]:
    """(seq, live) of every recorded collector message, in input order."""
    inputs = await service.services.store.recording.collector_inputs(session_id)
    return [(i.seq, i.live) for i in inputs]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [({}, "a collector token is required"), (auth("nope"), "unknown collector token")],
)
async def test_missing_or_unknown_tokens_are_refused_at_the_handshake(
    service, headers, detail
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{service.ws_url}/ingest", additional_headers=headers):
            pass
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body)["detail"] == detail


async def test_hello_then_batches_are_acked_and_recorded_once(service) -> None:
    session = await service.new_session()
    token = session.collector_tokens["client"]
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        welcome = await greeted(ws)
        assert welcome["type"] == "welcome"
        assert welcome["session_id"] == session.id
        assert welcome["participant_id"] == session.participant_ids["client"]
        assert welcome["last_seq"] is None
        for seq in (0, 1, 1, 0, 2):  # resends after a lost ack are harmless
            await ws.send(batch(seq, 1000.0 + seq))
            assert json.loads(await ws.recv()) == {"v": 1, "type": "ack", "seq": seq}
    assert await recorded(service, session.id) == [(0, True), (1, True), (2, True)]
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        assert (await greeted(ws))["last_seq"] == 2  # the resume point


BAD_MESSAGES = [
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
    # Fewer characters than the limit, more bytes (three each in UTF-8).
    (batch(11)[:-1] + ', "pad": "' + "\u20ac" * 22_000 + '"}', "too_large", "larger than"),
    (batch(10).encode(), "invalid_message", "binary frames"),
]


@pytest.mark.parametrize(("message", "code", "reason_part"), BAD_MESSAGES)
async def test_bad_messages_get_a_reason_and_lose_nothing(
    service, message, code, reason_part
) -> None:
    session = await service.new_session()
    token = session.collector_tokens["client"]
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
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
    assert await recorded(service, session.id) == [(0, True), (100, True)]


async def test_data_before_hello_is_refused_and_the_connection_carries_on(service) -> None:
    session = await service.new_session()
    token = session.collector_tokens["client"]
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        await ws.send(batch(0))
        error = json.loads(await ws.recv())
        assert (error["code"], error["reason"], error["seq"]) == (
            "hello_required",
            "send hello first",
            0,
        )
        await greeted(ws)
        await ws.send(batch(0))
        assert json.loads(await ws.recv())["type"] == "ack"
    assert await recorded(service, session.id) == [(0, True)]


async def test_a_frame_over_the_server_limit_closes_with_1009_and_keeps_what_was_acked(
    service,
) -> None:
    session = await service.new_session()
    token = session.collector_tokens["client"]
    async with connect(
        f"{service.ws_url}/ingest", additional_headers=auth(token), max_size=None
    ) as ws:
        await greeted(ws)
        await ws.send(batch(0))
        assert json.loads(await ws.recv())["type"] == "ack"
        await ws.send("x" * (2 << 20))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1009
    assert await recorded(service, session.id) == [(0, True)]


async def test_out_of_order_messages_are_recorded_but_not_shown_live(service) -> None:
    """A seq below one already received is late: acked and recorded exactly once, never fed
    to the live pipeline (it would show stale values); later seqs flow as usual."""
    session = await service.new_session()
    token = session.collector_tokens["client"]
    viewer = {"type": "auth", "token": None, "after_seq": 0}
    live_url = f"{service.ws_url}/live/{session.id}"
    # 2 arrives after 3; 5 and 6 let the artefact screen (two beats of look-ahead) decide 4.
    order = [0, 1, 3, 2, 4, 5, 6]
    rr_of = {seq: 900 + 10 * seq for seq in order}
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        await greeted(ws)
        for seq in order:
            await ws.send(batch(seq, 1000.0 + seq, rr=rr_of[seq]))
            assert json.loads(await ws.recv()) == {"v": 1, "type": "ack", "seq": seq}
    assert await recorded(service, session.id) == [
        (0, True),
        (1, True),
        (3, True),
        (2, False),
        (4, True),
        (5, True),
        (6, True),
    ]
    async with connect(live_url, additional_headers=session.therapist.ws_headers) as live:
        await live.send(json.dumps(viewer))
        assert json.loads(await live.recv())["type"] == "session"
        shown_rr = set()
        while len(shown_rr) < 4:
            message = json.loads(await asyncio.wait_for(live.recv(), 5))
            if message["type"] == "beat":
                shown_rr.add(round(message["rr_ms"] * 1024 / 1000))
    assert shown_rr == {rr_of[0], rr_of[1], rr_of[3], rr_of[4]}


async def test_a_reused_seq_with_other_content_is_a_conflict(service) -> None:
    session = await service.new_session()
    token = session.collector_tokens["client"]
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        await greeted(ws)
        await ws.send(batch(0, 1000.0, rr=1000))
        assert json.loads(await ws.recv())["type"] == "ack"
        await ws.send(batch(0, 1000.0, rr=800))  # a collector that lost its numbering
        error = json.loads(await ws.recv())
        assert (error["code"], error["seq"]) == ("seq_conflict", 0)
        assert "welcome.last_seq" in error["reason"]
    inputs = await service.services.store.recording.collector_inputs(session.id)
    assert [i.message.notifications[0].payload_hex for i in inputs] == [
        encode_hrm(HeartRateMeasurement(60, True, None, (1000,), True)).hex()
    ]


async def test_a_message_whose_input_number_is_taken_is_sent_again_after_a_rebuild(
    service,
) -> None:
    """Another instance recorded the session's next input (scale-out): the message that
    clashes closes the connection unacknowledged, and sent again it is recorded after it."""
    session = await service.new_session()
    runtime = await service.services.runtimes.get(session.id)
    await service.services.store.recording.add_marker(
        session.id,
        input_no=runtime.next_input_no,
        t_s=1.0,
        text="recorded elsewhere",
        author_id=None,
        now_s=time.time(),
    )
    headers = auth(session.collector_tokens["client"])
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ws:
        await greeted(ws)
        await ws.send(batch(0))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ws:
        assert (await greeted(ws))["last_seq"] is None  # nothing was recorded
        await ws.send(batch(0))
        assert json.loads(await ws.recv()) == {"v": 1, "type": "ack", "seq": 0}
    inputs = await service.services.store.recording.inputs(session.id)
    assert [i.input_no for i in inputs] == [runtime.next_input_no, runtime.next_input_no + 1]


async def test_data_stamped_after_the_session_end_is_refused(service) -> None:
    session = await service.new_session()
    token = session.collector_tokens["client"]
    stopped = await session.therapist.http.post(f"/api/sessions/{session.id}/stop")
    ended_at_s = stopped.json()["ended_at_s"]
    grace_s = service.services.settings.session_end_grace_s
    async with connect(f"{service.ws_url}/ingest", additional_headers=auth(token)) as ws:
        await greeted(ws)
        await ws.send(batch(0, ended_at_s - 5.0))  # backlog from before the end: kept
        assert json.loads(await ws.recv())["type"] == "ack"
        await ws.send(batch(1, ended_at_s + grace_s + 1.0))
        error = json.loads(await ws.recv())
        assert (error["code"], error["seq"]) == ("session_ended", 1)
    assert await recorded(service, session.id) == [(0, True)]


async def test_a_newer_connection_replaces_an_older_one(service) -> None:
    session = await service.new_session()
    headers = auth(session.collector_tokens["client"])
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as old:
        await greeted(old)
        async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as new:
            await greeted(new)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(old.recv(), 5)
            assert old.close_code == 4409
            await new.send(batch(0))
            assert json.loads(await new.recv())["type"] == "ack"


async def test_erasing_the_client_closes_the_collector_with_4404(service) -> None:
    session = await service.new_session()
    headers = auth(session.collector_tokens["client"])
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ws:
        await greeted(ws)
        await ws.send(batch(0))
        assert json.loads(await ws.recv())["type"] == "ack"
        erased = await session.therapist.http.delete(f"/api/clients/{session.client_id}")
        assert erased.status_code == 200
        await ws.send(batch(1))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 4404
    assert await recorded(service, session.id) == []


async def test_ingest_on_postgresql(pg_service) -> None:
    session = await pg_service.new_session()
    headers = auth(session.collector_tokens["therapist"])
    t0 = time.time()
    async with connect(f"{pg_service.ws_url}/ingest", additional_headers=headers) as ws:
        await greeted(ws)
        for seq in (0, 1, 1, 2):
            await ws.send(batch(seq, t0 + seq))
            assert json.loads(await ws.recv()) == {"v": 1, "type": "ack", "seq": seq}
    assert await recorded(pg_service, session.id) == [(0, True), (1, True), (2, True)]
