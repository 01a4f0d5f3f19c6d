"""Therapist accounts, their login sessions, and single-use token bookkeeping.

Password hashing happens above this layer (attune.api.passwords); only hashes reach the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from attune.errors import ConflictError, NotFoundError
from attune.store import schema
from attune.store.database import Database
from attune.store.keys import new_id, new_token, token_digest


@dataclass(frozen=True, slots=True)
class TherapistRow:
    id: str
    username: str
    display_name: str
    created_at_s: float


@dataclass(frozen=True, slots=True)
class Accounts:
    db: Database

    async def add_therapist(
        self, username: str, display_name: str, password_hash: str, *, now_s: float
    ) -> TherapistRow:
        row = TherapistRow(new_id(), username, display_name, now_s)
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    insert(schema.therapists).values(
                        id=row.id,
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        created_at_s=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"a therapist named {username!r} exists") from exc
        return row

    async def therapist(self, therapist_id: str) -> TherapistRow:
        t = schema.therapists
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    select(t.c.id, t.c.username, t.c.display_name, t.c.created_at_s).where(
                        t.c.id == therapist_id
                    )
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no therapist {therapist_id}")
        return TherapistRow(*row)

    async def credentials(self, username: str) -> tuple[TherapistRow, str] | None:
        """The account and its password hash, for a login attempt."""
        t = schema.therapists
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        t.c.id, t.c.username, t.c.display_name, t.c.created_at_s, t.c.password_hash
                    ).where(t.c.username == username)
                )
            ).first()
        return None if row is None else (TherapistRow(*row[:4]), row[4])

    async def therapists(self) -> list[TherapistRow]:
        t = schema.therapists
        query = select(t.c.id, t.c.username, t.c.display_name, t.c.created_at_s).order_by(
            t.c.username
        )
        async with self.db.connect() as conn:
            return [TherapistRow(*r) for r in await conn.execute(query)]

    async def set_password_hash(self, therapist_id: str, password_hash: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                schema.therapists.update()
                .where(schema.therapists.c.id == therapist_id)
                .values(password_hash=password_hash)
            )

    async def open_login(self, therapist_id: str, *, now_s: float, ttl_s: float) -> str:
        """Start a login session; returns the cookie token (stored only as a digest)."""
        token = new_token()
        async with self.db.begin() as conn:
            await conn.execute(
                insert(schema.logins).values(
                    token_sha256=token_digest(token),
                    therapist_id=therapist_id,
                    created_at_s=now_s,
                    expires_at_s=now_s + ttl_s,
                )
            )
        return token

    async def login(self, token: str, *, now_s: float) -> TherapistRow | None:
        """The therapist behind a live login token, or None (unknown or expired)."""
        t, lg = schema.therapists, schema.logins
        query = (
            select(t.c.id, t.c.username, t.c.display_name, t.c.created_at_s)
            .join(lg, lg.c.therapist_id == t.c.id)
            .where(lg.c.token_sha256 == token_digest(token), lg.c.expires_at_s > now_s)
        )
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else TherapistRow(*row)

    async def close_login(self, token: str, *, now_s: float) -> None:
        """End a login session, and sweep expired ones while at it."""
        lg = schema.logins
        async with self.db.begin() as conn:
            await conn.execute(
                delete(lg).where(
                    (lg.c.token_sha256 == token_digest(token)) | (lg.c.expires_at_s <= now_s)
                )
            )

    async def use_once(self, jti: str, *, now_s: float) -> bool:
        """Mark a single-use token as used; False if it already was."""
        try:
            async with self.db.begin() as conn:
                await conn.execute(insert(schema.used_tokens).values(jti=jti, used_at_s=now_s))
        except IntegrityError:
            return False
        return True
