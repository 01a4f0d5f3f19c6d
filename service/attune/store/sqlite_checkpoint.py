"""WAL checkpoints on a thread of their own, off the commit path.

By default SQLite checkpoints the write-ahead log back into the database file inside
whichever COMMIT takes the log past 1,000 pages (sqlite.org/wal.html, "Automatic
Checkpoint"): that commit copies the pages and syncs the file before it returns. Every
ingest ack waits for its group commit (attune.api.commits), so at 400 straps about one
commit a second took 30-37 ms whatever its size (3 to 51 rows), 25-35 ms of it in COMMIT and
7-13 ms of that the writer's CPU, and every message queued behind it waited as long
(``attune bench load`` with each commit timed by phase). So automatic checkpoints are off on
every connection (``wal_autocheckpoint=0`` in database.SQLITE_PRAGMAS) and this thread runs
a PASSIVE checkpoint every ``interval_s`` instead: PASSIVE neither waits for nor blocks
readers and writers (sqlite.org/c3ref/wal_checkpoint_v2.html), so commits go on while it
copies. SQLite still checkpoints when the last connection to the file closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import structlog

from attune.store.sqlite_writer import connect

log = structlog.get_logger(__name__)

PAUSE_POLL_S = 0.005  # a checkpoint takes milliseconds to tens of them


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint's answer: ``busy`` if it could not finish (a writer or reader held
    pages it needed), the log's frames and how many of them are now in the database file."""

    busy: bool
    log_frames: int
    checkpointed_frames: int


class WalCheckpointer:
    """``start()`` runs ``checkpoint()`` every ``interval_s`` on a thread of its own until
    ``close()``; ``last`` is the latest answer, ``checkpoints`` counts those that answered
    and ``failures`` those that raised (each is logged; the next is tried all the same)."""

    def __init__(self, path: str, pragmas: Sequence[str], interval_s: float = 1.0) -> None:
        self._path = path
        self._pragmas = tuple(pragmas)
        self._interval_s = interval_s
        self._stop = threading.Event()
        # SQLite runs one checkpoint on a file at a time and answers "busy" to another, so
        # a caller's own (the truncation after an erasure) waits for this thread's.
        self._turn = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        # Opened by the thread that checkpoints first: this one's, once started.
        self._connection: sqlite3.Connection | None = None
        self.last: Checkpoint | None = None
        self.checkpoints = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def checkpoint(self) -> Checkpoint:
        """Copy what the log holds into the database file, as far as readers allow."""
        connection = self._connection or self._open()
        busy, log_frames, checkpointed = connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        return Checkpoint(bool(busy), log_frames, checkpointed)

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No checkpoint of this thread runs inside (it waits for one under way)."""
        # Polled, not a blocking acquire on a worker thread: a caller cancelled while that
        # waited would leave the lock taken for good.
        while not self._turn.acquire(blocking=False):  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(PAUSE_POLL_S)
        try:
            yield
        finally:
            self._turn.release()

    def close(self) -> None:
        """Stop the thread (after the checkpoint under way, if any); its connection closes
        on the thread that opened it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        else:  # never started: any connection is this thread's own
            self._close_connection()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval_s):
                try:
                    with self._turn:
                        self.last = self.checkpoint()
                    self.checkpoints += 1
                except sqlite3.Error as exc:
                    self.failures += 1
                    log.warning("wal_checkpoint_failed", path=self._path, error=str(exc))
        finally:
            self._close_connection()

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> sqlite3.Connection:
        self._connection = connect(self._path, self._pragmas)
        return self._connection
