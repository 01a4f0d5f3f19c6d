"""Sessions, their participants (with collector tokens) and their view links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, insert, select

from attune.errors import NotFoundError
from attune.store import schema
from attune.store.database import Database
from attune.store.keys import new_id, new_token, token_digest

Role = Literal["therapist", "client", "other"]
LinkRole = Literal["client", "reviewer"]


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    title: str
    created_at_s: float
    started_at_s: float | None
    ended_at_s: float | None
    notes: str
    client_id: str | None
    therapist_id: str | None

    @property
    def state(self) -> Literal["created", "running", "ended"]:
        if self.ended_at_s is not None:
            return "ended"
        return "running" if self.started_at_s is not None else "created"

    @property
    def origin_s(self) -> float:
        """Wall time of session time zero: the start, or the creation before a start."""
        return self.started_at_s if self.started_at_s is not None else self.created_at_s


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    id: str
    session_id: str
    role: Role
    display_name: str
    sensor_name: str
    sensor_address: str


@dataclass(frozen=True, slots=True)
class LinkRow:
    id: str
    session_id: str
    role: LinkRole
    created_at_s: float
    expires_at_s: float
    revoked_at_s: float | None
    created_by: str | None

    def usable(self, now_s: float) -> bool:
        return self.revoked_at_s is None and now_s < self.expires_at_s


@dataclass(frozen=True, slots=True)
class Sessions:
    db: Database

    async def create(
        self,
        title: str,
        *,
        now_s: float,
        client_id: str | None = None,
        therapist_id: str | None = None,
    ) -> SessionRow:
        row = SessionRow(new_id(), title, now_s, None, None, "", client_id, therapist_id)
        async with self.db.begin() as conn:
            await conn.execute(
                insert(schema.sessions).values(
                    id=row.id,
                    title=title,
                    created_at_s=now_s,
                    notes="",
                    client_id=client_id,
                    therapist_id=therapist_id,
                )
            )
        return row

    async def get(self, session_id: str) -> SessionRow:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(select(*_SESSION).where(schema.sessions.c.id == session_id))
            ).first()
        if row is None:
            raise NotFoundError(f"no session {session_id}")
        return SessionRow(*row)

    async def of_therapist(
        self, therapist_id: str, *, client_id: str | None = None
    ) -> list[SessionRow]:
        s = schema.sessions
        query = select(*_SESSION).where(s.c.therapist_id == therapist_id)
        if client_id is not None:
            query = query.where(s.c.client_id == client_id)
        async with self.db.connect() as conn:
            rows = await conn.execute(query.order_by(s.c.created_at_s.desc(), s.c.id))
            return [SessionRow(*r) for r in rows]

    async def start(self, session_id: str, *, now_s: float) -> SessionRow:
        """Start the session (a no-op once started)."""
        s = schema.sessions
        await self._update(session_id, s.c.started_at_s.is_(None), started_at_s=now_s)
        return await self.get(session_id)

    async def stop(self, session_id: str, *, now_s: float) -> SessionRow:
        """End the session (a no-op once ended); an unstarted session starts and ends now."""
        s = schema.sessions
        await self._update(session_id, s.c.started_at_s.is_(None), started_at_s=now_s)
        await self._update(session_id, s.c.ended_at_s.is_(None), ended_at_s=now_s)
        return await self.get(session_id)

    async def set_notes(self, session_id: str, notes: str) -> SessionRow:
        await self._update(session_id, None, notes=notes)
        return await self.get(session_id)

    async def show_numbers(self, session_id: str) -> bool:
        """Whether the client view shows numbers besides the calm meter."""
        s = schema.sessions
        async with self.db.connect() as conn:
            value = (
                await conn.execute(select(s.c.show_numbers).where(s.c.id == session_id))
            ).scalar()
        if value is None:
            raise NotFoundError(f"no session {session_id}")
        return bool(value)

    async def set_show_numbers(self, session_id: str, show_numbers: bool) -> None:
        await self._update(session_id, None, show_numbers=show_numbers)

    async def _update(
        self,
        session_id: str,
        condition: ColumnElement[bool] | None,
        **values: float | str | bool | None,
    ) -> None:
        await self.get(session_id)
        query = schema.sessions.update().where(schema.sessions.c.id == session_id)
        if condition is not None:
            query = query.where(condition)
        async with self.db.begin() as conn:
            await conn.execute(query.values(**values))

    # Participants

    async def add_participant(
        self, session_id: str, role: Role, display_name: str
    ) -> tuple[ParticipantRow, str]:
        """Add a participant; returns it and its collector token (shown once, stored hashed)."""
        await self.get(session_id)
        token = new_token()
        row = ParticipantRow(new_id(), session_id, role, display_name, "", "")
        async with self.db.begin() as conn:
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
        p = schema.participants
        query = (
            select(*_PARTICIPANT)
            .where(p.c.session_id == session_id)
            .order_by(p.c.role.desc(), p.c.id)
        )
        async with self.db.connect() as conn:
            return [ParticipantRow(*r) for r in await conn.execute(query)]

    async def participant(self, participant_id: str) -> ParticipantRow:
        query = select(*_PARTICIPANT).where(schema.participants.c.id == participant_id)
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFoundError(f"no participant {participant_id}")
        return ParticipantRow(*row)

    async def participant_by_token(self, token: str) -> ParticipantRow | None:
        query = select(*_PARTICIPANT).where(
            schema.participants.c.token_sha256 == token_digest(token)
        )
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).first()
        return ParticipantRow(*row) if row else None

    async def rotate_token(self, participant_id: str) -> str:
        """Replace a participant's collector token; the old one stops working."""
        token = new_token()
        async with self.db.begin() as conn:
            result = await conn.execute(
                schema.participants.update()
                .where(schema.participants.c.id == participant_id)
                .values(token_sha256=token_digest(token))
            )
        if not result.rowcount:
            raise NotFoundError(f"no participant {participant_id}")
        return token

    async def set_sensor(self, participant_id: str, name: str, address: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                schema.participants.update()
                .where(schema.participants.c.id == participant_id)
                .values(sensor_name=name, sensor_address=address)
            )

    # View links

    async def create_link(
        self,
        session_id: str,
        role: LinkRole,
        *,
        now_s: float,
        ttl_s: float,
        created_by: str | None,
    ) -> LinkRow:
        await self.get(session_id)
        row = LinkRow(new_id(), session_id, role, now_s, now_s + ttl_s, None, created_by)
        async with self.db.begin() as conn:
            await conn.execute(
                insert(schema.view_links).values(
                    id=row.id,
                    session_id=session_id,
                    role=role,
                    created_at_s=now_s,
                    expires_at_s=row.expires_at_s,
                    created_by=created_by,
                )
            )
        return row

    async def link(self, link_id: str) -> LinkRow | None:
        query = select(*_LINK).where(schema.view_links.c.id == link_id)
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).first()
        return LinkRow(*row) if row else None

    async def links(self, session_id: str) -> list[LinkRow]:
        v = schema.view_links
        query = select(*_LINK).where(v.c.session_id == session_id).order_by(v.c.created_at_s)
        async with self.db.connect() as conn:
            return [LinkRow(*r) for r in await conn.execute(query)]

    async def revoke_link(self, session_id: str, link_id: str, *, now_s: float) -> LinkRow:
        v = schema.view_links
        async with self.db.begin() as conn:
            await conn.execute(
                v.update()
                .where(v.c.id == link_id, v.c.session_id == session_id, v.c.revoked_at_s.is_(None))
                .values(revoked_at_s=now_s)
            )
        row = await self.link(link_id)
        if row is None or row.session_id != session_id:
            raise NotFoundError(f"no link {link_id} in this session")
        return row


_SESSION = tuple(
    schema.sessions.c[name]
    for name in (
        "id",
        "title",
        "created_at_s",
        "started_at_s",
        "ended_at_s",
        "notes",
        "client_id",
        "therapist_id",
    )
)
_PARTICIPANT = tuple(
    schema.participants.c[name]
    for name in ("id", "session_id", "role", "display_name", "sensor_name", "sensor_address")
)
_LINK = tuple(
    schema.view_links.c[name]
    for name in (
        "id",
        "session_id",
        "role",
        "created_at_s",
        "expires_at_s",
        "revoked_at_s",
        "created_by",
    )
)
