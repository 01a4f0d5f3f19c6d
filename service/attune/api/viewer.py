"""Opening a viewer socket (live or replay): Origin check, first-message auth, audit."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from attune.api import sockets
from attune.api.auth import (
    COOKIE_NAME,
    SessionAccess,
    ViewRole,
    allowed_origin,
    audit,
    authorize_session,
)
from attune.api.deps import services
from attune.errors import AttuneError, AuthError, ForbiddenError, NotFoundError
from attune.protocol.live import ErrorMessage
from attune.protocol.viewer import ViewerAuth

AUTH_TIMEOUT_S = 10.0
log = structlog.get_logger(__name__)
_ERROR_CODES: dict[type[AttuneError], str] = {
    AuthError: "unauthorized",
    ForbiddenError: "forbidden",
    NotFoundError: "not_found",
}


async def open_viewer(
    websocket: WebSocket, session_id: str, roles: frozenset[ViewRole], action: str
) -> tuple[SessionAccess, ViewerAuth] | None:
    """Accept a viewer and authenticate its first message (``auth``), or refuse it (an
    ``error`` message, then close 1008) and return None. Cross-site pages are refused at
    the handshake (HTTP 403)."""
    svc = services(websocket)
    if not allowed_origin(websocket, svc):
        await sockets.deny(websocket, 403, "forbidden", "cross-origin websocket refused")
        return None
    await websocket.accept()
    try:
        auth = await _first_message(websocket)
        access = await authorize_session(
            svc,
            session_id,
            link_token=auth.token,
            cookie=websocket.cookies.get(COOKIE_NAME),
            roles=roles,
        )
    except (AuthError, ForbiddenError, NotFoundError) as exc:
        await audit(svc, websocket, None, action, session_id=session_id, outcome="denied")
        await _refuse(websocket, _ERROR_CODES[type(exc)], str(exc))
        return None
    except (TimeoutError, WebSocketDisconnect):
        return None
    await audit(svc, websocket, access.principal, action, session_id=session_id)
    log.info(action, session=session_id, role=access.principal.role, after_seq=auth.after_seq)
    return access, auth


async def _first_message(websocket: WebSocket) -> ViewerAuth:
    frame = await asyncio.wait_for(sockets.receive_frame(websocket), AUTH_TIMEOUT_S)
    try:
        return ViewerAuth.model_validate_json(frame)
    except ValidationError as exc:
        raise AuthError(
            'the first message must be {"type": "auth", "token": ..., "after_seq": ...}'
        ) from exc


async def _refuse(websocket: WebSocket, code: str, reason: str) -> None:
    error = ErrorMessage(seq=0, t_s=0.0, code=code, reason=reason)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_text(error.model_dump_json())
    await sockets.close(websocket, sockets.POLICY_VIOLATION, reason)
