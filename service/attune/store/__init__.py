"""Storage: SQLite by default, PostgreSQL by URL, through SQLAlchemy Core (async).

``Store`` bundles one engine's data access by domain: accounts, clients, sessions (with
participants and links), the recording (inputs), session events (pacer, cues) and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from attune.store.accounts import Accounts, TherapistRow
from attune.store.audit import AuditEntry, AuditLog
from attune.store.clients import Baseline, ClientRow, Clients
from attune.store.database import open_database
from attune.store.events import CueShownRow, PacerChangeRow, SessionEvents
from attune.store.recording import (
    MarkerRow,
    PendingRecord,
    RecordedInput,
    Recording,
    RecordOutcome,
    SessionInput,
)
from attune.store.sessions import LinkRole, LinkRow, ParticipantRow, Role, SessionRow, Sessions


@dataclass(frozen=True, slots=True)
class Store:
    engine: AsyncEngine
    accounts: Accounts
    clients: Clients
    sessions: Sessions
    recording: Recording
    events: SessionEvents
    audit: AuditLog

    @classmethod
    def on(cls, engine: AsyncEngine) -> Store:
        return cls(
            engine,
            Accounts(engine),
            Clients(engine),
            Sessions(engine),
            Recording(engine),
            SessionEvents(engine),
            AuditLog(engine),
        )

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> Store:
        """Open (and migrate) the database at ``url``."""
        return cls.on(await open_database(url, schema=schema))

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = [
    "AuditEntry",
    "Baseline",
    "ClientRow",
    "CueShownRow",
    "LinkRole",
    "LinkRow",
    "MarkerRow",
    "PacerChangeRow",
    "ParticipantRow",
    "PendingRecord",
    "RecordOutcome",
    "RecordedInput",
    "Role",
    "SessionEvents",
    "SessionInput",
    "SessionRow",
    "Sessions",
    "Store",
    "TherapistRow",
    "open_database",
]
