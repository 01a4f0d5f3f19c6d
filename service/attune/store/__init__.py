"""Storage: SQLite by default, PostgreSQL by URL, through SQLAlchemy Core (async).

``Store`` bundles one engine's data access by domain: accounts, clients, sessions (with
participants and links), the recording (inputs), session controls (inputs too), session
events (pacer, cues) and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from attune.store.accounts import Accounts, TherapistRow
from attune.store.audit import AuditEntry, AuditLog
from attune.store.clients import Baseline, ClientRow, Clients
from attune.store.controls import ControlRow, Controls
from attune.store.database import Database, open_database
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
    db: Database
    accounts: Accounts
    clients: Clients
    sessions: Sessions
    recording: Recording
    events: SessionEvents
    audit: AuditLog
    controls: Controls

    @classmethod
    def on(cls, engine: AsyncEngine) -> Store:
        db = Database(engine)
        return cls(
            db,
            Accounts(db),
            Clients(db),
            Sessions(db),
            Recording(db),
            SessionEvents(db),
            AuditLog(db),
            Controls(db),
        )

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> Store:
        """Open (and migrate) the database at ``url``."""
        return cls.on(await open_database(url, schema=schema))

    @property
    def engine(self) -> AsyncEngine:
        return self.db.engine

    async def close(self) -> None:
        await self.db.close()


__all__ = [
    "AuditEntry",
    "Baseline",
    "ClientRow",
    "ControlRow",
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
