"""Sessions: create, list, start, stop, notes; their participants, links and markers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.requests import Request

from attune.api.auth import SessionAccess, TherapistDep, audit, check_origin, session_access
from attune.api.controls import ADD_MARKER, MarkerArgs
from attune.api.deps import ServicesDep
from attune.api.errors import responses
from attune.api.links import base_url, ingest_url, issue_view_link
from attune.api.models import (
    CollectorTokenOut,
    IssuedLinkOut,
    LinkIn,
    LinkOut,
    MarkerIn,
    MarkerOut,
    NotesIn,
    ParticipantIn,
    ParticipantOut,
    SessionIn,
    SessionOut,
)
from attune.api.routes.coregulation import start_at_resonance
from attune.api.sockets import REVOKED
from attune.errors import NotFoundError

router = APIRouter(
    prefix="/api/sessions",
    tags=["sessions"],
    dependencies=[Depends(check_origin)],
    responses=responses(401, 403),
)
OWNER = Annotated[SessionAccess, Depends(session_access("therapist"))]
IdPath = Annotated[str, Path(max_length=64)]
# The Idempotency-Key header field (IETF draft-ietf-httpapi-idempotency-key-header): a
# random token the client makes once per marker and sends again with every retry of it.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._~:+/=-]{8,64}$",
        description="Makes retries safe: a post carrying a key already used in this session "
        "answers with that marker instead of recording another (409 if its text differs).",
    ),
]


@router.post("", status_code=201, responses=responses(404))
async def create_session(body: SessionIn, principal: TherapistDep, svc: ServicesDep) -> SessionOut:
    """A new session with one of your clients (start it, or let the first strap start it)."""
    client = await svc.store.clients.get(body.client_id)
    if client.therapist_id != principal.therapist.id:
        raise NotFoundError(f"no client {body.client_id}")
    row = await svc.store.sessions.create(
        body.title, now_s=svc.clock(), client_id=client.id, therapist_id=principal.therapist.id
    )
    return SessionOut.model_validate(row)


@router.get("")
async def list_sessions(
    principal: TherapistDep,
    svc: ServicesDep,
    request: Request,
    client_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SessionOut]:
    """Your sessions, newest first, optionally for one client."""
    rows = await svc.store.sessions.of_therapist(principal.therapist.id, client_id=client_id)
    await audit(svc, request, principal, "session.list", resource="sessions")
    return [SessionOut.model_validate(r) for r in rows]


@router.get("/{session_id}", responses=responses(404))
async def get_session(
    access: Annotated[
        SessionAccess, Depends(session_access("therapist", "reviewer", action="session.read"))
    ],
) -> SessionOut:
    return SessionOut.model_validate(access.session)


@router.post("/{session_id}/start", responses=responses(404))
async def start_session(access: OWNER, svc: ServicesDep) -> SessionOut:
    """Start the clock (session time zero); a no-op once started. If the client has a stored
    resonance rate, the breathing pacer starts at it."""
    row = await svc.store.sessions.start(access.session.id, now_s=svc.clock())
    await svc.runtimes.refresh(row.id)
    if access.session.started_at_s is None:
        await start_at_resonance(svc, row.id, row.client_id)
    return SessionOut.model_validate(row)


@router.post("/{session_id}/stop", responses=responses(404))
async def stop_session(access: OWNER, svc: ServicesDep) -> SessionOut:
    """End the session. Collectors may still deliver what they recorded before the end."""
    row = await svc.store.sessions.stop(access.session.id, now_s=svc.clock())
    await svc.runtimes.refresh(row.id)
    return SessionOut.model_validate(row)


@router.put("/{session_id}/notes", responses=responses(404))
async def put_notes(body: NotesIn, access: OWNER, svc: ServicesDep) -> SessionOut:
    """Replace the session's notes."""
    return SessionOut.model_validate(
        await svc.store.sessions.set_notes(access.session.id, body.notes)
    )


# Participants


@router.get("/{session_id}/participants", tags=["participants"], responses=responses(404))
async def list_participants(
    access: Annotated[
        SessionAccess,
        Depends(session_access("therapist", "reviewer", action="participants.read")),
    ],
    svc: ServicesDep,
) -> list[ParticipantOut]:
    rows = await svc.store.sessions.participants(access.session.id)
    return [ParticipantOut.model_validate(r) for r in rows]


@router.post(
    "/{session_id}/participants",
    status_code=201,
    tags=["participants"],
    responses=responses(404),
)
async def add_participant(
    body: ParticipantIn, access: OWNER, svc: ServicesDep, request: Request
) -> CollectorTokenOut:
    """Add a participant; the response holds its collector token, shown only this once."""
    row, token = await svc.store.sessions.add_participant(
        access.session.id, body.role, body.display_name
    )
    await svc.runtimes.refresh(access.session.id)
    return CollectorTokenOut(
        participant=ParticipantOut.model_validate(row),
        collector_token=token,
        ingest_url=ingest_url(base_url(request)),
    )


@router.post(
    "/{session_id}/participants/{participant_id}/token",
    tags=["participants"],
    responses=responses(404),
)
async def rotate_collector_token(
    participant_id: IdPath, access: OWNER, svc: ServicesDep, request: Request
) -> CollectorTokenOut:
    """Issue a new collector token for a participant; the old one stops working."""
    row = await svc.store.sessions.participant(participant_id)
    if row.session_id != access.session.id:
        raise NotFoundError(f"no participant {participant_id} in this session")
    token = await svc.store.sessions.rotate_token(participant_id)
    return CollectorTokenOut(
        participant=ParticipantOut.model_validate(row),
        collector_token=token,
        ingest_url=ingest_url(base_url(request)),
    )


# Links


@router.get("/{session_id}/links", tags=["links"], responses=responses(404))
async def list_links(access: OWNER, svc: ServicesDep) -> list[LinkOut]:
    """The session's client and reviewer links (without their tokens)."""
    return [LinkOut.model_validate(r) for r in await svc.store.sessions.links(access.session.id)]


@router.post("/{session_id}/links", status_code=201, tags=["links"], responses=responses(404))
async def create_link(
    body: LinkIn, access: OWNER, svc: ServicesDep, request: Request
) -> IssuedLinkOut:
    """A view-only link: ``client`` opens the calm-meter live, ``reviewer`` the replay.
    The token is shown only this once."""
    settings = svc.settings
    default_ttl_s = (
        settings.client_link_ttl_s if body.role == "client" else settings.reviewer_link_ttl_s
    )
    row, token, url = await issue_view_link(
        svc.store.sessions,
        svc.tokens,
        base_url(request),
        access.session.id,
        body.role,
        now_s=svc.clock(),
        ttl_s=body.ttl_s or default_ttl_s,
        created_by=access.therapist_id,
    )
    return IssuedLinkOut.model_validate(
        {**LinkOut.model_validate(row).model_dump(), "token": token, "url": url}
    )


@router.delete("/{session_id}/links/{link_id}", tags=["links"], responses=responses(404))
async def revoke_link(link_id: IdPath, access: OWNER, svc: ServicesDep) -> LinkOut:
    """Revoke a link at once: its token stops working, live and replay sockets included."""
    row = await svc.store.sessions.revoke_link(access.session.id, link_id, now_s=svc.clock())
    await svc.viewers.close(row.session_id, REVOKED, "link revoked", actor=f"link:{row.id}")
    return LinkOut.model_validate(row)


# Markers


@router.get("/{session_id}/markers", tags=["markers"], responses=responses(404))
async def list_markers(
    access: Annotated[
        SessionAccess, Depends(session_access("therapist", "reviewer", action="markers.read"))
    ],
    svc: ServicesDep,
) -> list[MarkerOut]:
    return [
        MarkerOut.model_validate(m) for m in await svc.store.recording.markers(access.session.id)
    ]


@router.post(
    "/{session_id}/markers", status_code=201, tags=["markers"], responses=responses(404, 409)
)
async def add_marker(
    body: MarkerIn, access: OWNER, svc: ServicesDep, idempotency_key: IdempotencyKey = None
) -> MarkerOut:
    """Mark a moment (default: now) with a short text; it is recorded and shown live."""
    now_s = svc.clock()
    t_s = body.t_s if body.t_s is not None else max(0.0, now_s - access.session.origin_s)
    args = MarkerArgs(
        t_s=t_s,
        text=body.text,
        author_id=access.therapist_id,
        now_s=now_s,
        idempotency_key=idempotency_key,
    )
    return await svc.runtimes.on_owner(access.session.id, ADD_MARKER, args)
