"""Coalescing in the uplink while the service is unreachable (no network needed: nothing is
sent until ``run``)."""

from __future__ import annotations

from attune.collector.outbox import MemoryOutbox
from attune.collector.uplink import Uplink
from attune.pipeline.events import LinkState
from attune.protocol.ingest import (
    MAX_MESSAGE_BYTES,
    MAX_NOTIFICATIONS_PER_BATCH,
    Batch,
    collector_message,
)


def offline_uplink(outbox: MemoryOutbox | None = None) -> Uplink:
    box = MemoryOutbox() if outbox is None else outbox
    return Uplink(url="ws://127.0.0.1:9/ingest", token="t", outbox=box)


def batches(uplink: Uplink) -> list[Batch]:
    messages = [collector_message.validate_json(text) for _, text in uplink.outbox.pending()]
    return [m for m in messages if isinstance(m, Batch)]


def test_offline_notifications_share_batches_up_to_the_protocol_limit() -> None:
    uplink = offline_uplink()
    n = MAX_NOTIFICATIONS_PER_BATCH + 10
    for i in range(n):
        uplink.send_notification(1000.0 + i, bytes([0x16, 60, i % 256, 4]))
    sizes = [len(b.notifications) for b in batches(uplink)]
    assert sizes == [MAX_NOTIFICATIONS_PER_BATCH, 10]
    times = [note.received_at_s for b in batches(uplink) for note in b.notifications]
    assert times == [1000.0 + i for i in range(n)]  # order and stamps kept


def test_big_payloads_keep_each_message_well_under_the_size_limit() -> None:
    uplink = offline_uplink()
    for i in range(200):
        uplink.send_notification(float(i), bytes(512))
    texts = [text for _, text in uplink.outbox.pending()]
    assert len(texts) > 1
    assert all(len(text.encode()) < MAX_MESSAGE_BYTES for text in texts)
    assert sum(len(b.notifications) for b in batches(uplink)) == 200


def test_a_link_event_closes_the_open_batch() -> None:
    uplink = offline_uplink()
    uplink.send_notification(1.0, b"\x16\x3c\x00\x04")
    uplink.send_notification(2.0, b"\x16\x3c\x00\x04")
    uplink.send_link(2.5, LinkState.LOST, "link lost")
    uplink.send_notification(9.0, b"\x16\x3c\x00\x04")
    kinds = [collector_message.validate_json(t).type for _, t in uplink.outbox.pending()]
    assert kinds == ["batch", "link", "batch"]
    assert [len(b.notifications) for b in batches(uplink)] == [2, 1]


def test_a_new_uplink_never_appends_to_what_an_earlier_one_may_have_sent() -> None:
    outbox = MemoryOutbox()
    offline_uplink(outbox).send_notification(1.0, b"\x16\x3c\x00\x04")
    offline_uplink(outbox).send_notification(2.0, b"\x16\x3c\x00\x04")
    assert [len(b.notifications) for b in batches(offline_uplink(outbox))] == [1, 1]
