"""Table definitions. The recording tables are append-only: raw input is the source of truth
and every derived value can be recomputed from it (DESIGN.md, "Contracts")."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

# 64-bit everywhere (seq goes up to 2**53); SQLite only autoincrements "INTEGER PRIMARY KEY".
BigId = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("started_at_s", Float),
    Column("ended_at_s", Float),
    Column("notes", Text, nullable=False, default=""),
)

participants = Table(
    "participants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("sensor_name", String(128), nullable=False, default=""),
    Column("sensor_address", String(64), nullable=False, default=""),
)

# One row per collector message with a seq: the idempotency key of exactly-once ingest.
ingest_log = Table(
    "ingest_log",
    metadata,
    Column("participant_id", String(32), ForeignKey("participants.id", ondelete="CASCADE")),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("committed_at_s", Float, nullable=False),
    PrimaryKeyConstraint("participant_id", "seq"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("participant_id", String(32), ForeignKey("participants.id", ondelete="CASCADE")),
    Column("seq", BigInteger, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("received_at_s", Float, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

link_events = Table(
    "link_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("participant_id", String(32), ForeignKey("participants.id", ondelete="CASCADE")),
    Column("seq", BigInteger, nullable=False),
    Column("at_s", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", String(256)),
)

battery_readings = Table(
    "battery_readings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("participant_id", String(32), ForeignKey("participants.id", ondelete="CASCADE")),
    Column("seq", BigInteger, nullable=False),
    Column("at_s", Float, nullable=False),
    Column("level_pct", Integer, nullable=False),
)
