"""The live websocket: one session's messages for one viewer role.

The browser authenticates with its first message, ``{"type": "auth", "token": ...,
"after_seq": N}``, so the token never appears in a URL or an access log; ``after_seq`` resumes
after a reconnect. Cross-site pages are refused by an Origin check at the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from attune.api.deps import services
from attune.api.tokens import ViewGrant
from attune.errors import AuthError, NotFoundError
from attune.hub.memory import Subscription
from attune.protocol.live import ErrorMessage

router = APIRouter()
log = structlog.get_logger(__name__)

AUTH_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008


def same_origin(websocket: WebSocket) -> bool:
    """True when the page that opened the socket was served by this host (or no browser)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: browsers always send Origin on websockets
    return urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/live/{session_id}")
async def live(websocket: WebSocket, session_id: str) -> None:
    """Stream a session's live messages to an authenticated viewer."""
    if not same_origin(websocket):
        await websocket.close(code=POLICY_VIOLATION, reason="cross-origin websocket refused")
        return
    await websocket.accept()
    svc = services(websocket)
    try:
        grant, after_seq = await _authenticate(websocket, session_id)
        runtime = await svc.runtimes.get(session_id)
    except (AuthError, NotFoundError) as exc:
        await _refuse(websocket, str(exc))
        return
    except (TimeoutError, WebSocketDisconnect):
        return
    await websocket.send_text(runtime.session_info(svc.clock()).model_dump_json())
    subscription = svc.hub.subscribe(session_id, grant.role, after_seq)
    log.info("live_connected", session=session_id, role=grant.role, after_seq=after_seq)
    try:
        await _pump(websocket, subscription)
    finally:
        svc.hub.unsubscribe(session_id, subscription)
        log.info("live_disconnected", session=session_id, dropped=subscription.dropped)


async def _authenticate(websocket: WebSocket, session_id: str) -> tuple[ViewGrant, int | None]:
    text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
    try:
        first = json.loads(text)
    except ValueError as exc:
        raise AuthError("first message must be JSON auth") from exc
    if not isinstance(first, dict) or first.get("type") != "auth":
        raise AuthError("first message must be an auth message")
    token, after_seq = first.get("token"), first.get("after_seq")
    if not isinstance(token, str):
        raise AuthError("auth message needs a token")
    if after_seq is not None and not isinstance(after_seq, int):
        raise AuthError("after_seq must be an integer or null")
    grant = services(websocket).view_tokens.verify(token, session_id)
    return grant, after_seq


async def _refuse(websocket: WebSocket, reason: str) -> None:
    error = ErrorMessage(seq=0, t_s=0.0, code="unauthorized", reason=reason)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_text(error.model_dump_json())
        await websocket.close(code=POLICY_VIOLATION, reason=reason)


async def _pump(websocket: WebSocket, subscription: Subscription) -> None:
    async def send_all() -> None:
        while True:
            item = await subscription.get()
            await websocket.send_text(item.text)

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # viewers send nothing after auth; drain

    sender = asyncio.create_task(send_all())
    watcher = asyncio.create_task(until_closed())
    done, pending = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
            task.result()
