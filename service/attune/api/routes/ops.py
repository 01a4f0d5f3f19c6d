"""Liveness and the view pages' stable URLs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import text

from attune import __version__
from attune.api.deps import ServicesDep
from attune.api.links import VIEW_PAGES, View
from attune.api.models import HealthOut

router = APIRouter(tags=["ops"])

_MISSING_VIEW = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Attune</title><p>The {view} view is not part of this build of Attune yet.</p></html>"""


@router.get("/healthz")
async def healthz(svc: ServicesDep) -> HealthOut:
    """Liveness and database reachability."""
    async with svc.store.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return HealthOut(status="ok", version=__version__, database="ok")


@router.get(
    "/view/{view}",
    response_class=RedirectResponse,
    response_model=None,
    status_code=307,
    responses={404: {"description": "This view's page is not in this build."}},
)
async def view(view: View, svc: ServicesDep) -> Response:
    """Open a view. Links point here, so they outlive page renames; the browser carries the
    link's #fragment (session and token) through the redirect (RFC 9110 §10.2.2)."""
    page = VIEW_PAGES[view]
    if not (svc.settings.dashboard_dir / page).is_file():
        return HTMLResponse(_MISSING_VIEW.format(view=view), status_code=404)
    return RedirectResponse(f"/{page}", status_code=307)
