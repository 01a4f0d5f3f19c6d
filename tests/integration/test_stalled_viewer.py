"""A stalled dashboard (connected, reading nothing) does not hold up ingest or the other
dashboards. Publishing never waits, so ingest gets every ack and the readers every message in
order while the stalled viewer's socket buffers and queue fill up and its oldest droppable
messages go. (If anything waited for it, this test would hang, not pass.)"""

from __future__ import annotations

import asyncio
import json
import socket
import time

from websockets.asyncio.client import connect

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm
from tests.integration.test_ingest import auth, greeted

BATCHES = 50
BEATS_PER_BATCH = 250  # ~500 live messages a batch, ~8 MB in all: far past any socket buffer


def big_batch(seq: int, t0_s: float) -> str:
    payload = encode_hrm(HeartRateMeasurement(60, True, None, (1024,), True)).hex()
    notes = [
        {"received_at_s": t0_s + seq * BEATS_PER_BATCH + i, "payload_hex": payload}
        for i in range(BEATS_PER_BATCH)
    ]
    return json.dumps({"v": 1, "type": "batch", "seq": seq, "notifications": notes})


async def stalled_viewer(service, session):
    """A viewer that authenticates and then never reads, with a tiny receive buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(service.base_url.rsplit(":", 1)[1])))
    ws = await connect(
        f"{service.ws_url}/live/{session.id}",
        sock=sock,
        max_queue=1,
        additional_headers=session.therapist.ws_headers,
    )
    await ws.send(json.dumps({"type": "auth", "token": None, "after_seq": None}))
    return ws


async def test_a_stalled_dashboard_delays_neither_ingest_nor_the_others(service) -> None:
    session = await service.new_session()
    stalled = await stalled_viewer(service, session)
    readers = []
    for _ in range(2):
        reader = await connect(
            f"{service.ws_url}/live/{session.id}", additional_headers=session.therapist.ws_headers
        )
        await reader.send(json.dumps({"type": "auth", "token": None, "after_seq": None}))
        assert json.loads(await reader.recv())["type"] == "session"
        readers.append(reader)
    last_seq: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read_all(reader) -> list[int]:
        seqs: list[int] = []
        while not (last_seq.done() and seqs and seqs[-1] >= last_seq.result()):
            seqs.append(json.loads(await asyncio.wait_for(reader.recv(), 30))["seq"])
        return seqs

    reading = [asyncio.create_task(read_all(r)) for r in readers]
    t0_s = time.time()
    acks = []
    headers = auth(session.collector_tokens["client"])
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ingest:
        await greeted(ingest)
        for seq in range(BATCHES):
            await ingest.send(big_batch(seq, t0_s))
            acks.append(json.loads(await ingest.recv())["seq"])
    runtime = await service.services.runtimes.get(session.id)
    last_seq.set_result(runtime.stream.live_seq)
    got = await asyncio.gather(*reading)

    subscriptions = service.services.hub._channels[session.id].subscribers
    stalled_side = [s for s in subscriptions if s.dropped]
    assert acks == list(range(BATCHES))
    assert last_seq.result() > BATCHES * BEATS_PER_BATCH * 2  # a beat and metrics per beat
    for seqs in got:
        assert seqs == list(range(1, last_seq.result() + 1))  # every one, in order
    assert len(stalled_side) == 1  # only the stalled viewer lost anything
    assert stalled_side[0].pending == service.services.settings.subscriber_queue_messages
    for ws in (*readers, stalled):
        await ws.close()
