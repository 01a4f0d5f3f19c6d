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
BEATS_PER_BATCH = 250  # ~750 live messages a batch, over 8 MB in all: far past any socket buffer


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
    runtime = await service.services.runtimes.get(session.id)
    got: list[list[int]] = [[] for _ in readers]

    async def read_all(reader, seqs: list[int]) -> None:
        while True:
            seqs.append(json.loads(await reader.recv())["seq"])

    async def caught_up() -> None:
        # Readers that keep pace get everything; the producer waits for them (never for the
        # stalled viewer), so a slow machine cannot make them fall behind the bounded queue.
        while min(seqs[-1] if seqs else 0 for seqs in got) < runtime.stream.live_seq:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    reading = [asyncio.create_task(read_all(r, seqs)) for r, seqs in zip(readers, got, strict=True)]
    t0_s = time.time()
    acks = []
    headers = auth(session.collector_tokens["client"])
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ingest:
        await greeted(ingest)
        for seq in range(BATCHES):
            await ingest.send(big_batch(seq, t0_s))
            acks.append(json.loads(await ingest.recv())["seq"])
            await asyncio.wait_for(caught_up(), 30)
    last_seq = runtime.stream.live_seq
    for task in reading:
        task.cancel()

    subscriptions = service.services.hub._channels[session.id].subscribers
    stalled_side = [s for s in subscriptions if s.dropped]
    assert acks == list(range(BATCHES))
    assert last_seq > BATCHES * BEATS_PER_BATCH * 2  # a beat and metrics per beat
    for seqs in got:
        assert seqs == list(range(1, last_seq + 1))  # every one, in order
    assert len(stalled_side) == 1  # only the stalled viewer lost anything
    assert stalled_side[0].pending == service.services.settings.subscriber_queue_messages
    for ws in (*readers, stalled):
        await ws.close()
