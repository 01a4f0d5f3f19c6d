"""The ingest websocket: collectors (and simulated straps) deliver recorded input here.

Per message: validate (pydantic), commit idempotently on (participant, seq), ack only after
the commit, then feed the pipeline. A bad message gets an ``error`` reply naming the reason
and the connection carries on; nothing else it sent is lost.
"""

from __future__ import annotations

import json

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from attune.api.deps import Services, services
from attune.errors import ProtocolError
from attune.protocol.ingest import (
    MAX_MESSAGE_BYTES,
    Ack,
    Hello,
    IngestError,
    SeqMessage,
    Welcome,
    collector_message,
)
from attune.store.recording import ParticipantRow

router = APIRouter()
log = structlog.get_logger(__name__)

POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009


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
    participant = await svc.recording.participant_by_token(token) if token else None
    if participant is None:
        # Closing before accept makes the handshake answer HTTP 403.
        await websocket.close(code=POLICY_VIOLATION, reason="unknown collector token")
        return
    await websocket.accept()
    log.info("ingest_connected", participant=participant.id, session=participant.session_id)
    try:
        await _serve(websocket, svc, participant)
    except WebSocketDisconnect:
        log.info("ingest_disconnected", participant=participant.id)


async def _serve(websocket: WebSocket, svc: Services, participant: ParticipantRow) -> None:
    greeted = False
    while True:
        text = await websocket.receive_text()
        try:
            message = _decode(text)
            if isinstance(message, Hello):
                await _hello(websocket, svc, participant, message)
                greeted = True
            else:
                _require(greeted, "send hello first")
                await _record(websocket, svc, participant, message)
        except ProtocolError as exc:
            seq = _seq_of(text)
            log.warning("ingest_rejected", participant=participant.id, reason=exc.reason, seq=seq)
            await websocket.send_text(
                IngestError(
                    v=1, code=_error_code(exc), reason=exc.reason, seq=seq
                ).model_dump_json()
            )


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise ProtocolError(reason)


def _decode(text: str) -> Hello | SeqMessage:
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes", code=MESSAGE_TOO_BIG)
    try:
        return collector_message.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProtocolError(f"invalid message: {where}: {first['msg']}") from exc


async def _hello(
    websocket: WebSocket, svc: Services, participant: ParticipantRow, hello: Hello
) -> None:
    await svc.recording.set_sensor(participant.id, hello.sensor.name, hello.sensor.address)
    session = await svc.recording.session(participant.session_id)
    if session.started_at_s is None:
        await svc.recording.start_session(session.id, now_s=svc.clock())
    await svc.runtimes.refresh(session.id)
    welcome = Welcome(
        v=1,
        session_id=session.id,
        participant_id=participant.id,
        last_seq=await svc.recording.last_seq(participant.id),
    )
    await websocket.send_text(welcome.model_dump_json())


async def _record(
    websocket: WebSocket, svc: Services, participant: ParticipantRow, message: SeqMessage
) -> None:
    runtime = await svc.runtimes.get(participant.session_id)
    last_seq = runtime.last_seq.get(participant.id, -1)
    is_new = await svc.recording.record(participant.id, message, now_s=svc.clock())
    if not is_new:
        await websocket.send_text(Ack(v=1, seq=message.seq).model_dump_json())
        return
    if message.seq < last_seq:
        # Recorded (nothing is lost) but not fed live: the pipeline needs arrival order.
        log.warning("ingest_out_of_order", participant=participant.id, seq=message.seq)
    else:
        runtime.apply(participant.id, message)
    await websocket.send_text(Ack(v=1, seq=message.seq).model_dump_json())


def _seq_of(text: str) -> int | None:
    try:
        seq = json.loads(text).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None


def _error_code(exc: ProtocolError) -> str:
    return "too_large" if exc.code == MESSAGE_TOO_BIG else "invalid_message"
