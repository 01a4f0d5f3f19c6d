"""Clients: pseudonym and name, the engine's baseline, the resonance rate, and erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.requests import Request

from attune.api.auth import TherapistDep, TherapistPrincipal, audit, check_origin
from attune.api.deps import Services, ServicesDep
from attune.api.errors import responses
from attune.api.models import (
    BaselineIn,
    BaselineOut,
    ClientIn,
    ClientOut,
    ErasureOut,
    ResonanceIn,
)
from attune.api.sockets import GONE
from attune.errors import NotFoundError
from attune.store import ClientRow

router = APIRouter(
    prefix="/api/clients",
    tags=["clients"],
    dependencies=[Depends(check_origin)],
    responses=responses(401, 403),
)
ClientIdPath = Annotated[str, Path(max_length=64, description="A client id.")]


async def _own_client(svc: Services, principal: TherapistPrincipal, client_id: str) -> ClientRow:
    """The therapist's own client; someone else's is simply not found."""
    client = await svc.store.clients.get(client_id)
    if client.therapist_id != principal.therapist.id:
        raise NotFoundError(f"no client {client_id}")
    return client


@router.post("", status_code=201, responses=responses(409))
async def create_client(body: ClientIn, principal: TherapistDep, svc: ServicesDep) -> ClientOut:
    """Add a client under a pseudonym of your choosing."""
    row = await svc.store.clients.create(
        principal.therapist.id, body.pseudonym, body.display_name, now_s=svc.clock()
    )
    return ClientOut.model_validate(row)


@router.get("")
async def list_clients(
    principal: TherapistDep, svc: ServicesDep, request: Request
) -> list[ClientOut]:
    """Your clients."""
    rows = await svc.store.clients.of_therapist(principal.therapist.id)
    await audit(svc, request, principal, "client.list", resource="clients")
    return [ClientOut.model_validate(r) for r in rows]


@router.get("/{client_id}", responses=responses(404))
async def get_client(
    client_id: ClientIdPath, principal: TherapistDep, svc: ServicesDep, request: Request
) -> ClientOut:
    client = await _own_client(svc, principal, client_id)
    await audit(svc, request, principal, "client.read", resource=f"client:{client_id}")
    return ClientOut.model_validate(client)


@router.delete("/{client_id}", responses=responses(404))
async def delete_client(
    client_id: ClientIdPath, principal: TherapistDep, svc: ServicesDep, request: Request
) -> ErasureOut:
    """Erase a client and everything recorded about them: sessions, participants,
    recordings, markers, pacer changes, cues and links. The audit log keeps (ids only) that
    it happened."""
    await _own_client(svc, principal, client_id)
    sessions = await svc.store.sessions.of_therapist(principal.therapist.id, client_id=client_id)
    deleted = await svc.store.clients.delete(client_id)
    for session in sessions:
        svc.runtimes.forget(session.id)
        await svc.viewers.close(session.id, GONE, "the session was deleted")
    await audit(svc, request, principal, "client.delete", resource=f"client:{client_id}")
    return ErasureOut(client_id=client_id, sessions_deleted=deleted)


@router.get("/{client_id}/baseline", responses=responses(404))
async def get_baseline(
    client_id: ClientIdPath, principal: TherapistDep, svc: ServicesDep, request: Request
) -> BaselineOut | None:
    """The stored baseline, or null when none has been stored."""
    await _own_client(svc, principal, client_id)
    baseline = await svc.store.clients.baseline(client_id)
    await audit(svc, request, principal, "client.baseline.read", resource=f"client:{client_id}")
    return (
        None if baseline is None else BaselineOut(value=baseline.value, set_at_s=baseline.set_at_s)
    )


@router.put("/{client_id}/baseline", responses=responses(404))
async def put_baseline(
    client_id: ClientIdPath, body: BaselineIn, principal: TherapistDep, svc: ServicesDep
) -> BaselineOut:
    """Store the HRV engine's baseline for this client (any JSON; the engine defines it)."""
    await _own_client(svc, principal, client_id)
    stored = await svc.store.clients.set_baseline(client_id, body.value, now_s=svc.clock())
    return BaselineOut(value=stored.value, set_at_s=stored.set_at_s)


@router.put("/{client_id}/resonance", responses=responses(404))
async def put_resonance(
    client_id: ClientIdPath, body: ResonanceIn, principal: TherapistDep, svc: ServicesDep
) -> ClientOut:
    """Store the client's resonance breathing rate (breaths/min); the pacer starts there."""
    await _own_client(svc, principal, client_id)
    row = await svc.store.clients.set_resonance(client_id, body.breaths_per_min, now_s=svc.clock())
    return ClientOut.model_validate(row)
