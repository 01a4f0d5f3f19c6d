"""Group commits insert plain tuples with the driver's ``executemany`` (no per-row binding),
on SQLite and PostgreSQL. What they write reads back exactly as it was sent."""

from __future__ import annotations

from attune.protocol.ingest import Battery, Link
from attune.store import PendingRecord, RecordOutcome
from tests.integration.conftest import store  # noqa: F401 - the fixture, on both backends
from tests.integration.test_store import NOW_S, a_session, batch


async def test_every_kind_of_message_reads_back_as_it_was_sent(store) -> None:  # noqa: F811
    _, _, session, participant, _ = await a_session(store)
    messages = [
        batch(0, NOW_S, "16480004"),
        Link(v=1, type="link", seq=1, at_s=NOW_S + 1, state="lost", reason="out of range"),
        Battery(v=1, type="battery", seq=2, at_s=NOW_S + 2, level_pct=77),
        batch(3, NOW_S + 3, "10400104a00a"),
    ]
    items = [
        PendingRecord(session.id, participant.id, m, i + 1, i != 1, NOW_S)
        for i, m in enumerate(messages)
    ]
    assert await store.recording.record_many(items) == [RecordOutcome.NEW] * 4
    inputs = await store.recording.collector_inputs(session.id)
    assert [i.message for i in inputs] == messages
    assert [i.live for i in inputs] == [True, False, True, True]
    assert [i.input_no for i in inputs] == [1, 2, 3, 4]
