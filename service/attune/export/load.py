"""Reading a session's stored data for an export (the store is the only I/O here)."""

from __future__ import annotations

from attune.export.record import StoredSession
from attune.store import Store


async def load_session(store: Store, session_id: str) -> StoredSession:
    """Everything the exports need of one session; NotFoundError if there is none."""
    session = await store.sessions.get(session_id)
    return StoredSession(
        session=session,
        participants=tuple(await store.sessions.participants(session_id)),
        collector_inputs=tuple(await store.recording.collector_inputs(session_id)),
        markers=tuple(await store.recording.markers(session_id)),
        pacer_changes=tuple(await store.events.pacer_changes(session_id)),
        cues=tuple(await store.events.cues_shown(session_id)),
    )
