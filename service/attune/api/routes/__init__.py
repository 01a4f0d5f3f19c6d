"""REST routers, one module per resource (docs/api.md)."""

from __future__ import annotations

from fastapi import APIRouter

from attune.api.routes import auth, clients, coregulation, exports, ops, recordings, sessions

ROUTERS: tuple[APIRouter, ...] = (
    ops.router,
    auth.router,
    clients.router,
    sessions.router,
    coregulation.router,
    recordings.router,
    exports.router,
)
