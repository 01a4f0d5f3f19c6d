"""The ingest websocket: collectors (and simulated straps) deliver recorded input here.

Per message: validate (pydantic), commit idempotently on (participant, seq), ack only after
the commit, then feed the live stream. A bad message gets an ``error`` reply naming the
reason and the connection carries on; nothing else it sent is lost (docs/protocol.md).
"""

from __future__ import annotations

import json

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from attune.api import sockets
from attune.api.deps import Services, services
from attune.errors import ConflictError, NotFoundError, OwnedElsewhereError, ProtocolError
from attune.protocol.ingest import (
    MAX_MESSAGE_BYTES,
    Batch,
    Hello,
    IngestError,
    SeqMessage,
    Welcome,
    collector_message,
)
from attune.store import ParticipantRow, RecordOutcome

router = APIRouter()
log = structlog.get_logger(__name__)


def _bearer_token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return websocket.query_params.get("token")


@router.websocket("/ingest")
async def ingest(websocket: WebSocket) -> None:
    """Collector uplink; authenticated by the participant's collector token."""
    svc = services(websocket)
    token = _bearer_token(websocket)
    participant = await svc.store.sessions.participant_by_token(token) if token else None
    if participant is None:
        detail = "unknown collector token" if token else "a collector token is required"
        await sockets.deny(websocket, 401, "unauthenticated", detail)
        return
    await websocket.accept()
    previous = svc.ingest_sockets.get(participant.id)
    svc.ingest_sockets[participant.id] = websocket
    if previous is not None:
        await sockets.close(previous, sockets.REPLACED, "replaced by a newer connection")
    log.info("ingest_connected", participant=participant.id, session=participant.session_id)
    try:
        await _serve(websocket, svc, participant)
    except WebSocketDisconnect:
        log.info("ingest_disconnected", participant=participant.id)
    except NotFoundError as exc:
        await sockets.close(websocket, sockets.GONE, str(exc))
    except OwnedElsewhereError as exc:
        log.info("ingest_misdirected", participant=participant.id, reason=str(exc))
        await sockets.close(websocket, sockets.MISDIRECTED, f"{exc}; reconnect")
    except SQLAlchemyError:
        log.exception("ingest_storage_failed", participant=participant.id)
        await sockets.close(websocket, sockets.INTERNAL_ERROR, "storage failed; send again")
    except ConflictError as exc:
        await sockets.close(websocket, sockets.INTERNAL_ERROR, str(exc))
    finally:
        if svc.ingest_sockets.get(participant.id) is websocket:
            del svc.ingest_sockets[participant.id]


async def _serve(websocket: WebSocket, svc: Services, participant: ParticipantRow) -> None:
    greeted = False
    while True:
        frame = await sockets.receive_frame(websocket)
        try:
            message = _decode(frame)
            if isinstance(message, Hello):
                await _hello(websocket, svc, participant, message)
                greeted = True
                continue
            _require_hello(greeted=greeted)
            await _record(websocket, svc, participant, message)
        except ProtocolError as exc:
            seq = _seq_of(frame)
            log.warning("ingest_rejected", participant=participant.id, reason=exc.reason, seq=seq)
            reply = IngestError(v=1, code=exc.error, reason=exc.reason, seq=seq)
            await websocket.send_text(reply.model_dump_json())


def _too_big(frame: str) -> bool:
    # UTF-8 takes one to four bytes a character: encode only when the length cannot tell.
    if len(frame) * 4 <= MAX_MESSAGE_BYTES:
        return False
    return len(frame) > MAX_MESSAGE_BYTES or len(frame.encode()) > MAX_MESSAGE_BYTES


def _require_hello(*, greeted: bool) -> None:
    if not greeted:
        raise ProtocolError("send hello first", error="hello_required")


def _decode(frame: str | bytes) -> Hello | SeqMessage:
    if isinstance(frame, bytes):
        raise ProtocolError("binary frames are not accepted: send JSON text")
    if _too_big(frame):
        raise ProtocolError(
            f"message larger than {MAX_MESSAGE_BYTES} bytes",
            code=sockets.MESSAGE_TOO_BIG,
            error="too_large",
        )
    try:
        return collector_message.validate_json(frame)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProtocolError(f"invalid message: {where}: {first['msg']}") from exc


async def _hello(
    websocket: WebSocket, svc: Services, participant: ParticipantRow, hello: Hello
) -> None:
    sessions = svc.store.sessions
    await sessions.set_sensor(participant.id, hello.sensor.name, hello.sensor.address)
    session = await sessions.get(participant.session_id)
    if session.started_at_s is None:
        await sessions.start(session.id, now_s=svc.clock())
    await svc.runtimes.get(session.id)
    await svc.runtimes.refresh(session.id)
    welcome = Welcome(
        v=1,
        session_id=session.id,
        participant_id=participant.id,
        last_seq=await svc.store.recording.last_seq(participant.id),
    )
    await websocket.send_text(welcome.model_dump_json())


async def _record(
    websocket: WebSocket, svc: Services, participant: ParticipantRow, message: SeqMessage
) -> None:
    runtime = await svc.runtimes.get(participant.session_id)
    ended_at_s = runtime.session.ended_at_s
    if (
        ended_at_s is not None
        and _latest_s(message) > ended_at_s + svc.settings.session_end_grace_s
    ):
        raise ProtocolError("the session has ended; stop this collector", error="session_ended")
    outcome = await svc.runtimes.ingest(participant, message, now_s=svc.clock())
    if outcome is RecordOutcome.CONFLICT:
        raise ProtocolError(
            f"seq {message.seq} is already recorded with other content: continue numbering "
            "after welcome.last_seq",
            error="seq_conflict",
        )
    await websocket.send_text(ack_text(message.seq))


def ack_text(seq: int) -> str:
    """``Ack(v=1, seq=seq).model_dump_json()`` without building a model: one goes out per
    collector message (tests/integration/test_ingest.py checks the two agree)."""
    return f'{{"v":1,"type":"ack","seq":{seq:d}}}'


def _latest_s(message: SeqMessage) -> float:
    if isinstance(message, Batch):
        return max(n.received_at_s for n in message.notifications)
    return message.at_s


def _seq_of(frame: str | bytes) -> int | None:
    if isinstance(frame, bytes):
        return None
    try:
        seq = json.loads(frame).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None
