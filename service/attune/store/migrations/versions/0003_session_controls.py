"""Session controls (the pacer set or stopped, a resonance assessment started or cancelled)
as numbered session inputs, and the client view's "show numbers" setting.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_id = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "session_controls",
        sa.Column("id", _id, primary_key=True),
        sa.Column(
            "session_id", _id, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("input_no", sa.BigInteger(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.Column("author_id", _id),
        sa.Column("created_at_s", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_session_controls_session_input",
        "session_controls",
        ["session_id", "input_no"],
        unique=True,
    )
    # A plain ADD COLUMN (SQLite takes it with a constant default). Not a batch operation: on
    # SQLite that copies and drops the table, and dropping ``sessions`` would cascade.
    op.add_column(
        "sessions",
        sa.Column("show_numbers", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("sessions", "show_numbers")
    op.drop_index("ix_session_controls_session_input", table_name="session_controls")
    op.drop_table("session_controls")
