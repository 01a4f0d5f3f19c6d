"""On SQLite, commits leave the write-ahead log to a checkpointer thread
(attune.store.sqlite_checkpoint): no commit copies the log into the database file, the
thread does, and a checkpoint that fails is counted and logged while the thread goes on."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import text
from structlog.testing import capture_logs

from attune.store import Store
from attune.store.database import SQLITE_PRAGMAS
from attune.store.sqlite_checkpoint import WalCheckpointer

ROW_BYTES = 3000
ROWS = 2000  # about 1,500 pages of 4 KiB: past SQLite's default autocheckpoint of 1,000
CHECKPOINTS_AWAITED = 200


def _wal_pages(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


async def _fill(store: Store) -> None:
    insert = "INSERT INTO blobs (body) VALUES (?)"
    for start in range(0, ROWS, 100):  # many commits, as ingest makes them
        rows = [(f"{i:06d}" + "x" * ROW_BYTES,) for i in range(start, start + 100)]
        await store.db.execute_many([(insert, rows)])


async def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "attune.sqlite3"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    store.db._checkpointer.close()  # type: ignore[union-attr]  # this test checkpoints itself
    async with store.db.begin() as conn:
        await conn.execute(text("CREATE TABLE blobs (body TEXT)"))
    await _fill(store)
    # With SQLite's automatic checkpoints the log would have been copied back and reused
    # from its start after 1,000 pages; here every commit's pages are still in it.
    assert _wal_pages(path) > 1400
    checkpointer = WalCheckpointer(str(path), SQLITE_PRAGMAS)
    done = checkpointer.checkpoint()  # on this thread: the checkpointer was not started
    checkpointer.close()
    assert not done.busy
    assert done.log_frames > 1400
    assert done.checkpointed_frames == done.log_frames
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT count(*) FROM blobs").fetchone() == (ROWS,)


async def test_the_thread_checkpoints_what_commits_write(tmp_path: Path) -> None:
    path = tmp_path / "attune.sqlite3"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    async with store.db.begin() as conn:
        await conn.execute(text("CREATE TABLE blobs (body TEXT)"))
    await _fill(store)
    checkpointer = store.db._checkpointer
    assert checkpointer is not None
    for _ in range(CHECKPOINTS_AWAITED):  # one a second: a bounded wait for the next
        last = checkpointer.last
        if last is not None and last.log_frames > 0:
            break
        await asyncio.sleep(0.05)
    assert last is not None
    assert last.checkpointed_frames == last.log_frames > 0
    assert checkpointer.failures == 0
    await store.close()
    assert not any(t.name == "sqlite-checkpoint" for t in threading.enumerate())


def test_a_failing_checkpoint_is_counted_and_logged_and_the_thread_goes_on(
    tmp_path: Path,
) -> None:
    checkpointer = WalCheckpointer(str(tmp_path), SQLITE_PRAGMAS, interval_s=0.01)  # a folder
    with capture_logs() as logs:
        checkpointer.start()
        for _ in range(CHECKPOINTS_AWAITED):
            if checkpointer.failures >= 2:  # it went on after the first
                break
            time.sleep(0.01)
        checkpointer.close()
    assert checkpointer.failures >= 2
    assert checkpointer.last is None
    failed = [entry for entry in logs if entry["event"] == "wal_checkpoint_failed"]
    assert failed
    assert "unable to open" in failed[0]["error"]


async def test_paused_holds_the_threads_checkpoints_back(tmp_path: Path) -> None:
    path = tmp_path / "attune.sqlite3"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    await store.close()  # the file, in WAL mode, with nothing else checkpointing it
    checkpointer = WalCheckpointer(str(path), SQLITE_PRAGMAS, interval_s=0.01)
    checkpointer.start()
    async with checkpointer.paused():
        held_at = checkpointer.checkpoints
        await asyncio.sleep(0.2)  # twenty intervals
        assert checkpointer.checkpoints == held_at
    for _ in range(CHECKPOINTS_AWAITED):
        if checkpointer.checkpoints > held_at:
            break
        await asyncio.sleep(0.01)
    checkpointer.close()
    assert checkpointer.checkpoints > held_at
