"""The app factory: settings and I/O parts come in as parameters, so tests pass their own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from attune import __version__
from attune.api import ingest, live, routes
from attune.api.deps import Clock, Services
from attune.api.runtime import SessionRuntimes
from attune.api.tokens import ViewTokens
from attune.hub.memory import MemoryHub
from attune.settings import Settings
from attune.store.database import open_database
from attune.store.recording import Recording

SECURITY_HEADERS = {
    # View tokens travel in URL fragments; never leak a page URL to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:",
}


async def _security_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def create_app(settings: Settings, *, clock: Clock = time.time) -> FastAPI:
    """Build the service. The database is opened (and migrated) in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await open_database(settings.resolved_database_url())
        recording = Recording(engine)
        hub = MemoryHub(settings.live_buffer_messages, settings.subscriber_queue_messages)
        app.state.services = Services(
            settings=settings,
            recording=recording,
            hub=hub,
            runtimes=SessionRuntimes(recording, hub),
            view_tokens=ViewTokens(settings.resolved_secret_key()),
            clock=clock,
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="Attune", version=__version__, lifespan=lifespan)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_security_headers)
    app.include_router(routes.router)
    app.include_router(ingest.router)
    app.include_router(live.router)
    app.mount("/", StaticFiles(directory=settings.dashboard_dir, html=True), name="dashboard")
    return app
