"""SQLite group commits in one hop to a thread of their own.

Through the async engine, a commit of a few hundred rows costs a dozen hops to aiosqlite's
thread (cursor, executemany, close, commit, the pool's reset...) and SQLAlchemy's per-row
parameter binding: at 1,000 straps, about a quarter of the service's CPU (``attune bench
load``, docs/deployment.md). Here a whole group commit is one call on one thread, inserting
plain tuples with ``executemany``; the connection has the same pragmas as the engine's
(``synchronous=FULL``: the commit is durable before the call returns, so an ack still
follows the commit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from attune.store.database import apply_sqlite_pragmas

# One table's rows: the table, its column names, the rows as tuples in that order.
TableRows = tuple[Table, Sequence[str], Sequence[tuple[Any, ...]]]
_MARKS = {"qmark": "?", "format": "%s", "numeric": ":{n}", "numeric_dollar": "${n}"}
POSITIONAL_STYLES = frozenset(_MARKS)  # DB-API parameter styles that take plain tuples


def insert_statement(table: Table, columns: Sequence[str], paramstyle: str) -> str:
    """``INSERT INTO table (columns) VALUES (...)`` in a driver's own (positional)
    parameter style, for ``executemany`` of plain tuples."""
    mark = _MARKS[paramstyle]
    values = ", ".join(mark.format(n=n) for n in range(1, len(columns) + 1))
    # Names come from the schema and values are bound: nothing here comes from input.
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608


class SqliteWriter:
    """Inserts rows of several tables in one transaction, on the writer's own thread."""

    def __init__(self, url: URL) -> None:
        # One connection, used only by the one thread (StaticPool keeps it open).
        self._engine: Engine = create_engine(url.set(drivername="sqlite"), poolclass=StaticPool)
        event.listen(self._engine, "connect", apply_sqlite_pragmas)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attune-sqlite-writer")

    @classmethod
    def for_url(cls, url: URL) -> SqliteWriter | None:
        """A writer for a SQLite database file; None for other databases and in-memory
        SQLite (a second connection would open a different, empty database)."""
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        if url.query:  # URI options (mode=memory, ...): leave them to the engine
            return None
        return cls(url)

    async def insert(self, tables: Sequence[TableRows]) -> None:
        """Insert everything in one committed transaction; SQLAlchemy's exceptions (an
        ``IntegrityError`` rolls the whole transaction back)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._insert, tables)

    def _insert(self, tables: Sequence[TableRows]) -> None:
        with self._engine.begin() as conn:
            for table, columns, rows in tables:
                if rows:
                    sql = insert_statement(table, columns, conn.dialect.paramstyle)
                    conn.exec_driver_sql(sql, list(rows))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)
