"""Therapists and logins, clients with baselines, session ownership, view links, markers,
pacer changes, cues shown, live input order on ingest_log, and the append-only audit log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_id = sa.String(32)


def _session_fk() -> sa.Column[str]:
    return sa.Column(
        "session_id", _id, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    _accounts()
    _clients_and_ownership()
    _ingest_order()
    _session_events()
    _audit_log()


def _accounts() -> None:
    op.create_table(
        "therapists",
        sa.Column("id", _id, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at_s", sa.Float(), nullable=False),
    )
    op.create_table(
        "logins",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column(
            "therapist_id",
            _id,
            sa.ForeignKey("therapists.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at_s", sa.Float(), nullable=False),
        sa.Column("expires_at_s", sa.Float(), nullable=False),
    )
    op.create_table(
        "used_tokens",
        sa.Column("jti", sa.String(32), primary_key=True),
        sa.Column("used_at_s", sa.Float(), nullable=False),
    )


def _clients_and_ownership() -> None:
    op.create_table(
        "clients",
        sa.Column("id", _id, primary_key=True),
        sa.Column("therapist_id", _id, sa.ForeignKey("therapists.id"), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at_s", sa.Float(), nullable=False),
        sa.Column("baseline_json", sa.Text()),
        sa.Column("baseline_set_at_s", sa.Float()),
        sa.Column("resonance_breaths_per_min", sa.Float()),
        sa.Column("resonance_set_at_s", sa.Float()),
        sa.UniqueConstraint("therapist_id", "pseudonym"),
    )
    _add_reference("sessions", "client_id", "clients", on_delete="CASCADE")
    _add_reference("sessions", "therapist_id", "therapists", on_delete=None)
    op.create_index("ix_sessions_therapist", "sessions", ["therapist_id", "created_at_s"])
    op.create_index("ix_sessions_client", "sessions", ["client_id"])
    op.create_table(
        "view_links",
        sa.Column("id", _id, primary_key=True),
        _session_fk(),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at_s", sa.Float(), nullable=False),
        sa.Column("expires_at_s", sa.Float(), nullable=False),
        sa.Column("revoked_at_s", sa.Float()),
        sa.Column("created_by", _id),
    )


def _ingest_order() -> None:
    _add_reference("ingest_log", "session_id", "sessions", on_delete="CASCADE")
    op.add_column("ingest_log", sa.Column("input_no", sa.BigInteger()))
    op.add_column("ingest_log", sa.Column("live", sa.Boolean()))
    op.add_column("ingest_log", sa.Column("body_sha256", sa.String(64)))
    _backfill_ingest_order()
    op.create_index(
        "ix_ingest_log_session_input", "ingest_log", ["session_id", "input_no"], unique=True
    )


def _backfill_ingest_order() -> None:
    """Number recordings made before 0002 in commit order, which is how 0001 fed them live."""
    log, participants = (
        sa.table(
            "ingest_log",
            sa.column("participant_id"),
            sa.column("seq"),
            sa.column("committed_at_s"),
            sa.column("session_id"),
            sa.column("input_no"),
            sa.column("live"),
        ),
        sa.table("participants", sa.column("id"), sa.column("session_id")),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(log.c.participant_id, log.c.seq, participants.c.session_id)
        .join(participants, participants.c.id == log.c.participant_id)
        .order_by(participants.c.session_id, log.c.committed_at_s, log.c.participant_id, log.c.seq)
    ).all()
    counters: dict[str, int] = {}
    for participant_id, seq, session_id in rows:
        counters[session_id] = counters.get(session_id, 0) + 1
        bind.execute(
            log.update()
            .where(log.c.participant_id == participant_id, log.c.seq == seq)
            .values(session_id=session_id, input_no=counters[session_id], live=True)
        )


def _session_events() -> None:
    op.create_table(
        "markers",
        sa.Column("id", _id, primary_key=True),
        _session_fk(),
        sa.Column("input_no", sa.BigInteger(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("author_id", _id),
        sa.Column("created_at_s", sa.Float(), nullable=False),
    )
    op.create_index("ix_markers_session_input", "markers", ["session_id", "input_no"], unique=True)
    op.create_table(
        "pacer_changes",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("breaths_per_min", sa.Float()),
        sa.Column("inhale_exhale_ratio", sa.Float()),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_pacer_changes_session", "pacer_changes", ["session_id", "t_s"])
    op.create_table(
        "cues_shown",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_cues_shown_session", "cues_shown", ["session_id", "t_s"])


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(128), nullable=False),
        sa.Column("session_id", _id),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(256)),
    )
    op.create_index("ix_audit_log_session", "audit_log", ["session_id", "at_s"])
    _APPEND_ONLY[op.get_bind().dialect.name]("audit_log")


def _sqlite_append_only(table: str) -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _postgresql_append_only(table: str) -> None:
    op.execute(
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
    )


_APPEND_ONLY: dict[str, Callable[[str], None]] = {
    "sqlite": _sqlite_append_only,
    "postgresql": _postgresql_append_only,
}


def _add_reference(table: str, column: str, target: str, *, on_delete: str | None) -> None:
    """Add a nullable foreign-key column. SQLite cannot ALTER in a constraint, but accepts an
    inline REFERENCES on ADD COLUMN when the default is NULL (sqlite.org/lang_altertable.html);
    batch mode would rebuild the table, and with foreign keys on that cascades deletes."""
    cascade = f" ON DELETE {on_delete}" if on_delete else ""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(32) REFERENCES {target} (id){cascade}"
        )
    else:
        op.add_column(
            table,
            sa.Column(column, _id, sa.ForeignKey(f"{target}.id", ondelete=on_delete)),
        )


def downgrade() -> None:
    # 0002 adds accounts, client data and the audit log; a downgrade would destroy them, and on
    # SQLite dropping the new foreign-key columns means rebuilding tables under cascades.
    raise NotImplementedError("downgrading below 0002 is not supported: restore a backup")
