"""Exports of a recorded session, as files (docs/exports.md): the owning therapist or a
reviewer link for the session; every attempt is audited (action ``export``, the resource
naming the file), refused ones too."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from starlette.requests import Request
from starlette.responses import Response

from attune.api.auth import (
    BearerCredentials,
    CookieToken,
    SessionIdPath,
    ViewRole,
    audit,
    authorize_session,
    check_origin,
)
from attune.api.deps import ServicesDep
from attune.api.errors import responses
from attune.errors import AuthError, ForbiddenError, NotFoundError
from attune.export.document import SessionDocument
from attune.export.formats import CSV, EDF, HTML, NAMES, TEXT, check_name, render
from attune.export.load import load_session
from attune.export.report import content_security_policy

router = APIRouter(
    prefix="/api/sessions/{session_id}",
    tags=["exports"],
    dependencies=[Depends(check_origin)],
    responses=responses(401, 403, 404),
)
READERS: frozenset[ViewRole] = frozenset({"therapist", "reviewer"})
ExportName = Annotated[
    str,
    Path(
        max_length=160,
        description=f"One of {', '.join(NAMES)}.",
        examples=["beats.csv", "session.json", "report.html"],
    ),
]
_TEXT_SCHEMA: dict[str, Any] = {"schema": {"type": "string"}}
_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with its download name in Content-Disposition.",
        "model": SessionDocument,  # session.json
        "content": {
            CSV: _TEXT_SCHEMA,
            TEXT: _TEXT_SCHEMA,
            HTML: _TEXT_SCHEMA,
            EDF: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get("/exports/{name}", response_class=Response, responses=_OK)
async def export_file(
    session_id: SessionIdPath,
    name: ExportName,
    *,
    request: Request,
    svc: ServicesDep,
    cookie: CookieToken,
    bearer: BearerCredentials,
) -> Response:
    """A recorded session as a file: ``beats.csv``, ``metrics.csv``, ``session.json``,
    ``session.edf``, ``report.html`` (shown inline) or ``rr-{participant_id}.txt``."""
    resource = f"session:{session_id}/export/{name}"[:128]
    token = bearer.credentials if bearer is not None else None
    try:
        access = await authorize_session(
            svc, session_id, link_token=token, cookie=cookie, roles=READERS
        )
    except (AuthError, ForbiddenError, NotFoundError):
        await audit(
            svc, request, None, "export", session_id=session_id, resource=resource, outcome="denied"
        )
        raise
    participants = await svc.store.sessions.participants(session_id)
    check_name(name, frozenset(p.id for p in participants))  # before reading the recording
    await audit(svc, request, access.principal, "export", session_id=session_id, resource=resource)
    stored = await load_session(svc.store, session_id)
    file = await asyncio.to_thread(render, stored, name, exported_at_s=svc.clock())
    disposition = "inline" if file.inline else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{file.filename}"',
        # Personal health data: no copy in shared or browser caches.
        "Cache-Control": "no-store",
    }
    if file.media_type == HTML:
        headers["Content-Security-Policy"] = content_security_policy()
    return Response(file.content, media_type=file.media_type, headers=headers)
