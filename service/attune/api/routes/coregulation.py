"""A session's co-regulation controls: the breathing pacer, the resonance-frequency
assessment and what the client view shows. Each runs on the instance that computes the
session (attune.api.controls), wherever the request arrived."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from attune.api import controls
from attune.api.auth import SessionAccess, check_origin, session_access
from attune.api.deps import Services, ServicesDep
from attune.api.errors import responses
from attune.api.models import ClientViewIn, ClientViewOut, PacerIn, PacerOut, ResonanceOut

router = APIRouter(
    prefix="/api/sessions",
    tags=["co-regulation"],
    dependencies=[Depends(check_origin)],
    responses=responses(401, 403, 404),
)
OWNER = Annotated[SessionAccess, Depends(session_access("therapist"))]
THERAPIST_SOURCE = "therapist"
RESONANCE_SOURCE = "resonance"  # the client's stored resonance rate, at session start
DEFAULT_EXHALE_RATIO = 1.5


async def start_at_resonance(svc: Services, session_id: str, client_id: str | None) -> None:
    """A session just started: if its client has a stored resonance rate, the pacer starts
    at that rate."""
    if client_id is None:
        return
    client = await svc.store.clients.get(client_id)
    if client.resonance_breaths_per_min is not None:
        args = controls.PacerArgs(
            breaths_per_min=client.resonance_breaths_per_min,
            exhale_ratio=DEFAULT_EXHALE_RATIO,
            source=RESONANCE_SOURCE,
            author_id=None,
            now_s=svc.clock(),
        )
        await svc.runtimes.on_owner(session_id, controls.START_PACER, args)


@router.get("/{session_id}/pacer", responses=responses(409))
async def get_pacer(access: OWNER, svc: ServicesDep) -> PacerOut:
    """The pacer's current setting."""
    return await svc.runtimes.on_owner(access.session.id, controls.GET_PACER, controls.Look())


@router.put("/{session_id}/pacer", responses=responses(409))
async def put_pacer(body: PacerIn, access: OWNER, svc: ServicesDep) -> PacerOut:
    """Start the breathing pacer, or change it from the end of the current breath. It shows
    on the client view; a running resonance assessment is cancelled."""
    args = controls.PacerArgs(
        breaths_per_min=body.breaths_per_min,
        exhale_ratio=body.exhale_ratio,
        source=THERAPIST_SOURCE,
        author_id=access.therapist_id,
        now_s=svc.clock(),
    )
    return await svc.runtimes.on_owner(access.session.id, controls.SET_PACER, args)


@router.delete("/{session_id}/pacer", responses=responses(409))
async def delete_pacer(access: OWNER, svc: ServicesDep) -> PacerOut:
    """Stop the pacer at once (nothing is recorded if it is not running)."""
    args = controls.StopArgs(
        source=THERAPIST_SOURCE, author_id=access.therapist_id, now_s=svc.clock()
    )
    return await svc.runtimes.on_owner(access.session.id, controls.STOP_PACER, args)


@router.get("/{session_id}/resonance", responses=responses(409))
async def get_resonance(access: OWNER, svc: ServicesDep) -> ResonanceOut:
    """The latest resonance assessment of the session: its step, measurements and result."""
    look = controls.Look()
    return await svc.runtimes.on_owner(access.session.id, controls.GET_RESONANCE, look)


@router.post("/{session_id}/resonance", status_code=201, responses=responses(409))
async def start_resonance(access: OWNER, svc: ServicesDep) -> ResonanceOut:
    """Start the stepped resonance-frequency protocol (6.5 down to 4.5 breaths/min, about
    2 minutes each), which drives the pacer; the picked rate is stored on the client."""
    change = controls.Change(author_id=access.therapist_id, now_s=svc.clock())
    return await svc.runtimes.on_owner(access.session.id, controls.START_RESONANCE, change)


@router.delete("/{session_id}/resonance", responses=responses(409))
async def cancel_resonance(access: OWNER, svc: ServicesDep) -> ResonanceOut:
    """Cancel the running assessment (its pacer stops)."""
    change = controls.Change(author_id=access.therapist_id, now_s=svc.clock())
    return await svc.runtimes.on_owner(access.session.id, controls.CANCEL_RESONANCE, change)


@router.get("/{session_id}/client-view")
async def get_client_view(access: OWNER, svc: ServicesDep) -> ClientViewOut:
    """What the client view shows (stored, so any instance answers)."""
    return ClientViewOut(show_numbers=await svc.store.sessions.show_numbers(access.session.id))


@router.put("/{session_id}/client-view", responses=responses(409))
async def put_client_view(body: ClientViewIn, access: OWNER, svc: ServicesDep) -> ClientViewOut:
    """Show or hide numbers (HR, calm) on the client view; it changes live."""
    args = controls.ClientViewArgs(
        show_numbers=body.show_numbers, author_id=access.therapist_id, now_s=svc.clock()
    )
    return await svc.runtimes.on_owner(access.session.id, controls.SET_CLIENT_VIEW, args)
