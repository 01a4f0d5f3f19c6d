"""Every input of a session claims its number in one table, so no two inputs of any kinds
(collector message, marker, control) share one; before, each kind was unique only among its
own kind, and a stale instance's marker could take the number of its successor's message.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The numbers already taken, from every kind of input. A number two inputs already share
# (possible before this revision) is claimed once; the recording keeps both.
BACKFILL = """
INSERT INTO input_numbers (session_id, input_no)
SELECT session_id, input_no FROM ingest_log
    WHERE session_id IS NOT NULL AND input_no IS NOT NULL
UNION SELECT session_id, input_no FROM markers
UNION SELECT session_id, input_no FROM session_controls
"""


def upgrade() -> None:
    op.create_table(
        "input_numbers",
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("input_no", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "input_no"),
        sqlite_with_rowid=False,  # as in attune.store.schema
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("input_numbers")
