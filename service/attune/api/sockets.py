"""What the three websockets share: close codes, refusals at the handshake, safe closing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import WebSocket, WebSocketDisconnect
from starlette.responses import JSONResponse

from attune.api.errors import ErrorBody

# Close codes (RFC 6455 §7.4; 4000-4999 are ours, named after the HTTP status they mirror).
NORMAL = 1000
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
REPLACED = 4409  # a newer connection for the same participant took over
GONE = 4404  # the session or participant was deleted
REVOKED = 4403  # the link this viewer used was revoked
MISDIRECTED = 4421  # scale-out: another instance computes this session; reconnect (HTTP 421)
CLOSE_TIMEOUT_S = 2.0


async def deny(websocket: WebSocket, status: int, code: str, detail: str) -> None:
    """Refuse at the handshake with a real HTTP status and an error body (Starlette's denial
    response); servers without that extension answer 403."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = ErrorBody(code=code, detail=detail).model_dump()
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
    else:
        await websocket.close(code=POLICY_VIOLATION, reason=detail)


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close without waiting forever on a peer that stopped reading."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, TimeoutError, OSError):
        await asyncio.wait_for(websocket.close(code=code, reason=reason[:120]), CLOSE_TIMEOUT_S)


async def receive_frame(websocket: WebSocket) -> str | bytes:
    """The next frame: text as str, binary as bytes (which callers refuse with a reason)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", NORMAL), message.get("reason"))
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"")


@dataclass(slots=True)
class Viewers:
    """Open live and replay sockets by session and actor, so revoking a link or erasing a
    client closes the sockets that rely on it at once. With several instances, ``relay``
    passes each close on to the others (attune.api.cluster)."""

    _by_session: dict[str, dict[WebSocket, str]] = field(default_factory=dict)
    relay: Callable[[str, int, str, str | None], None] | None = None

    def add(self, session_id: str, actor: str, websocket: WebSocket) -> None:
        self._by_session.setdefault(session_id, {})[websocket] = actor

    def remove(self, session_id: str, websocket: WebSocket) -> None:
        sockets = self._by_session.get(session_id, {})
        sockets.pop(websocket, None)
        if not sockets:
            self._by_session.pop(session_id, None)

    async def close(
        self,
        session_id: str,
        code: int,
        reason: str,
        *,
        actor: str | None = None,
        relay: bool = True,
    ) -> None:
        """Close the session's viewer sockets (only ``actor``'s when given), on every
        instance unless ``relay`` is False."""
        if relay and self.relay is not None:
            self.relay(session_id, code, reason, actor)
        for websocket, owner in list(self._by_session.get(session_id, {}).items()):
            if actor is None or owner == actor:
                await close(websocket, code, reason)
