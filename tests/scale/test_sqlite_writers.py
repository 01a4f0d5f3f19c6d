"""SQLite has one writer at a time: the service's writers queue for it instead of polling
the file lock, so a write that waits longer than SQLite's busy timeout (5 s) still lands
rather than failing with "database is locked" (seen with cues and baselines while
collectors caught up on a backlog)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from attune.store import Store
from tests.integration.test_store import NOW_S, a_session

BUSY_TIMEOUT_S = 5.0  # attune.store.database: PRAGMA busy_timeout=5000


async def test_a_write_waiting_longer_than_the_busy_timeout_lands(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
    try:
        _, client, session, _, _ = await a_session(store)
        holding, release = asyncio.Event(), asyncio.Event()

        async def long_transaction() -> None:
            async with store.db.begin() as conn:
                await conn.execute(
                    text("UPDATE sessions SET title = 'held' WHERE id = :id"), {"id": session.id}
                )
                holding.set()
                await release.wait()

        holder = asyncio.create_task(long_transaction())
        await holding.wait()
        waiter = asyncio.create_task(
            store.clients.set_baseline(client.id, {"hr_bpm": 70.0}, now_s=NOW_S)
        )
        await asyncio.sleep(BUSY_TIMEOUT_S + 1.0)
        assert not waiter.done()  # queued behind the transaction, not failed
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, waiter), 30)
        stored = await store.clients.get(client.id)
        assert stored.baseline_set_at_s == NOW_S
        assert (await store.sessions.get(session.id)).title == "held"
    finally:
        await store.close()
