"""Clients: a pseudonym and a display name, the HRV engine's baseline and a resonance rate.

Deleting a client deletes their sessions, and through the foreign-key cascades every
participant, recording, marker, pacer change, cue and link of those sessions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog
from pydantic import JsonValue
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from attune.errors import ConflictError, NotFoundError
from attune.store import schema
from attune.store.database import Database
from attune.store.keys import new_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ClientRow:
    id: str
    therapist_id: str
    pseudonym: str
    display_name: str
    created_at_s: float
    resonance_breaths_per_min: float | None
    resonance_set_at_s: float | None
    baseline_set_at_s: float | None


@dataclass(frozen=True, slots=True)
class Baseline:
    """The engine's baseline for a client, as stored: an opaque JSON value."""

    value: JsonValue
    set_at_s: float


@dataclass(frozen=True, slots=True)
class Clients:
    db: Database

    async def create(
        self, therapist_id: str, pseudonym: str, display_name: str, *, now_s: float
    ) -> ClientRow:
        row = ClientRow(new_id(), therapist_id, pseudonym, display_name, now_s, None, None, None)
        try:
            async with self.db.begin() as conn:
                await conn.execute(
                    insert(schema.clients).values(
                        id=row.id,
                        therapist_id=therapist_id,
                        pseudonym=pseudonym,
                        display_name=display_name,
                        created_at_s=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"you already have a client {pseudonym!r}") from exc
        return row

    async def get(self, client_id: str) -> ClientRow:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(select(*_COLUMNS).where(schema.clients.c.id == client_id))
            ).first()
        if row is None:
            raise NotFoundError(f"no client {client_id}")
        return ClientRow(*row)

    async def of_therapist(self, therapist_id: str) -> list[ClientRow]:
        c = schema.clients
        query = select(*_COLUMNS).where(c.c.therapist_id == therapist_id).order_by(c.c.pseudonym)
        async with self.db.connect() as conn:
            return [ClientRow(*r) for r in await conn.execute(query)]

    async def set_baseline(self, client_id: str, value: JsonValue, *, now_s: float) -> Baseline:
        """Store the engine's baseline (any JSON value; ``hrv`` defines its shape)."""
        await self._update(client_id, baseline_json=json.dumps(value), baseline_set_at_s=now_s)
        return Baseline(value, now_s)

    async def baseline(self, client_id: str) -> Baseline | None:
        c = schema.clients
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    select(c.c.baseline_json, c.c.baseline_set_at_s).where(c.c.id == client_id)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no client {client_id}")
        return None if row[0] is None else Baseline(json.loads(row[0]), row[1])

    async def set_resonance(
        self, client_id: str, breaths_per_min: float, *, now_s: float
    ) -> ClientRow:
        await self._update(
            client_id, resonance_breaths_per_min=breaths_per_min, resonance_set_at_s=now_s
        )
        return await self.get(client_id)

    async def delete(self, client_id: str) -> int:
        """Erase a client and everything recorded about them; returns their session count."""
        c, s = schema.clients, schema.sessions
        async with self.db.begin() as conn:
            sessions_n = (
                await conn.execute(select(func.count()).where(s.c.client_id == client_id))
            ).scalar_one()
            deleted = (await conn.execute(delete(c).where(c.c.id == client_id))).rowcount
        if not deleted:
            raise NotFoundError(f"no client {client_id}")
        if not await self.db.compact_after_erasure():
            # A reader still held old pages; the log's next checkpoint overwrites them.
            log.warning("erasure_log_not_truncated", client=client_id)
        return int(sessions_n)

    async def _update(self, client_id: str, **values: float | str | None) -> None:
        async with self.db.begin() as conn:
            result = await conn.execute(
                schema.clients.update().where(schema.clients.c.id == client_id).values(**values)
            )
        if not result.rowcount:
            raise NotFoundError(f"no client {client_id}")


_COLUMNS = (
    schema.clients.c.id,
    schema.clients.c.therapist_id,
    schema.clients.c.pseudonym,
    schema.clients.c.display_name,
    schema.clients.c.created_at_s,
    schema.clients.c.resonance_breaths_per_min,
    schema.clients.c.resonance_set_at_s,
    schema.clients.c.baseline_set_at_s,
)
