"""Markers remember the ``Idempotency-Key`` they were posted with, so a retried post
records one marker, not two.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, as in 0003: a batch operation would copy and drop the table.
    op.add_column("markers", sa.Column("idempotency_key", sa.String(64)))
    op.create_index(
        "ix_markers_session_key", "markers", ["session_id", "idempotency_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_markers_session_key", table_name="markers")
    op.drop_column("markers", "idempotency_key")
