"""A session's co-regulation controls: the breathing pacer, the resonance-frequency
assessment and what the client view shows. Each change is committed as a session input (so
replay reproduces it) and published live (docs/protocol.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import JsonValue

from attune.api.auth import SessionAccess, check_origin, session_access
from attune.api.deps import Services, ServicesDep
from attune.api.errors import responses
from attune.api.live_messages import resonance_message, session_pacer
from attune.api.models import (
    ClientViewIn,
    ClientViewOut,
    PacerIn,
    PacerOut,
    ResonanceOut,
)
from attune.api.runtime import SessionRuntime
from attune.api.stream import (
    CLIENT_VIEW,
    PACER_SET,
    PACER_STOP,
    RESONANCE_CANCEL,
    RESONANCE_START,
)
from attune.errors import ConflictError, NotFoundError

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


def pacer_out(runtime: SessionRuntime) -> PacerOut:
    pacer = session_pacer(runtime.stream.pipeline.coreg.pacer_setting)
    return PacerOut(running=False) if pacer is None else PacerOut(running=True, **dict(pacer))


def resonance_out(runtime: SessionRuntime) -> ResonanceOut:
    status = runtime.stream.pipeline.coreg.resonance
    if status is None:
        raise NotFoundError("no resonance assessment was started in this session")
    message = resonance_message(status, 0)
    return ResonanceOut.model_validate(message.model_dump(exclude={"v", "seq", "type"}))


async def set_pacer(
    svc: Services,
    session_id: str,
    breaths_per_min: float,
    exhale_ratio: float,
    *,
    source: str,
    author_id: str | None,
) -> SessionRuntime:
    """Commit and publish a pacer setting (start, or change from the end of the breath)."""
    body: dict[str, JsonValue] = {
        "breaths_per_min": breaths_per_min,
        "exhale_ratio": exhale_ratio,
        "source": source,
    }
    return await svc.runtimes.control(
        session_id, PACER_SET, body, author_id=author_id, now_s=svc.clock()
    )


async def start_at_resonance(svc: Services, session_id: str, client_id: str | None) -> None:
    """A session just started: if its client has a stored resonance rate, the pacer starts
    at that rate."""
    if client_id is None:
        return
    client = await svc.store.clients.get(client_id)
    if client.resonance_breaths_per_min is not None:
        await set_pacer(
            svc,
            session_id,
            client.resonance_breaths_per_min,
            DEFAULT_EXHALE_RATIO,
            source=RESONANCE_SOURCE,
            author_id=None,
        )


@router.get("/{session_id}/pacer")
async def get_pacer(access: OWNER, svc: ServicesDep) -> PacerOut:
    """The pacer's current setting."""
    return pacer_out(await svc.runtimes.get(access.session.id))


@router.put("/{session_id}/pacer", responses=responses(409))
async def put_pacer(body: PacerIn, access: OWNER, svc: ServicesDep) -> PacerOut:
    """Start the breathing pacer, or change it from the end of the current breath. It shows
    on the client view; a running resonance assessment is cancelled."""
    runtime = await set_pacer(
        svc,
        access.session.id,
        body.breaths_per_min,
        body.exhale_ratio,
        source=THERAPIST_SOURCE,
        author_id=access.therapist_id,
    )
    return pacer_out(runtime)


@router.delete("/{session_id}/pacer", responses=responses(409))
async def delete_pacer(access: OWNER, svc: ServicesDep) -> PacerOut:
    """Stop the pacer at once (nothing is recorded if it is not running)."""
    runtime = await svc.runtimes.get(access.session.id)
    if runtime.stream.pipeline.coreg.pacer_setting is None:
        return PacerOut(running=False)
    runtime = await svc.runtimes.control(
        access.session.id,
        PACER_STOP,
        {"source": THERAPIST_SOURCE},
        author_id=access.therapist_id,
        now_s=svc.clock(),
    )
    return pacer_out(runtime)


@router.get("/{session_id}/resonance")
async def get_resonance(access: OWNER, svc: ServicesDep) -> ResonanceOut:
    """The latest resonance assessment of the session: its step, measurements and result."""
    return resonance_out(await svc.runtimes.get(access.session.id))


def _can_assess(runtime: SessionRuntime) -> None:
    if runtime.stream.pipeline.coreg.assessing:
        raise ConflictError("a resonance assessment is already running")
    if not any(p.role == "client" for p in runtime.participants.values()):
        raise ConflictError("the session has no client participant to assess")


@router.post("/{session_id}/resonance", status_code=201, responses=responses(409))
async def start_resonance(access: OWNER, svc: ServicesDep) -> ResonanceOut:
    """Start the stepped resonance-frequency protocol (6.5 down to 4.5 breaths/min, about
    2 minutes each), which drives the pacer; the picked rate is stored on the client."""
    runtime = await svc.runtimes.control(
        access.session.id,
        RESONANCE_START,
        {},
        author_id=access.therapist_id,
        now_s=svc.clock(),
        check=_can_assess,
    )
    return resonance_out(runtime)


def _assessing(runtime: SessionRuntime) -> None:
    if not runtime.stream.pipeline.coreg.assessing:
        raise ConflictError("no resonance assessment is running")


@router.delete("/{session_id}/resonance", responses=responses(409))
async def cancel_resonance(access: OWNER, svc: ServicesDep) -> ResonanceOut:
    """Cancel the running assessment (its pacer stops)."""
    runtime = await svc.runtimes.control(
        access.session.id,
        RESONANCE_CANCEL,
        {},
        author_id=access.therapist_id,
        now_s=svc.clock(),
        check=_assessing,
    )
    return resonance_out(runtime)


@router.get("/{session_id}/client-view")
async def get_client_view(access: OWNER, svc: ServicesDep) -> ClientViewOut:
    """What the client view shows."""
    return ClientViewOut(show_numbers=await svc.store.sessions.show_numbers(access.session.id))


@router.put("/{session_id}/client-view")
async def put_client_view(body: ClientViewIn, access: OWNER, svc: ServicesDep) -> ClientViewOut:
    """Show or hide numbers (HR, calm) on the client view; it changes live."""
    session_id = access.session.id
    await svc.store.sessions.set_show_numbers(session_id, body.show_numbers)
    runtime = await svc.runtimes.control(
        session_id,
        CLIENT_VIEW,
        {"show_numbers": body.show_numbers},
        author_id=access.therapist_id,
        now_s=svc.clock(),
    )
    runtime.show_numbers = body.show_numbers
    return ClientViewOut(show_numbers=body.show_numbers)
