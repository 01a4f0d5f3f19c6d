"""Recordings: the raw input export, the session's events, re-analysis and its audit trail."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from attune.api.analysis import analyse
from attune.api.auth import SessionAccess, check_origin, session_access
from attune.api.deps import ServicesDep
from attune.api.errors import responses
from attune.api.models import (
    AnalysisIn,
    AnalysisOut,
    AuditEntryOut,
    CueShownOut,
    MarkerOut,
    PacerChangeOut,
    RecordedInputOut,
    RecordingPageOut,
    SessionEventsOut,
)
from attune.api.stream import engine_config
from attune.store.recording import complete_order

router = APIRouter(
    prefix="/api/sessions/{session_id}",
    tags=["recordings"],
    dependencies=[Depends(check_origin)],
    responses=responses(401, 403, 404),
)
MAX_PAGE = 5000


def _reader(action: str) -> object:
    return Depends(session_access("therapist", "reviewer", action=action))


@router.get("/recording")
async def export_recording(
    access: Annotated[SessionAccess, _reader("recording.export")],
    svc: ServicesDep,
    after: Annotated[int, Query(ge=0, description="Last input_no already read.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> RecordingPageOut:
    """The raw recording: every collector message as committed (0x2A37 payloads with their
    arrival times, link events, battery), in the order the live pipeline consumed them."""
    items = await svc.store.recording.collector_inputs(
        access.session.id, after_input_no=after, limit=limit
    )
    return RecordingPageOut(
        session_id=access.session.id,
        origin_s=access.session.origin_s,
        items=[
            RecordedInputOut(
                input_no=i.input_no, participant_id=i.participant_id, live=i.live, message=i.message
            )
            for i in items
        ],
        next_after=items[-1].input_no if len(items) == limit else None,
    )


@router.get("/events")
async def session_events(
    access: Annotated[SessionAccess, _reader("events.read")], svc: ServicesDep
) -> SessionEventsOut:
    """Markers, pacer changes and cues shown, in session time."""
    recording, events = svc.store.recording, svc.store.events
    session_id = access.session.id
    return SessionEventsOut(
        markers=[MarkerOut.model_validate(m) for m in await recording.markers(session_id)],
        pacer_changes=[
            PacerChangeOut.model_validate(p) for p in await events.pacer_changes(session_id)
        ],
        cues_shown=[CueShownOut.model_validate(c) for c in await events.cues_shown(session_id)],
    )


@router.post("/analysis", responses=responses(422))
async def reanalyse(
    body: AnalysisIn,
    access: Annotated[SessionAccess, _reader("recording.analyse")],
    svc: ServicesDep,
) -> AnalysisOut:
    """Recompute the session's metrics with other engine settings (e.g. ``window_s``)."""
    config = engine_config(body.engine)
    inputs = await svc.store.recording.collector_inputs(access.session.id)
    ordered = complete_order(inputs) if body.include_late else [i for i in inputs if i.live]
    participants = await svc.store.sessions.participants(access.session.id)
    return await asyncio.to_thread(analyse, ordered, access.session.origin_s, config, participants)


@router.get("/audit")
async def session_audit(
    access: Annotated[SessionAccess, Depends(session_access("therapist"))],
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
) -> list[AuditEntryOut]:
    """Who read, exported or changed this session, newest first."""
    entries = await svc.store.audit.entries(session_id=access.session.id, limit=limit)
    return [AuditEntryOut.model_validate(e) for e in entries]
