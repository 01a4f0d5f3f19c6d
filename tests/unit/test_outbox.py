"""The outboxes: seq order, delete on ack only, survive a restart (SQLite), keep the newest
when full, and keep seqs above what the service already holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attune.collector.outbox import MemoryOutbox, Outbox, OutboxFile
from attune.protocol.ingest import collector_message


def link(seq: int, state: str = "streaming") -> str:
    return json.dumps({"v": 1, "type": "link", "seq": seq, "at_s": 1.0 + seq, "state": state})


def batch(seq: int, n: int) -> str:
    notes = [{"received_at_s": 10.0 + i, "payload_hex": "1648"} for i in range(n)]
    return json.dumps({"v": 1, "type": "batch", "seq": seq, "notifications": notes})


@pytest.fixture(params=["memory", "sqlite"])
def outbox(request, tmp_path: Path) -> Outbox:
    if request.param == "memory":
        return MemoryOutbox()
    return OutboxFile(tmp_path / "outbox.sqlite3").outbox("participant-a")


def test_seqs_increase_and_leave_only_on_ack(outbox: Outbox) -> None:
    seqs = [outbox.append(link) for _ in range(4)]
    assert seqs == [0, 1, 2, 3]
    outbox.ack(1)
    outbox.ack(7)  # an ack for something unknown changes nothing
    assert [s for s, _ in outbox.pending()] == [0, 2, 3]
    assert [s for s, _ in outbox.pending(after_seq=0)] == [2, 3]
    assert len(outbox) == 3
    assert outbox.tail() == (3, link(3))


def test_replace_rewrites_a_pending_message(outbox: Outbox) -> None:
    seq = outbox.append(lambda s: batch(s, 1))
    outbox.replace(seq, batch(seq, 2))
    assert outbox.pending() == [(0, batch(0, 2))]


def test_align_with_a_fresh_service_keeps_everything(outbox: Outbox) -> None:
    for _ in range(3):
        outbox.append(link)
    assert outbox.align(None) == 0
    assert [s for s, _ in outbox.pending()] == [0, 1, 2]


def test_align_renumbers_messages_the_service_would_take_for_resends(outbox: Outbox) -> None:
    # A new outbox (new machine, deleted file) for a participant whose seqs reached 41.
    for _ in range(3):
        outbox.append(link)
    assert outbox.align(41) == 3
    pending = outbox.pending()
    assert [s for s, _ in pending] == [42, 43, 44]
    assert [collector_message.validate_json(t).seq for _, t in pending] == [42, 43, 44]
    assert [json.loads(t)["at_s"] for _, t in pending] == [1.0, 2.0, 3.0]  # content kept
    assert outbox.append(link) == 45


def test_align_after_the_first_welcome_trusts_its_own_seqs(outbox: Outbox) -> None:
    outbox.append(link)
    outbox.align(None)  # first welcome: in sync from now on
    outbox.append(link)
    outbox.append(link)
    # Seq 0 and 1 were committed, their acks lost: resending them is right, not renumbering.
    assert outbox.align(1) == 0
    assert [s for s, _ in outbox.pending()] == [0, 1, 2]


def test_align_moves_the_next_seq_past_the_service(outbox: Outbox) -> None:
    assert outbox.align(9) == 0
    assert outbox.append(link) == 10


def test_sqlite_outbox_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = OutboxFile(path)
    box = first.outbox("a")
    for _ in range(3):
        box.append(link)
    box.ack(0)
    first.outbox("b").append(link)
    first.close()

    again = OutboxFile(path)
    box = again.outbox("a")
    assert [s for s, _ in box.pending()] == [1, 2]
    assert box.append(link) == 3  # seqs continue, never reused
    assert [s for s, _ in again.outbox("b").pending()] == [0]
    assert len(box) == 3


def test_a_full_outbox_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    box = OutboxFile(tmp_path / "o.sqlite3", max_messages=3).outbox("a")
    box.append(lambda s: batch(s, 5))
    box.append(lambda s: batch(s, 7))
    for _ in range(3):
        box.append(link)
    assert [s for s, _ in box.pending()] == [2, 3, 4]
    assert (box.dropped_messages, box.dropped_notifications) == (2, 12)
    assert len(box) == 3


def test_a_full_outbox_says_so_loudly(tmp_path: Path, capsys) -> None:
    box = OutboxFile(tmp_path / "o.sqlite3", max_messages=1).outbox("a")
    box.append(link)
    box.append(link)
    err = capsys.readouterr()
    assert "outbox_full_dropping_oldest" in err.out + err.err


def test_max_messages_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        OutboxFile(tmp_path / "o.sqlite3", max_messages=0)


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    file = OutboxFile(tmp_path / "o.sqlite3")
    assert file._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
