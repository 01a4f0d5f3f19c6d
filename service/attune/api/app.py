"""The app factory: settings and I/O parts come in as parameters, so tests pass their own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from attune import __version__
from attune.api import errors, ingest, live, openapi, replay
from attune.api.cluster import RedisCluster
from attune.api.deps import Clock, Services
from attune.api.passwords import Passwords
from attune.api.routes import ROUTERS
from attune.api.runtime import SessionRuntimes
from attune.api.sockets import Viewers
from attune.api.tokens import Tokens
from attune.cues.config import load_cue_config
from attune.hub.memory import MemoryHub
from attune.settings import Settings
from attune.store import Store

SECURITY_HEADERS = {
    # View tokens travel in URL fragments; never leak a page URL to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:",
}
DESCRIPTION = """Real-time HRV biofeedback for therapy.

Therapists sign in (cookie); client and reviewer links carry a bearer token for one session;
collectors stream on the `/ingest` websocket; browsers watch on `/live/{session_id}` and
`/replay/{session_id}`. See docs/api.md, docs/protocol.md and docs/security.md."""


async def _headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    # A route may set a stricter policy of its own (the session report allows its one inline
    # stylesheet and nothing else); every other response gets the defaults.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        allow = openapi.allowed_methods(request.app, request.url.path)
        if allow is not None:
            response.headers["Allow"] = allow
    return response


def create_app(
    settings: Settings, *, clock: Clock = time.time, passwords: Passwords | None = None
) -> FastAPI:
    """Build the service. The database is opened (and migrated) in the lifespan; the cue
    settings are read now (ConfigError: a clear reason, before anything starts)."""
    cue_config = load_cue_config(settings.cues_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await Store.open(settings.resolved_database_url(), schema=settings.database_schema)
        viewers = Viewers()
        cluster = None
        if settings.redis_url:  # scale-out: Redis Streams fan-out and session leases
            cluster = await RedisCluster.start(settings, store, viewers, cue_config)
            runtimes = cluster.runtimes
        else:
            hub = MemoryHub(settings.live_buffer_messages, settings.subscriber_queue_messages)
            runtimes = SessionRuntimes(store, hub, cue_config=cue_config)
        app.state.services = Services(
            settings=settings,
            store=store,
            hub=runtimes.hub,
            runtimes=runtimes,
            tokens=Tokens(settings.resolved_secret_key()),
            passwords=passwords or Passwords(),
            clock=clock,
            viewers=viewers,
        )
        try:
            yield
        finally:
            if cluster is not None:
                await cluster.stop()
            await store.close()

    app = FastAPI(title="Attune", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_headers)
    errors.install(app)
    openapi.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(ingest.router)
    app.include_router(live.router)
    app.include_router(replay.router)
    _serve_dashboard(app, StaticFiles(directory=settings.dashboard_dir, html=True))
    return app


def _serve_dashboard(app: FastAPI, static: StaticFiles) -> None:
    """Serve the dashboard for any path no route matches. Not as a mount at "/": a mount
    matches every path and method, so a wrong method on an API route would get the static
    files' 405 (``Allow: GET, HEAD``) instead of the route's own."""
    not_found = app.router.not_found

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await static(scope, receive, send)
        else:
            await not_found(scope, receive, send)

    app.router.default = fallback
