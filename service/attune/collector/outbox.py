"""Where the uplink keeps messages until the service acknowledges their commit.

An outbox holds one participant's protocol messages (JSON text) by ``seq``. A message leaves
it only on the service's ack, which comes after the database commit, so nothing is lost
while the outbox has room. ``MemoryOutbox`` lives as long as the process (the demo's
simulated straps); ``SqliteOutbox`` is the collector's on-disk outbox: it survives collector
restarts, and when full it drops the *oldest* messages, counting them and saying so loudly,
because for a live session the newest data matters most.

Seq lineage: the service takes a seq it has already committed for a resend and drops it.
A fresh outbox (a new machine, a deleted file) would restart at 0 and lose its data that
way, so on the service's ``welcome`` the uplink calls ``align(last_seq)``: messages that
were never sent are renumbered above what the service has (``_renumber_from``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

DEFAULT_MAX_MESSAGES = 100_000
# Log every drop up to this many, then every DROP_LOG_EVERY-th, so a full outbox is loud
# without flooding the log at one line per notification.
DROP_LOG_FIRST = 10
DROP_LOG_EVERY = 100


class Outbox(Protocol):
    """Seq-ordered store of unacknowledged uplink messages (protocol JSON with a ``seq``)."""

    def append(self, build: Callable[[int], str]) -> int:
        """Store ``build(seq)`` under the next seq; returns the seq."""
        ...

    def tail(self) -> tuple[int, str] | None:
        """The newest pending message, if any."""
        ...

    def replace(self, seq: int, text: str) -> None:
        """Rewrite a pending message that has never been sent (coalescing)."""
        ...

    def pending(self, after_seq: int = -1) -> list[tuple[int, str]]:
        """Pending messages with a seq above ``after_seq``, in seq order."""
        ...

    def ack(self, seq: int) -> None:
        """The service committed ``seq``: forget it."""
        ...

    def align(self, last_seq: int | None) -> int:
        """Keep pending and future seqs above the service's ``last_seq``; returns how many
        messages were renumbered."""
        ...

    def __len__(self) -> int: ...


def _renumber_from(
    *, last_seq: int | None, next_seq: int, synced: bool, first_pending: int | None
) -> int | None:
    """The seq pending messages must be renumbered from, or None to keep them.

    Before the first welcome (``synced`` False) nothing in the outbox has been sent, so
    renumbering is safe; afterwards only a service ahead of everything this outbox ever
    issued (another collector wrote for the participant) forces it.
    """
    if last_seq is None or (synced and last_seq < next_seq):
        return None
    if first_pending is None or first_pending > last_seq:
        return None
    return last_seq + 1


def _with_seq(text: str, seq: int) -> str:
    message = json.loads(text)
    message["seq"] = seq
    return json.dumps(message, separators=(",", ":"))


def _notification_count(text: str) -> int:
    message = json.loads(text)
    notifications = message.get("notifications") if isinstance(message, dict) else None
    return len(notifications) if isinstance(notifications, list) else 0


@dataclass(slots=True)
class MemoryOutbox:
    """An outbox that lives as long as the process (simulated straps in the demo)."""

    _items: dict[int, str] = field(default_factory=dict)
    _next_seq: int = 0
    _synced: bool = False

    def append(self, build: Callable[[int], str]) -> int:
        seq = self._next_seq
        self._items[seq] = build(seq)
        self._next_seq += 1
        return seq

    def tail(self) -> tuple[int, str] | None:
        if not self._items:
            return None
        seq = max(self._items)
        return seq, self._items[seq]

    def replace(self, seq: int, text: str) -> None:
        if seq in self._items:
            self._items[seq] = text

    def pending(self, after_seq: int = -1) -> list[tuple[int, str]]:
        return sorted((s, t) for s, t in self._items.items() if s > after_seq)

    def ack(self, seq: int) -> None:
        self._items.pop(seq, None)

    def align(self, last_seq: int | None) -> int:
        items = self.pending()
        start = _renumber_from(
            last_seq=last_seq,
            next_seq=self._next_seq,
            synced=self._synced,
            first_pending=items[0][0] if items else None,
        )
        self._synced = True
        if last_seq is not None:
            self._next_seq = max(self._next_seq, last_seq + 1)
        if start is None:
            return 0
        self._items = {start + i: _with_seq(text, start + i) for i, (_, text) in enumerate(items)}
        self._next_seq = start + len(items)
        return len(items)

    def __len__(self) -> int:
        return len(self._items)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    stream TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL DEFAULT 0,
    synced INTEGER NOT NULL DEFAULT 0,
    dropped_messages INTEGER NOT NULL DEFAULT 0,
    dropped_notifications INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
"""


class OutboxFile:
    """One SQLite file holding the outboxes of every strap a collector serves.

    WAL with ``synchronous=NORMAL``: a commit survives the collector crashing or being
    killed; after a power cut the last moments may be missing (sqlite.org/wal.html), which
    costs an fsync per notification less than FULL. Writes are small and synchronous on
    purpose: a notification is on disk before its callback returns.
    """

    def __init__(self, path: Path, *, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self._db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(_SCHEMA)

    def outbox(self, stream: str) -> SqliteOutbox:
        """The outbox of one stream (one participant at one server)."""
        self._db.execute("INSERT OR IGNORE INTO streams (stream) VALUES (?)", (stream,))
        return SqliteOutbox(self, stream)

    def close(self) -> None:
        self._db.close()


class SqliteOutbox:
    """One stream's messages in an ``OutboxFile``; see ``Outbox`` for the contract."""

    def __init__(self, file: OutboxFile, stream: str) -> None:
        self._file = file
        self._db = file._db  # noqa: SLF001 - the file and its outboxes are one unit
        self.stream = stream
        self._count = self._scalar("SELECT COUNT(*) FROM messages WHERE stream = ?")

    @property
    def dropped_messages(self) -> int:
        return self._scalar("SELECT dropped_messages FROM streams WHERE stream = ?")

    @property
    def dropped_notifications(self) -> int:
        return self._scalar("SELECT dropped_notifications FROM streams WHERE stream = ?")

    def append(self, build: Callable[[int], str]) -> int:
        with self._transaction():
            seq = self._scalar("SELECT next_seq FROM streams WHERE stream = ?")
            self._db.execute(
                "INSERT INTO messages (stream, seq, body) VALUES (?, ?, ?)",
                (self.stream, seq, build(seq)),
            )
            self._db.execute(
                "UPDATE streams SET next_seq = ? WHERE stream = ?", (seq + 1, self.stream)
            )
            self._count += 1
            if self._count > self._file.max_messages:
                self._drop_oldest(self._count - self._file.max_messages)
        return seq

    def tail(self) -> tuple[int, str] | None:
        row = self._db.execute(
            "SELECT seq, body FROM messages WHERE stream = ? ORDER BY seq DESC LIMIT 1",
            (self.stream,),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def replace(self, seq: int, text: str) -> None:
        self._db.execute(
            "UPDATE messages SET body = ? WHERE stream = ? AND seq = ?", (text, self.stream, seq)
        )

    def pending(self, after_seq: int = -1) -> list[tuple[int, str]]:
        rows = self._db.execute(
            "SELECT seq, body FROM messages WHERE stream = ? AND seq > ? ORDER BY seq",
            (self.stream, after_seq),
        )
        return [(int(seq), str(body)) for seq, body in rows]

    def ack(self, seq: int) -> None:
        cursor = self._db.execute(
            "DELETE FROM messages WHERE stream = ? AND seq = ?", (self.stream, seq)
        )
        self._count -= cursor.rowcount

    def align(self, last_seq: int | None) -> int:
        with self._transaction():
            next_seq, synced = self._db.execute(
                "SELECT next_seq, synced FROM streams WHERE stream = ?", (self.stream,)
            ).fetchone()
            items = self.pending()
            start = _renumber_from(
                last_seq=last_seq,
                next_seq=next_seq,
                synced=bool(synced),
                first_pending=items[0][0] if items else None,
            )
            if last_seq is not None:
                next_seq = max(next_seq, last_seq + 1)
            if start is not None:
                self._db.execute("DELETE FROM messages WHERE stream = ?", (self.stream,))
                self._db.executemany(
                    "INSERT INTO messages (stream, seq, body) VALUES (?, ?, ?)",
                    [
                        (self.stream, start + i, _with_seq(text, start + i))
                        for i, (_, text) in enumerate(items)
                    ],
                )
                next_seq = start + len(items)
            self._db.execute(
                "UPDATE streams SET next_seq = ?, synced = 1 WHERE stream = ?",
                (next_seq, self.stream),
            )
        return 0 if start is None else len(items)

    def __len__(self) -> int:
        return self._count

    def _drop_oldest(self, n: int) -> None:
        rows = self._db.execute(
            "SELECT seq, body FROM messages WHERE stream = ? ORDER BY seq LIMIT ?",
            (self.stream, n),
        ).fetchall()
        notifications = sum(_notification_count(body) for _, body in rows)
        self._db.executemany(
            "DELETE FROM messages WHERE stream = ? AND seq = ?",
            [(self.stream, seq) for seq, _ in rows],
        )
        self._count -= len(rows)
        self._db.execute(
            "UPDATE streams SET dropped_messages = dropped_messages + ?,"
            " dropped_notifications = dropped_notifications + ? WHERE stream = ?",
            (len(rows), notifications, self.stream),
        )
        total = self.dropped_messages
        if total <= DROP_LOG_FIRST or total % DROP_LOG_EVERY < len(rows):
            log.error(
                "outbox_full_dropping_oldest",
                outbox=str(self._file.path),
                stream=self.stream,
                max_messages=self._file.max_messages,
                dropped_messages_total=total,
                dropped_notifications_total=self.dropped_notifications,
                advice="the service has been unreachable for long; data older than the newest"
                f" {self._file.max_messages} messages is being discarded. Check --server and"
                " the network, or raise --outbox-max-messages",
            )

    def _scalar(self, query: str) -> int:
        row = self._db.execute(query, (self.stream,)).fetchone()
        return int(row[0]) if row else 0

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
