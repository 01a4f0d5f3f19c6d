"""Store and forward: the service or the collector goes away mid-stream, and every batch still
arrives exactly once (real uvicorn service, on-disk outbox, real Bleak)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from attune.collector.collector import ingest_url, stream_key
from attune.collector.outbox import OutboxFile
from attune.collector.uplink import Uplink
from attune.protocol.ingest import Batch
from attune.testing.audit import audit
from attune.testing.bluez import StrapConfig
from tests.ble.helpers import (
    batteries,
    check_streamed_and_stopped,
    eventually,
    fast_config,
    start_run,
)

TAGGED = StrapConfig(tag_serial=True)


async def test_service_down_mid_stream_every_batch_arrives_once(
    bluez, service, clock, tmp_path
) -> None:
    strap = bluez.add_strap(TAGGED)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=5)
    await service.stop()
    outbox = run.collector.uplinks[0].outbox
    # Messages already written to the socket stay frozen (the service may have committed
    # them); how many were in flight at the stop depends on scheduling, so count from here.
    pending_at_stop = len(outbox)
    before = run.link().stats.notifications
    await run.streaming(notifications=20)  # the strap keeps streaming into the outbox
    assert run.link().stats.notifications - before >= 20
    assert 0 < len(outbox) <= pending_at_stop + 2  # twenty notifications in a message or two
    await service.start()
    await eventually(lambda: len(outbox) == 0, "the outbox to drain")
    await run.streaming(notifications=5)

    recorded = await check_streamed_and_stopped(run)
    report = audit(strap.ledger, recorded)
    assert report.sent_not_recorded == 0
    assert report.duplicate_notifications == 0
    assert report.lost_outside_gaps == 0
    largest = max(len(r.message.notifications) for r in recorded if isinstance(r.message, Batch))
    assert largest >= 20


async def test_collector_restart_resumes_its_outbox(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    path = tmp_path / "o.sqlite3"
    config = dataclasses.replace(fast_config(), drain_timeout_s=1.0)
    first = await start_run(service, ["H10"], path, clock, config)
    await first.streaming(notifications=5)
    await service.stop()
    await first.streaming(notifications=10)
    await first.stop()  # cannot drain: the data stays on disk
    left = OutboxFile(path)
    (stream,) = [row[0] for row in left._db.execute("SELECT stream FROM streams")]
    assert len(left.outbox(stream)) > 0
    left.close()

    await service.start()
    second = await start_run(service, ["H10"], path, clock, session=first.session)
    await second.streaming(notifications=5)
    await eventually(lambda: len(second.collector.uplinks[0].outbox) == 0, "the resent outbox")

    await second.stop()
    recorded = await second.recorded()
    report = audit(strap.ledger, recorded)
    assert report.sent_not_recorded == 0
    assert report.duplicate_notifications == 0
    assert report.lost_outside_gaps == 0
    assert first.link().stats.notifications + second.link().stats.notifications == sum(
        len(r.message.notifications) for r in recorded if isinstance(r.message, Batch)
    )


async def deliver(uplink: Uplink) -> None:
    task = asyncio.create_task(uplink.run())
    try:
        await eventually(lambda: len(uplink.outbox) == 0, "delivery")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_fresh_outbox_does_not_lose_data_to_seqs_the_service_has(
    service, clock, tmp_path
) -> None:
    session_id, tokens, ids = await service.new_session(("client",))
    url = ingest_url(service.base_url)

    def uplink(path: str) -> Uplink:
        box = OutboxFile(tmp_path / path).outbox(stream_key(url, tokens["client"]))
        return Uplink(url=url, token=tokens["client"], outbox=box, clock=clock)

    first = uplink("laptop.sqlite3")
    for level in (50, 51, 52, 53, 54):
        first.send_battery(clock.now_s(), level)
    await deliver(first)
    # The same participant's collector moves to another machine (or the file is deleted):
    # its seqs start at 0 again, which the service would drop as resends.
    second = uplink("tablet.sqlite3")
    for level in (80, 81, 82):
        second.send_battery(clock.now_s(), level)
    await deliver(second)

    recorded = await service.recorded(session_id, ids["client"])
    assert batteries(recorded) == [50, 51, 52, 53, 54, 80, 81, 82]
    assert [r.seq for r in recorded] == list(range(8))
