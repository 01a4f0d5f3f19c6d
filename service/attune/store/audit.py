"""The audit log: an append-only record of who read, exported or changed what.

Entries hold ids, never names or data (ecosystem.md §5, "Audit log"), so they can outlive a
deleted client. The database refuses UPDATE and DELETE on the table (migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import insert, select

from attune.store import schema
from attune.store.database import Database

Outcome = Literal["ok", "denied"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at_s: float
    actor: str  # "therapist:<id>", "link:<id>", "collector:<participant id>", "admin", "anonymous"
    role: str
    action: str  # e.g. "session.read", "recording.export", "live.watch", "client.delete"
    resource: str  # e.g. "session:<id>"
    session_id: str | None
    outcome: Outcome
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class AuditLog:
    db: Database

    async def append(self, entry: AuditEntry) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                insert(schema.audit_log).values(
                    at_s=entry.at_s,
                    actor=entry.actor[:80],
                    role=entry.role,
                    action=entry.action,
                    resource=entry.resource[:128],
                    session_id=entry.session_id,
                    outcome=entry.outcome,
                    ip=entry.ip,
                    user_agent=(entry.user_agent or "")[:256] or None,
                )
            )

    async def entries(
        self, *, session_id: str | None = None, limit: int = 1000
    ) -> list[AuditEntry]:
        """The newest entries first, optionally for one session."""
        a = schema.audit_log
        query = select(
            a.c.at_s,
            a.c.actor,
            a.c.role,
            a.c.action,
            a.c.resource,
            a.c.session_id,
            a.c.outcome,
            a.c.ip,
            a.c.user_agent,
        )
        if session_id is not None:
            query = query.where(a.c.session_id == session_id)
        query = query.order_by(a.c.id.desc()).limit(limit)
        async with self.db.connect() as conn:
            return [AuditEntry(*r) for r in await conn.execute(query)]
