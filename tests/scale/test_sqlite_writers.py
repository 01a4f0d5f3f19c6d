"""SQLite has one writer at a time: the service's writers queue for it instead of polling
the file lock, so a write that waits longer than SQLite's busy timeout (5 s) still lands
rather than failing with "database is locked" (seen with cues and baselines while
collectors caught up on a backlog). Group commits, which have a connection of their own
(attune.store.sqlite_writer), queue the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from sqlalchemy import text

from attune.store import PendingRecord, RecordOutcome, Store
from tests.integration.test_store import NOW_S, a_session, batch

BUSY_TIMEOUT_S = 5.0  # attune.store.database: PRAGMA busy_timeout=5000


async def _behind_a_long_write(store: Store, session_id: str, write: Awaitable[object]) -> object:
    """Run ``write`` while another write transaction of this process stays open for longer
    than the busy timeout: it must wait, not fail, and land once that one commits."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> None:
        async with store.db.begin() as conn:
            await conn.execute(
                text("UPDATE sessions SET title = 'held' WHERE id = :id"), {"id": session_id}
            )
            holding.set()
            await release.wait()

    holder = asyncio.create_task(long_transaction())
    await holding.wait()
    waiter = asyncio.ensure_future(write)
    await asyncio.sleep(BUSY_TIMEOUT_S + 1.0)
    assert not waiter.done()  # queued behind the transaction, not failed
    release.set()
    _, result = await asyncio.wait_for(asyncio.gather(holder, waiter), 30)
    assert (await store.sessions.get(session_id)).title == "held"
    return result


async def test_a_write_waiting_longer_than_the_busy_timeout_lands(sqlite_store) -> None:
    store = sqlite_store
    _, client, session, _, _ = await a_session(store)
    baseline = store.clients.set_baseline(client.id, {"hr_bpm": 70.0}, now_s=NOW_S)
    await _behind_a_long_write(store, session.id, baseline)
    assert (await store.clients.get(client.id)).baseline_set_at_s == NOW_S


async def test_a_group_commit_waiting_that_long_lands(sqlite_store) -> None:
    store = sqlite_store
    _, _, session, participant, _ = await a_session(store)
    item = PendingRecord(session.id, participant.id, batch(0, NOW_S), 1, True, NOW_S)
    outcomes = await _behind_a_long_write(store, session.id, store.recording.record_many([item]))
    assert outcomes == [RecordOutcome.NEW]
    assert [i.seq for i in await store.recording.collector_inputs(session.id)] == [0]
