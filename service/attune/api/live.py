"""The live websocket: one session's messages for one viewer, filtered by role.

The browser authenticates with its first message, ``{"type": "auth", "token": ...,
"after_seq": N}`` (a therapist's browser sends no token: its login cookie counts), so no
token appears in a URL or an access log; ``after_seq`` resumes after a reconnect. The
therapist gets everything, the client view only what audiences.LIVE_DELIVERY allows it, and
reviewers nothing (they replay).
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from attune.api import sockets
from attune.api.auth import ViewRole
from attune.api.deps import services
from attune.api.viewer import open_viewer
from attune.hub import EndReason, Subscription, SubscriptionEnded

router = APIRouter()
log = structlog.get_logger(__name__)
LIVE_ROLES: frozenset[ViewRole] = frozenset({"therapist", "client"})
_ENDINGS = {
    EndReason.OVERFLOW: (sockets.TRY_AGAIN_LATER, "viewer too slow: reconnect with after_seq"),
    EndReason.CLOSED: (sockets.GONE, "the session was deleted"),
}


@router.websocket("/live/{session_id}")
async def live(websocket: WebSocket, session_id: str) -> None:
    """Stream a session's live messages to an authenticated viewer."""
    opened = await open_viewer(websocket, session_id, LIVE_ROLES, "live.watch")
    if opened is None:
        return
    access, auth = opened
    svc = services(websocket)
    role = access.principal.role
    info, subscription = await svc.runtimes.watch(
        access.session, role, auth.after_seq, now_s=svc.clock()
    )
    svc.viewers.add(session_id, access.principal.actor, websocket)
    try:
        await websocket.send_text(info.model_dump_json())
        await _pump(websocket, subscription)
    finally:
        svc.viewers.remove(session_id, websocket)
        svc.hub.unsubscribe(session_id, subscription)
        log.info("live_disconnected", session=session_id, dropped=subscription.dropped)


async def _pump(websocket: WebSocket, subscription: Subscription) -> None:
    async def send_all() -> None:
        while True:
            item = await subscription.get()
            await websocket.send_text(item.text)

    async def until_closed() -> None:
        # Viewers send nothing after auth; drain until the browser goes away.
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    sender = asyncio.create_task(send_all())
    watcher = asyncio.create_task(until_closed())
    done, pending = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        try:
            task.result()
        except SubscriptionEnded as ended:
            await sockets.close(websocket, *_ENDINGS[ended.reason])
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
