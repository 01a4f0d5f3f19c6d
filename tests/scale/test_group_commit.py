"""Group commit on SQLite and PostgreSQL: messages of many sessions share commits, yet each
waiter gets its own outcome (new, a resend, a clash) or its own error, exactly as if it had
been committed alone."""

from __future__ import annotations

import asyncio

from attune.api.commits import MAX_BATCH_NOTIFICATIONS, GroupCommit
from attune.errors import NotFoundError
from attune.protocol.ingest import Batch
from attune.store import PendingRecord, RecordOutcome
from tests.integration.conftest import store  # noqa: F401 - the fixture, on both backends
from tests.integration.test_store import a_session, batch

NOW_S = 1_800_000_000.0


async def participants(store, n: int):  # noqa: F811
    """``n`` participants, each in a session of a client of their own."""
    therapist, _, _, participant, _ = await a_session(store)
    out = [participant]
    for i in range(n - 1):
        client = await store.clients.create(therapist.id, f"C-{i + 2}", "Bea", now_s=NOW_S)
        other = await store.sessions.create(
            f"s{i}", now_s=NOW_S, client_id=client.id, therapist_id=therapist.id
        )
        row, _ = await store.sessions.add_participant(other.id, "client", "Bea")
        out.append(row)
    return out


def pending(participant, seq: int, input_no: int, rr: str = "16480004") -> PendingRecord:
    message = batch(seq, NOW_S + seq, rr)
    return PendingRecord(participant.session_id, participant.id, message, input_no, True, NOW_S)


async def test_concurrent_messages_share_commits_and_each_is_recorded_once(store) -> None:  # noqa: F811
    people = await participants(store, 20)
    commits = GroupCommit(store.recording)
    outcomes = await asyncio.gather(
        *(commits.record(pending(p, seq, seq + 1)) for seq in range(5) for p in people)
    )
    assert outcomes == [RecordOutcome.NEW] * 100
    assert commits.committed == 100
    assert commits.batches < 100  # they were grouped
    for p in people:
        assert await store.recording.last_seq(p.id) == 4


async def test_a_resend_a_clash_and_a_deleted_participant_fail_alone(store) -> None:  # noqa: F811
    people = await participants(store, 4)
    commits = GroupCommit(store.recording)
    assert await commits.record(pending(people[0], 0, 1)) is RecordOutcome.NEW
    assert await commits.record(pending(people[1], 0, 1)) is RecordOutcome.NEW
    erased = await store.sessions.get(people[3].session_id)
    await store.clients.delete(erased.client_id)  # erasure: the participant is gone
    results = await asyncio.gather(
        commits.record(pending(people[0], 0, 2)),  # the same message again: a resend
        commits.record(pending(people[1], 0, 2, rr="16480008")),  # seq 0 reused: a clash
        commits.record(pending(people[2], 0, 1)),  # new
        commits.record(pending(people[3], 0, 1)),  # its participant is gone
        return_exceptions=True,
    )
    assert results[:3] == [RecordOutcome.DUPLICATE, RecordOutcome.CONFLICT, RecordOutcome.NEW]
    assert isinstance(results[3], NotFoundError)
    assert await store.recording.last_seq(people[2].id) == 0


async def test_each_waiter_returns_only_once_its_message_is_committed(store) -> None:  # noqa: F811
    # Another connection (the engine's pool, not the commit's) must already see the message
    # when its waiter resumes: that is what lets ingest ack it.
    people = await participants(store, 30)
    commits = GroupCommit(store.recording)
    seen_committed: list[bool] = []

    async def record_then_look(p, seq: int) -> RecordOutcome:
        outcome = await commits.record(pending(p, seq, seq + 1))
        seen_committed.append(await store.recording.last_seq(p.id) == seq)
        return outcome

    for seq in range(3):
        outcomes = await asyncio.gather(*(record_then_look(p, seq) for p in people))
        assert outcomes == [RecordOutcome.NEW] * len(people)
    assert seen_committed == [True] * 90
    assert commits.batches < 90


async def test_a_resend_inside_the_same_group_is_recorded_once(store) -> None:  # noqa: F811
    people = await participants(store, 3)
    commits = GroupCommit(store.recording)
    results = await asyncio.gather(
        commits.record(pending(people[0], 0, 1)),
        commits.record(pending(people[1], 0, 1)),
        commits.record(pending(people[0], 0, 2)),  # the same message, before its ack
        commits.record(pending(people[2], 0, 1)),
    )
    assert results == [
        RecordOutcome.NEW,
        RecordOutcome.NEW,
        RecordOutcome.DUPLICATE,
        RecordOutcome.NEW,
    ]
    inputs = await store.recording.collector_inputs(people[0].session_id)
    assert [(i.participant_id, i.seq, i.input_no) for i in inputs] == [(people[0].id, 0, 1)]


async def test_backlog_batches_are_split_so_no_transaction_grows_unbounded(store) -> None:  # noqa: F811
    # Collectors catching up send up to 256 notifications a message: a transaction takes
    # messages only up to MAX_BATCH_NOTIFICATIONS in all (on SQLite every other writer
    # waits for it), whatever the number of messages waiting.
    people = await participants(store, 40)
    commits = GroupCommit(store.recording)

    def backlog(p) -> PendingRecord:
        notes = [{"received_at_s": NOW_S + k, "payload_hex": "16480004"} for k in range(256)]
        message = Batch.model_validate({"v": 1, "type": "batch", "seq": 0, "notifications": notes})
        return PendingRecord(p.session_id, p.id, message, 1, True, NOW_S)

    outcomes = await asyncio.gather(*(commits.record(backlog(p)) for p in people))
    assert outcomes == [RecordOutcome.NEW] * 40
    per_transaction = MAX_BATCH_NOTIFICATIONS // 256
    assert commits.batches == -(-40 // per_transaction)  # 16 messages each: 3 transactions
    for p in people:
        assert await store.recording.last_seq(p.id) == 0
