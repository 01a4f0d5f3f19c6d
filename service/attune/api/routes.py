"""REST routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from attune import __version__
from attune.api.deps import Services, services

router = APIRouter()
ServicesDep = Annotated[Services, Depends(services)]


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/healthz", tags=["ops"])
async def healthz(svc: ServicesDep) -> Health:
    """Liveness and database reachability."""
    async with svc.recording.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database="ok")
