"""Ingest protocol v1, collector <-> service (docs/protocol.md, "Ingest").

Every collector message that carries data has a ``seq``, unique and increasing per
participant; the service records it idempotently on (session, participant, seq) and answers
with an ``ack`` only after the database commit, so a collector may delete it from its outbox.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from attune.pipeline.events import LinkState

MAX_MESSAGE_BYTES = 64 * 1024
MAX_NOTIFICATIONS_PER_BATCH = 256
# An ATT attribute value is at most 512 bytes (Core spec Vol 3 Part F §3.2.9).
MAX_PAYLOAD_HEX_CHARS = 2 * 512
MAX_SEQ = 2**53  # exact in a JSON number / JS double


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1]


def _finite(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a finite, non-negative number of seconds")
    return value


class SensorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(default="", max_length=128)
    address: str = Field(default="", max_length=64)
    body_location: str | None = Field(default=None, max_length=32)


class Hello(_Message):
    type: Literal["hello"]
    collector: str = Field(max_length=128)
    sensor: SensorInfo = SensorInfo()


class Notification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    received_at_s: float
    payload_hex: str = Field(max_length=MAX_PAYLOAD_HEX_CHARS, pattern=r"^([0-9a-fA-F]{2})*$")

    _check_time = field_validator("received_at_s")(_finite)

    @property
    def payload(self) -> bytes:
        return bytes.fromhex(self.payload_hex)


class Batch(_Message):
    type: Literal["batch"]
    seq: int = Field(ge=0, le=MAX_SEQ)
    notifications: list[Notification] = Field(min_length=1, max_length=MAX_NOTIFICATIONS_PER_BATCH)


class Link(_Message):
    type: Literal["link"]
    seq: int = Field(ge=0, le=MAX_SEQ)
    at_s: float
    state: LinkState
    reason: str | None = Field(default=None, max_length=256)

    _check_time = field_validator("at_s")(_finite)


class Battery(_Message):
    type: Literal["battery"]
    seq: int = Field(ge=0, le=MAX_SEQ)
    at_s: float
    level_pct: int = Field(ge=0, le=100)

    _check_time = field_validator("at_s")(_finite)


CollectorMessage = Annotated[Hello | Batch | Link | Battery, Field(discriminator="type")]
SeqMessage = Batch | Link | Battery
collector_message = TypeAdapter[Hello | Batch | Link | Battery](CollectorMessage)


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    session_id: str
    participant_id: str
    last_seq: int | None


class Ack(_Message):
    type: Literal["ack"] = "ack"
    seq: int


class IngestError(_Message):
    type: Literal["error"] = "error"
    code: str
    reason: str
    seq: int | None = None


ServiceMessage = Annotated[Welcome | Ack | IngestError, Field(discriminator="type")]
service_message = TypeAdapter[Welcome | Ack | IngestError](ServiceMessage)
