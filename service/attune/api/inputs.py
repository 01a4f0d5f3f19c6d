"""Reading what a session's stream is built from: its inputs (collector messages, markers and
controls, in input order) and its setup (roles, the client's stored calm baseline, cues)."""

from __future__ import annotations

import dataclasses

import structlog
from pydantic import JsonValue

from attune.api.stream import AnyInput, StreamSetup
from attune.cues.config import CueConfig
from attune.errors import DataError
from attune.hrv.calm import CalmBaseline
from attune.store import ParticipantRow, SessionRow, Store

log = structlog.get_logger(__name__)


async def session_inputs(store: Store, session_id: str) -> list[AnyInput]:
    """Everything the live pipeline consumed, in the order it did."""
    inputs: list[AnyInput] = list(await store.recording.inputs(session_id))
    inputs += await store.controls.of_session(session_id)
    return sorted(inputs, key=lambda item: item.input_no)


async def stream_setup(
    store: Store,
    session: SessionRow,
    participants: list[ParticipantRow],
    cue_config: CueConfig | None = None,
) -> StreamSetup:
    """The setup a session's stream starts from. The client's calm baseline counts only if it
    was stored before the session was created: one this session learnt (and stored) itself
    must not change how the session is rebuilt or replayed."""
    baseline = None
    if session.client_id is not None:
        stored = await store.clients.baseline(session.client_id)
        if stored is not None and stored.set_at_s <= session.created_at_s:
            baseline = calm_baseline(stored.value)
    return StreamSetup.of(participants, baseline, cue_config)


def calm_baseline(value: object) -> CalmBaseline | None:
    """A stored baseline (``baseline_json``, hrv.calm.CalmBaseline's fields), or None if it
    is not one (it is then relearnt, and the next learnt one replaces it)."""
    if not isinstance(value, dict):
        log.warning("stored calm baseline ignored", reason="not a JSON object")
        return None
    try:
        return CalmBaseline(**value)
    except (TypeError, DataError) as exc:
        log.warning("stored calm baseline ignored", reason=str(exc))
        return None


def baseline_json(baseline: CalmBaseline) -> JsonValue:
    """The stored form of a calm baseline."""
    return dataclasses.asdict(baseline)
