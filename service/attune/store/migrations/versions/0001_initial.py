"""Sessions, participants and the raw ingest recording.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_at_s", sa.Float(), nullable=False),
        sa.Column("started_at_s", sa.Float()),
        sa.Column("ended_at_s", sa.Float()),
        sa.Column("notes", sa.Text(), nullable=False),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("sensor_name", sa.String(128), nullable=False),
        sa.Column("sensor_address", sa.String(64), nullable=False),
    )
    op.create_table(
        "ingest_log",
        sa.Column(
            "participant_id", sa.String(32), sa.ForeignKey("participants.id", ondelete="CASCADE")
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("committed_at_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", "seq"),
    )
    tables: tuple[tuple[str, list[sa.Column[Any]]], ...] = (
        (
            "notifications",
            [
                sa.Column("idx", sa.Integer(), nullable=False),
                sa.Column("received_at_s", sa.Float(), nullable=False),
                sa.Column("payload", sa.LargeBinary(), nullable=False),
            ],
        ),
        (
            "link_events",
            [
                sa.Column("at_s", sa.Float(), nullable=False),
                sa.Column("state", sa.String(16), nullable=False),
                sa.Column("reason", sa.String(256)),
            ],
        ),
        (
            "battery_readings",
            [
                sa.Column("at_s", sa.Float(), nullable=False),
                sa.Column("level_pct", sa.Integer(), nullable=False),
            ],
        ),
    )
    for name, columns in tables:
        op.create_table(
            name,
            sa.Column("id", _big_id, primary_key=True, autoincrement=True),
            sa.Column(
                "participant_id",
                sa.String(32),
                sa.ForeignKey("participants.id", ondelete="CASCADE"),
            ),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            *columns,
        )
        op.create_index(f"ix_{name}_participant_seq", name, ["participant_id", "seq"])


def downgrade() -> None:
    for name in ("battery_readings", "link_events", "notifications", "ingest_log"):
        op.drop_table(name)
    op.drop_table("participants")
    op.drop_table("sessions")
