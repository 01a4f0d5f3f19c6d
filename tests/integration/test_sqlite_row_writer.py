"""On SQLite, group commits go through a connection of their own, on a thread of its own
(attune.store.sqlite_writer): a batch is one transaction, errors come back as SQLAlchemy's,
and its connection has the engine's pragmas (its turn among the writers:
tests/scale/test_sqlite_writers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from attune.store import PendingRecord, RecordOutcome, Store
from attune.store.database import SQLITE_PRAGMAS
from attune.store.sqlite_writer import SqliteRowWriter
from tests.integration.test_store import NOW_S, a_session, batch


async def _keys(store: Store) -> list[int]:
    async with store.db.connect() as conn:
        return [row[0] for row in await conn.execute(text("SELECT k FROM t ORDER BY k"))]


async def test_a_batch_is_one_transaction_and_a_clash_is_an_integrity_error(sqlite_store) -> None:
    async with sqlite_store.db.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
    insert = "INSERT INTO t (k) VALUES (?)"
    await sqlite_store.db.execute_many([(insert, [(1,), (2,)])])
    with pytest.raises(IntegrityError):
        await sqlite_store.db.execute_many([(insert, [(3,), (4,)]), (insert, [(2,)])])
    assert await _keys(sqlite_store) == [1, 2]  # nothing of the failed batch, read elsewhere
    await sqlite_store.db.execute_many([(insert, [(3,)])])  # and the writer goes on
    assert await _keys(sqlite_store) == [1, 2, 3]


async def test_its_connection_has_the_engines_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as setup:
        setup.executescript(
            "CREATE TABLE p (id TEXT PRIMARY KEY); CREATE TABLE c (p REFERENCES p);"
        )
    writer = SqliteRowWriter(str(path), SQLITE_PRAGMAS)
    await writer.execute_many([("INSERT INTO p VALUES (?)", [("a",)])])
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        await writer.execute_many([("INSERT INTO c VALUES (?)", [("missing",)])])
    pragmas = await asyncio.get_running_loop().run_in_executor(
        writer._executor,  # its own thread: the only one that may use its connection
        lambda: [
            writer._connection.execute(f"PRAGMA {name}").fetchone()[0]  # type: ignore[union-attr]
            for name in (
                "journal_mode",
                "synchronous",
                "foreign_keys",
                "secure_delete",
                "wal_autocheckpoint",
            )
        ],
    )
    assert pragmas == ["wal", 2, 1, 1, 0]  # synchronous=2 is FULL; checkpoints: a thread
    await writer.close()


async def test_a_file_it_cannot_open_is_an_operational_error(tmp_path: Path) -> None:
    writer = SqliteRowWriter(str(tmp_path), SQLITE_PRAGMAS)  # a folder, not a database file
    with pytest.raises(OperationalError, match="unable to open"):
        await writer.execute_many([("INSERT INTO t VALUES (?)", [(1,)])])
    await writer.close()


async def test_closing_the_store_ends_the_writer_thread(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
    _, _, session, participant, _ = await a_session(store)
    item = PendingRecord(session.id, participant.id, batch(0, NOW_S), 1, True, NOW_S)
    assert await store.recording.record_many([item]) == [RecordOutcome.NEW]
    assert any(t.name.startswith("sqlite-writer") for t in threading.enumerate())
    await store.close()
    assert not any(t.name.startswith("sqlite-writer") for t in threading.enumerate())
