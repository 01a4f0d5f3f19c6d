"""Recordings: SQLite by default, PostgreSQL by URL, through SQLAlchemy Core (async)."""

from attune.store.database import open_database
from attune.store.recording import (
    ParticipantRow,
    RecordedInput,
    Recording,
    SessionRow,
)

__all__ = ["ParticipantRow", "RecordedInput", "Recording", "SessionRow", "open_database"]
