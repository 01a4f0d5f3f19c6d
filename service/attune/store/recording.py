"""The append-only recording of a session: collector input and markers (see also events.py).

Collector input and markers (and session controls, store/controls.py) are a session's
*inputs*: each gets the next ``input_no`` of its session when it is committed, the order in
which the live pipeline consumed it, so feeding the inputs back in that order reproduces the
live stream exactly (attune.api.runtime). Each claims its number in ``input_numbers`` in the
same transaction (``claim_input``), so no two inputs of any kinds share one.
"""

from __future__ import annotations

import enum
import hashlib
import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from attune.errors import ConflictError, NotFoundError
from attune.protocol.ingest import Batch, Battery, Link, SeqMessage
from attune.store import schema
from attune.store.database import Database
from attune.store.keys import new_id


class RecordOutcome(enum.Enum):
    """What committing one collector message did."""

    NEW = "new"
    DUPLICATE = "duplicate"  # the same message again (a resend after a lost ack)
    CONFLICT = "conflict"  # a different message under a seq already recorded


@dataclass(frozen=True, slots=True)
class RecordedInput:
    """One recorded collector message. ``live`` is False for a late message (docs/protocol.md,
    "Order"): recorded, but never fed to the live pipeline."""

    input_no: int
    participant_id: str
    live: bool
    message: SeqMessage

    @property
    def seq(self) -> int:
        return self.message.seq

    @property
    def at_s(self) -> float:
        """The collector's wall time of the message (its first notification for a batch)."""
        if isinstance(self.message, Batch):
            return self.message.notifications[0].received_at_s
        return self.message.at_s


@dataclass(frozen=True, slots=True)
class MarkerRow:
    id: str
    session_id: str
    input_no: int
    t_s: float
    text: str
    author_id: str | None
    created_at_s: float


SessionInput = RecordedInput | MarkerRow


def message_digest(message: SeqMessage) -> str:
    """A digest of a message's canonical form, to tell a resend from a reused seq."""
    return hashlib.sha256(message.model_dump_json().encode()).hexdigest()


def complete_order(inputs: Iterable[RecordedInput]) -> list[RecordedInput]:
    """All collector input, late messages included, in seq order per participant, the
    participants merged by collector time: the order for re-analysis."""
    per_participant: dict[str, list[RecordedInput]] = defaultdict(list)
    for item in inputs:
        per_participant[item.participant_id].append(item)
    runs = [sorted(items, key=lambda i: i.seq) for items in per_participant.values()]
    return list(heapq.merge(*runs, key=lambda i: i.at_s))


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """One collector message waiting to be committed (``Recording.record_many``)."""

    session_id: str
    participant_id: str
    message: SeqMessage
    input_no: int
    live: bool
    now_s: float


# The columns a group commit fills, by table, in the order of its row tuples.
_COLUMNS: dict[Table, tuple[str, ...]] = {
    schema.ingest_log: (
        "participant_id",
        "seq",
        "kind",
        "committed_at_s",
        "session_id",
        "input_no",
        "live",
        "body_sha256",
    ),
    schema.input_numbers: ("session_id", "input_no"),
    schema.notifications: ("participant_id", "seq", "idx", "received_at_s", "payload"),
    schema.link_events: ("participant_id", "seq", "at_s", "state", "reason"),
    schema.battery_readings: ("participant_id", "seq", "at_s", "level_pct"),
}
Rows = dict[Table, list[tuple[Any, ...]]]  # the rows to insert, by table, in column order
_MARKS = {"qmark": "?", "format": "%s", "numeric": ":{n}", "numeric_dollar": "${n}"}


@cache  # every group commit inserts into the same few tables
def _insert_statement(table: Table, mark: str) -> str:
    """``INSERT INTO table (its columns) VALUES (...)`` with a driver's positional ``mark``."""
    columns = columns_of(table)
    values = ", ".join(mark.format(n=n) for n in range(1, len(columns) + 1))
    # Names come from the schema and values are bound: nothing here comes from input.
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608


def columns_of(table: Table) -> tuple[str, ...]:
    return _COLUMNS[table]


def ingest_rows(items: list[PendingRecord]) -> Rows:
    """The rows recording ``items``: the log first (its key is what a resend clashes on),
    the input numbers they claim, then the messages' bodies. Plain tuples, so that a batch
    costs no per-row binding work."""
    rows: Rows = {schema.ingest_log: [], schema.input_numbers: []}
    log, claims = rows[schema.ingest_log], rows[schema.input_numbers]
    for item in items:
        message, participant_id = item.message, item.participant_id
        claims.append((item.session_id, item.input_no))
        log.append(
            (
                participant_id,
                message.seq,
                message.type,
                item.now_s,
                item.session_id,
                item.input_no,
                item.live,
                message_digest(message),
            )
        )
        if isinstance(message, Batch):
            rows.setdefault(schema.notifications, []).extend(
                (participant_id, message.seq, idx, n.received_at_s, n.payload)
                for idx, n in enumerate(message.notifications)
            )
        elif isinstance(message, Link):
            rows.setdefault(schema.link_events, []).append(
                (participant_id, message.seq, message.at_s, message.state.value, message.reason)
            )
        else:
            rows.setdefault(schema.battery_readings, []).append(
                (participant_id, message.seq, message.at_s, message.level_pct)
            )
    return rows


async def _insert(db: Database, rows: Rows) -> None:
    """Plain ``executemany`` of tuples where the parameter style is positional (SQLite's and
    asyncpg's are): SQLAlchemy's per-row binding was most of a group commit's CPU in the
    event loop (``attune bench load``, docs/capacity-log.md)."""
    tables = [(table, table_rows) for table, table_rows in rows.items() if table_rows]
    mark = _MARKS.get(db.paramstyle)
    if mark is None:  # a driver that takes named parameters only
        async with db.begin() as conn:
            for table, table_rows in tables:
                names = columns_of(table)
                await conn.execute(
                    insert(table), [dict(zip(names, r, strict=True)) for r in table_rows]
                )
        return
    await db.execute_many(
        [(_insert_statement(table, mark), table_rows) for table, table_rows in tables]
    )


@dataclass(frozen=True, slots=True)
class Recording:
    db: Database

    async def record(
        self,
        session_id: str,
        participant_id: str,
        message: SeqMessage,
        *,
        input_no: int,
        live: bool,
        now_s: float,
    ) -> RecordOutcome:
        """Commit one collector message exactly once, keyed by (participant, seq)."""
        item = PendingRecord(session_id, participant_id, message, input_no, live, now_s)
        try:
            await _insert(self.db, ingest_rows([item]))
        except IntegrityError as exc:
            digest = message_digest(message)
            return await self._explain_conflict(participant_id, message.seq, digest, exc)
        return RecordOutcome.NEW

    async def record_many(self, items: list[PendingRecord]) -> list[RecordOutcome | Exception]:
        """Commit several collector messages (of any sessions) in one transaction: one
        durable commit instead of one each. If any of them clashes with what is stored, each
        is committed on its own instead, so every one gets its own outcome (or error)."""
        rows = ingest_rows(items)
        try:
            await _insert(self.db, rows)
        except IntegrityError:
            outcomes: list[RecordOutcome | Exception] = []
            for item in items:
                try:
                    outcomes.append(
                        await self.record(
                            item.session_id,
                            item.participant_id,
                            item.message,
                            input_no=item.input_no,
                            live=item.live,
                            now_s=item.now_s,
                        )
                    )
                except (ConflictError, NotFoundError) as exc:
                    outcomes.append(exc)
            return outcomes
        return [RecordOutcome.NEW] * len(items)

    async def _explain_conflict(
        self, participant_id: str, seq: int, digest: str, exc: IntegrityError
    ) -> RecordOutcome:
        log = schema.ingest_log
        async with self.db.connect() as conn:
            stored = (
                await conn.execute(
                    select(log.c.body_sha256).where(
                        log.c.participant_id == participant_id, log.c.seq == seq
                    )
                )
            ).first()
            participant_exists = (
                await conn.execute(
                    select(exists().where(schema.participants.c.id == participant_id))
                )
            ).scalar_one()
        if stored is not None:
            # Rows from before migration 0002 have no digest; a resend is the likely case.
            same = stored[0] is None or stored[0] == digest
            return RecordOutcome.DUPLICATE if same else RecordOutcome.CONFLICT
        if not participant_exists:
            raise NotFoundError(f"participant {participant_id} was deleted") from exc
        # The (session, input_no) key: another process is ingesting into this session.
        raise ConflictError(
            "input order clash: is another service ingesting this session?"
        ) from exc

    async def last_seq(self, participant_id: str) -> int | None:
        query = select(func.max(schema.ingest_log.c.seq)).where(
            schema.ingest_log.c.participant_id == participant_id
        )
        async with self.db.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return None if value is None else int(value)

    async def last_input_no(self, session_id: str) -> int:
        """The highest input number used in a session (0 for none)."""
        claims = schema.input_numbers
        query = select(func.max(claims.c.input_no)).where(claims.c.session_id == session_id)
        async with self.db.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return 0 if value is None else int(value)

    async def collector_inputs(
        self, session_id: str, *, after_input_no: int = 0, limit: int | None = None
    ) -> list[RecordedInput]:
        """Recorded collector messages of a session in input order (late ones included)."""
        log = schema.ingest_log
        page = select(log.c.participant_id, log.c.seq, log.c.input_no, log.c.live).where(
            log.c.session_id == session_id, log.c.input_no > after_input_no
        )
        page = page.order_by(log.c.input_no).limit(limit)
        async with self.db.connect() as conn:
            keys = (await conn.execute(page)).all()
            if not keys:
                return []
            span = (keys[0].input_no, keys[-1].input_no)
            bodies = await _bodies(conn, session_id, span)
        return [
            RecordedInput(
                k.input_no, k.participant_id, bool(k.live), bodies[k.participant_id, k.seq]
            )
            for k in keys
        ]

    async def inputs(self, session_id: str) -> list[SessionInput]:
        """Everything the live pipeline consumed, in the order it did."""
        collected: list[SessionInput] = list(await self.collector_inputs(session_id))
        collected += await self.markers(session_id)
        return sorted(collected, key=lambda item: item.input_no)

    # Markers

    async def add_marker(
        self,
        session_id: str,
        *,
        input_no: int,
        t_s: float,
        text: str,
        author_id: str | None,
        now_s: float,
        idempotency_key: str | None = None,
    ) -> MarkerRow:
        """Record a marker as input ``input_no``; ConflictError if that number or the key is
        taken in the session (another instance recorded it: the caller's state is stale)."""
        row = MarkerRow(new_id(), session_id, input_no, t_s, text, author_id, now_s)
        try:
            async with self.db.begin() as conn:
                await claim_input(conn, session_id, input_no)
                await conn.execute(
                    insert(schema.markers).values(
                        id=row.id,
                        session_id=session_id,
                        input_no=input_no,
                        t_s=t_s,
                        text=text,
                        author_id=author_id,
                        created_at_s=now_s,
                        idempotency_key=idempotency_key,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"input {input_no} or this idempotency key is already recorded in session "
                f"{session_id}"
            ) from exc
        return row

    async def marker_by_key(self, session_id: str, idempotency_key: str) -> MarkerRow | None:
        """The session's marker posted with ``idempotency_key``, if there is one."""
        m = schema.markers
        query = select(*_MARKER).where(
            m.c.session_id == session_id, m.c.idempotency_key == idempotency_key
        )
        async with self.db.connect() as conn:
            found = (await conn.execute(query)).first()
        return None if found is None else MarkerRow(*found)

    async def markers(self, session_id: str) -> list[MarkerRow]:
        m = schema.markers
        query = select(*_MARKER).where(m.c.session_id == session_id).order_by(m.c.input_no)
        async with self.db.connect() as conn:
            return [MarkerRow(*r) for r in await conn.execute(query)]


async def claim_input(conn: AsyncConnection, session_id: str, input_no: int) -> None:
    """Claim input number ``input_no`` of the session in ``conn``'s transaction (an
    IntegrityError if it is taken)."""
    await conn.execute(
        insert(schema.input_numbers).values(session_id=session_id, input_no=input_no)
    )


async def _bodies(
    conn: AsyncConnection, session_id: str, span: tuple[int, int]
) -> dict[tuple[str, int], SeqMessage]:
    """The messages of a session's inputs numbered within ``span``, by (participant, seq)."""
    log, n, le, b = (
        schema.ingest_log,
        schema.notifications,
        schema.link_events,
        schema.battery_readings,
    )
    in_span = and_(log.c.session_id == session_id, log.c.input_no.between(*span))

    def joined(table: Table, *columns: ColumnElement[Any]) -> Select[Any]:
        on = and_(table.c.participant_id == log.c.participant_id, table.c.seq == log.c.seq)
        return select(table.c.participant_id, table.c.seq, *columns).join(log, on).where(in_span)

    out: dict[tuple[str, int], SeqMessage] = {}
    notes: dict[tuple[str, int], list[dict[str, object]]] = defaultdict(list)
    for row in await conn.execute(
        joined(n, n.c.received_at_s, n.c.payload).order_by(n.c.participant_id, n.c.seq, n.c.idx)
    ):
        notes[row.participant_id, row.seq].append(
            {"received_at_s": row.received_at_s, "payload_hex": bytes(row.payload).hex()}
        )
    for key, items in notes.items():
        out[key] = Batch.model_validate(
            {"v": 1, "type": "batch", "seq": key[1], "notifications": items}
        )
    for row in await conn.execute(joined(le, le.c.at_s, le.c.state, le.c.reason)):
        out[row.participant_id, row.seq] = _link(row)
    for row in await conn.execute(joined(b, b.c.at_s, b.c.level_pct)):
        out[row.participant_id, row.seq] = Battery(
            v=1, type="battery", seq=row.seq, at_s=row.at_s, level_pct=row.level_pct
        )
    return out


def _link(row: Row[Any]) -> Link:
    return Link(v=1, type="link", seq=row.seq, at_s=row.at_s, state=row.state, reason=row.reason)


_MARKER = tuple(
    schema.markers.c[name]
    for name in ("id", "session_id", "input_no", "t_s", "text", "author_id", "created_at_s")
)
