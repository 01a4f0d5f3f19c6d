"""A dedicated SQLite connection for bulk inserts: a whole transaction in one thread hop.

Through SQLAlchemy's asyncio adapter, a group commit of a few rows (attune.api.commits)
costs about a dozen hops between the event loop and aiosqlite's thread: the checkout, a
cursor, each statement, the commit and the pool's reset on return, each a greenlet switch and
a loop wake-up. At 300 and 600 straps that was 46 % and 31 % of the service's CPU
(``attune bench load`` with the commit and with it skipped). Here the statements run from
BEGIN to COMMIT on this connection's own thread, handed over once, while the loop goes on;
sqlite3 releases the GIL inside SQLite, fsync included.

Errors come back as SQLAlchemy's (``IntegrityError`` for a key clash), as from the engine,
so callers handle one kind. The caller takes the process's writer turn
(``store.database.Database``): this is one more connection to the same file, not a second
writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import DBAPIError

Statement = tuple[str, list[tuple[Any, ...]]]  # SQL in qmark style and its rows


class SqliteRowWriter:
    """``await execute_many([(sql, rows), ...])``: one transaction on the file at ``path``,
    run on a thread of its own; ``pragmas`` are set on its connection when it opens."""

    def __init__(self, path: str, pragmas: Sequence[str]) -> None:
        self._path = path
        self._pragmas = tuple(pragmas)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection: sqlite3.Connection | None = None  # used on the writer thread only

    async def execute_many(self, statements: Sequence[Statement]) -> None:
        """Insert every statement's rows in one transaction (all or nothing)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._transaction, statements)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _transaction(self, statements: Sequence[Statement]) -> None:
        sql = "BEGIN IMMEDIATE"
        try:
            connection = self._connection or self._open()
            # IMMEDIATE: take the write lock now (waiting up to busy_timeout for another
            # process's writer), not at the first insert.
            connection.execute(sql)
            for sql, rows in statements:
                connection.executemany(sql, rows)
            sql = "COMMIT"
            connection.execute(sql)
        except Exception as exc:
            self._roll_back()
            if isinstance(exc, sqlite3.Error):
                raise DBAPIError.instance(
                    sql, None, exc, sqlite3.Error, hide_parameters=True
                ) from exc
            raise

    def _roll_back(self) -> None:
        """Undo what a failed transaction left. A connection that cannot is closed (SQLite
        rolls back on close), so the next transaction starts on a new one whatever state
        this one was left in."""
        connection = self._connection
        if connection is None or not connection.in_transaction:
            return
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            self._close()

    def _open(self) -> sqlite3.Connection:
        self._connection = connect(self._path, self._pragmas)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connect(path: str, pragmas: Sequence[str]) -> sqlite3.Connection:
    """A connection to ``path`` with ``pragmas`` set, in autocommit mode (no implicit
    transactions: its user says BEGIN and COMMIT)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in pragmas:
            connection.execute(f"PRAGMA {pragma}")
    except sqlite3.Error:
        connection.close()  # not used half set up
        raise
    return connection
