"""Sessions, participants and the append-only recording of collector input."""

from __future__ import annotations

import hashlib
import heapq
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from attune.errors import NotFoundError
from attune.protocol.ingest import Batch, Battery, Link, SeqMessage
from attune.store import schema

Role = Literal["therapist", "client", "other"]


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    title: str
    created_at_s: float
    started_at_s: float | None
    ended_at_s: float | None
    notes: str


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    id: str
    session_id: str
    role: Role
    display_name: str
    sensor_name: str
    sensor_address: str


@dataclass(frozen=True, slots=True)
class RecordedInput:
    """One recorded collector message, in commit order, for replay."""

    participant_id: str
    seq: int
    message: SeqMessage


def _new_id() -> str:
    return uuid.uuid4().hex


def token_digest(token: str) -> str:
    """Tokens are stored as SHA-256 digests; a leaked database leaks no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Recording:
    """Data access for sessions and their recordings."""

    engine: AsyncEngine

    async def create_session(self, title: str, *, now_s: float) -> SessionRow:
        row = SessionRow(_new_id(), title, now_s, None, None, "")
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(schema.sessions).values(id=row.id, title=title, created_at_s=now_s, notes="")
            )
        return row

    async def start_session(self, session_id: str, *, now_s: float) -> SessionRow:
        async with self.engine.begin() as conn:
            await conn.execute(
                schema.sessions.update()
                .where(schema.sessions.c.id == session_id)
                .where(schema.sessions.c.started_at_s.is_(None))
                .values(started_at_s=now_s)
            )
        return await self.session(session_id)

    async def session(self, session_id: str) -> SessionRow:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(schema.sessions).where(schema.sessions.c.id == session_id)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no session {session_id}")
        return SessionRow(*row)

    async def add_participant(
        self, session_id: str, role: Role, display_name: str
    ) -> tuple[ParticipantRow, str]:
        """Add a participant; returns it and its collector token (shown once, stored hashed)."""
        await self.session(session_id)
        token = secrets.token_urlsafe(24)
        row = ParticipantRow(_new_id(), session_id, role, display_name, "", "")
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(schema.participants).values(
                    id=row.id,
                    session_id=session_id,
                    role=role,
                    display_name=display_name,
                    token_sha256=token_digest(token),
                    sensor_name="",
                    sensor_address="",
                )
            )
        return row, token

    async def participants(self, session_id: str) -> list[ParticipantRow]:
        query = (
            select(*self._participant_columns())
            .where(schema.participants.c.session_id == session_id)
            .order_by(schema.participants.c.role.desc(), schema.participants.c.id)
        )
        async with self.engine.connect() as conn:
            return [ParticipantRow(*r) for r in await conn.execute(query)]

    async def participant_by_token(self, token: str) -> ParticipantRow | None:
        query = select(*self._participant_columns()).where(
            schema.participants.c.token_sha256 == token_digest(token)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return ParticipantRow(*row) if row else None

    async def set_sensor(self, participant_id: str, name: str, address: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                schema.participants.update()
                .where(schema.participants.c.id == participant_id)
                .values(sensor_name=name, sensor_address=address)
            )

    async def last_seq(self, participant_id: str) -> int | None:
        query = select(func.max(schema.ingest_log.c.seq)).where(
            schema.ingest_log.c.participant_id == participant_id
        )
        async with self.engine.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return None if value is None else int(value)

    async def record(self, participant_id: str, message: SeqMessage, *, now_s: float) -> bool:
        """Commit one collector message exactly once; False if its seq was already recorded."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(schema.ingest_log).values(
                        participant_id=participant_id,
                        seq=message.seq,
                        kind=message.type,
                        committed_at_s=now_s,
                    )
                )
                await self._insert_body(conn, participant_id, message)
        except IntegrityError:
            # The (participant, seq) key exists: a resend after a lost ack. Nothing to add.
            return False
        return True

    async def recorded_input(self, session_id: str) -> list[RecordedInput]:
        """Every recorded message of a session, in seq order per participant, merged by time."""
        participants = await self.participants(session_id)
        async with self.engine.connect() as conn:
            per_participant = [await self._participant_input(conn, p.id) for p in participants]
        # Merge by arrival time while keeping each participant's seq order intact.
        return list(heapq.merge(*per_participant, key=_input_time))

    async def _participant_input(
        self, conn: AsyncConnection, participant_id: str
    ) -> list[RecordedInput]:
        n, le, b = schema.notifications, schema.link_events, schema.battery_readings
        batches: dict[int, list[dict[str, object]]] = {}
        for row in await conn.execute(
            select(n.c.seq, n.c.received_at_s, n.c.payload)
            .where(n.c.participant_id == participant_id)
            .order_by(n.c.seq, n.c.idx)
        ):
            batches.setdefault(row.seq, []).append(
                {"received_at_s": row.received_at_s, "payload_hex": bytes(row.payload).hex()}
            )
        out = [
            RecordedInput(
                participant_id,
                seq,
                Batch.model_validate({"v": 1, "type": "batch", "seq": seq, "notifications": items}),
            )
            for seq, items in batches.items()
        ]
        for row in await conn.execute(select(le).where(le.c.participant_id == participant_id)):
            link = Link(
                v=1, type="link", seq=row.seq, at_s=row.at_s, state=row.state, reason=row.reason
            )
            out.append(RecordedInput(participant_id, row.seq, link))
        for row in await conn.execute(select(b).where(b.c.participant_id == participant_id)):
            battery = Battery(
                v=1, type="battery", seq=row.seq, at_s=row.at_s, level_pct=row.level_pct
            )
            out.append(RecordedInput(participant_id, row.seq, battery))
        return sorted(out, key=lambda r: r.seq)

    @staticmethod
    async def _insert_body(conn: AsyncConnection, participant_id: str, message: SeqMessage) -> None:
        if isinstance(message, Batch):
            await conn.execute(
                insert(schema.notifications),
                [
                    {
                        "participant_id": participant_id,
                        "seq": message.seq,
                        "idx": idx,
                        "received_at_s": n.received_at_s,
                        "payload": n.payload,
                    }
                    for idx, n in enumerate(message.notifications)
                ],
            )
        elif isinstance(message, Link):
            await conn.execute(
                insert(schema.link_events).values(
                    participant_id=participant_id,
                    seq=message.seq,
                    at_s=message.at_s,
                    state=message.state.value,
                    reason=message.reason,
                )
            )
        else:
            await conn.execute(
                insert(schema.battery_readings).values(
                    participant_id=participant_id,
                    seq=message.seq,
                    at_s=message.at_s,
                    level_pct=message.level_pct,
                )
            )

    @staticmethod
    def _participant_columns() -> tuple[ColumnElement[Any], ...]:
        c = schema.participants.c
        return (c.id, c.session_id, c.role, c.display_name, c.sensor_name, c.sensor_address)


def _input_time(item: RecordedInput) -> float:
    message = item.message
    if isinstance(message, Batch):
        return message.notifications[0].received_at_s
    return message.at_s
