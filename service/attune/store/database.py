"""Engine creation and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from attune.errors import ConfigError
from attune.store.sqlite_checkpoint import WalCheckpointer
from attune.store.sqlite_writer import SqliteRowWriter, Statement

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Database:
    """The engine, with write transactions taken in turn on SQLite.

    SQLite has one writer at a time, and a writer that finds the file locked polls for it
    (``busy_timeout``). Under a steady stream of group commits the pollers starve: each time
    they look, the next commit holds the lock, and after the timeout their write fails with
    "database is locked" (seen with cues and baselines while collectors caught up on a
    backlog, ``attune bench load``). So this process's writers queue here, first come first
    served, and SQLite polls only for another process's writer (an admin command run beside
    the service), which is rare; reads go on beside them (WAL). PostgreSQL has row locks and
    needs no queue.

    Bulk inserts (``execute_many``: the ingest group commit) go through a connection of their
    own on SQLite (attune.store.sqlite_writer), in the same queue.
    """

    engine: AsyncEngine
    _writer: asyncio.Lock | None = field(default=None, init=False)
    _rows_writer: SqliteRowWriter | None = field(default=None, init=False)
    _checkpointer: WalCheckpointer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if is_sqlite(self.engine):
            object.__setattr__(self, "_writer", asyncio.Lock())
            path = self.engine.url.database
            if path not in (None, "", ":memory:"):  # a file other connections can open too
                object.__setattr__(self, "_rows_writer", SqliteRowWriter(path, SQLITE_PRAGMAS))
                checkpointer = WalCheckpointer(path, SQLITE_PRAGMAS)
                checkpointer.start()
                object.__setattr__(self, "_checkpointer", checkpointer)

    @property
    def paramstyle(self) -> str:
        """The style ``execute_many`` takes SQL in: the driver's (qmark for both SQLite
        paths, aiosqlite and the dedicated writer's sqlite3)."""
        return self.engine.dialect.paramstyle

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed at the end, rolled back on an error."""
        async with self._turn(), self.engine.begin() as connection:
            yield connection

    def connect(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reading."""
        return self.engine.connect()

    async def execute_many(self, statements: Sequence[Statement]) -> None:
        """Each statement (SQL in ``paramstyle`` and its rows) in one write transaction."""
        if self._rows_writer is None:
            async with self.begin() as connection:
                for sql, rows in statements:
                    await connection.exec_driver_sql(sql, rows)
            return
        async with self._turn():
            await self._rows_writer.execute_many(statements)

    async def compact_after_erasure(self) -> bool:
        """After deleting personal data, push SQLite's WAL into the main file and truncate
        it, so no old copy of a deleted page stays in the log (secure_delete zeroed the main
        file's). Taken as a writer, so no commit of this process is under way, with the
        checkpointer thread paused (SQLite runs one checkpoint at a time). False if a
        reader still held old pages and the log could not be truncated yet."""
        if self._writer is None:
            return True
        paused = self._checkpointer.paused() if self._checkpointer else contextlib.nullcontext()
        async with self._turn(), paused, self.engine.connect() as connection:
            row = (await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()
        return row is None or row[0] == 0

    async def close(self) -> None:
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.close)  # joins its thread
        if self._rows_writer is not None:
            await self._rows_writer.close()
        await self.engine.dispose()

    def _turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """This process's turn to write (SQLite); no wait on PostgreSQL."""
        return self._writer if self._writer is not None else contextlib.nullcontext()


# WAL lets the live views read while ingest writes; synchronous=FULL makes a commit durable on
# power loss, which is what an ingest ack promises (sqlite.org/pragma.html). secure_delete
# overwrites deleted content, so erasing a client leaves no readable trace in the file's free
# pages (docs/security.md).
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "foreign_keys=ON",
    "busy_timeout=5000",
    "secure_delete=ON",
    # Checkpoints run on a thread of their own (attune.store.sqlite_checkpoint), not inside
    # whichever commit takes the log past 1,000 pages.
    "wal_autocheckpoint=0",
)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


async def open_database(url: str, *, schema: str | None = None) -> AsyncEngine:
    """Create the engine for ``url`` and migrate it to head.

    For SQLite the file's folder is created. For PostgreSQL, ``schema`` (created if missing)
    holds every table, which lets tests and co-hosted deployments share one database.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if backend != "postgresql" or not _SCHEMA_NAME.match(schema):
            raise ConfigError(f"a schema ({schema!r}) needs PostgreSQL and a plain lowercase name")
        connect_args["server_settings"] = {"search_path": schema}
    # hide_parameters: a database error's message would otherwise carry the bound values
    # (token digests, recorded payloads) into the log.
    engine = create_async_engine(
        url,
        pool_pre_ping=backend != "sqlite",
        connect_args=connect_args,
        hide_parameters=True,
    )
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    async with engine.begin() as connection:
        if schema is not None:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_upgrade)
    return engine
