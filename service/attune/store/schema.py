"""Table definitions (migrations 0001-0004 build them; keep the two in step).

The recording tables are append-only: raw input is the source of truth and every derived value
can be recomputed from it (DESIGN.md, "Contracts"). Names and contact details live only in
``clients`` and ``therapists``; recordings carry ids, so deleting a client's row (and, by
cascade, their sessions) removes everything that identifies them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

# 64-bit everywhere (seq goes up to 2**53); SQLite only autoincrements "INTEGER PRIMARY KEY".
BigId = BigInteger().with_variant(Integer, "sqlite")
Id = String(32)  # uuid4 hex

metadata = MetaData()


def _session_fk() -> Column[str]:
    return Column("session_id", Id, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)


therapists = Table(
    "therapists",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at_s", Float, nullable=False),
)

# Server-side login sessions behind the HttpOnly cookie; the cookie holds a random token and
# the table its digest, so logout and expiry are enforced here, not by the browser.
logins = Table(
    "logins",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("therapist_id", Id, ForeignKey("therapists.id", ondelete="CASCADE"), nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("expires_at_s", Float, nullable=False),
)

# Ids of single-use signed tokens (sign-in links) that have been used.
used_tokens = Table(
    "used_tokens",
    metadata,
    Column("jti", String(32), primary_key=True),
    Column("used_at_s", Float, nullable=False),
)

clients = Table(
    "clients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("therapist_id", Id, ForeignKey("therapists.id"), nullable=False),
    Column("pseudonym", String(64), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("created_at_s", Float, nullable=False),
    # The HRV engine's per-client baseline, stored opaquely as JSON text (hrv/ owns its shape).
    Column("baseline_json", Text),
    Column("baseline_set_at_s", Float),
    Column("resonance_breaths_per_min", Float),
    Column("resonance_set_at_s", Float),
    UniqueConstraint("therapist_id", "pseudonym"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("started_at_s", Float),
    Column("ended_at_s", Float),
    Column("notes", Text, nullable=False, default=""),
    Column("client_id", Id, ForeignKey("clients.id", ondelete="CASCADE")),
    Column("therapist_id", Id, ForeignKey("therapists.id")),
    # The client view shows numbers (HR, calm) besides the calm meter.
    Column("show_numbers", Boolean, nullable=False, server_default=false()),
)

participants = Table(
    "participants",
    metadata,
    Column("id", Id, primary_key=True),
    Column("session_id", Id, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("sensor_name", String(128), nullable=False, default=""),
    Column("sensor_address", String(64), nullable=False, default=""),
)

# Client and reviewer links: signed tokens carry the id; the row makes them revocable.
view_links = Table(
    "view_links",
    metadata,
    Column("id", Id, primary_key=True),
    _session_fk(),
    Column("role", String(16), nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("expires_at_s", Float, nullable=False),
    Column("revoked_at_s", Float),
    Column("created_by", Id),
)

# One row per collector message with a seq: the idempotency key of exactly-once ingest.
# ``input_no`` orders a session's inputs as the live pipeline consumed them (input_numbers),
# so a rebuild reproduces the live stream exactly; ``live`` is false for a late message
# (recorded, never fed live); ``body_sha256`` tells a resend from a reused seq.
ingest_log = Table(
    "ingest_log",
    metadata,
    Column("participant_id", Id, ForeignKey("participants.id", ondelete="CASCADE")),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("committed_at_s", Float, nullable=False),
    Column("session_id", Id, ForeignKey("sessions.id", ondelete="CASCADE")),
    Column("input_no", BigInteger),
    Column("live", Boolean),
    Column("body_sha256", String(64)),
    PrimaryKeyConstraint("participant_id", "seq"),
    Index("ix_ingest_log_session_input", "session_id", "input_no", unique=True),
)


# Every input of a session claims its number here, in the transaction that records it, so
# two inputs of any kinds (a collector message, a marker, a control) can never share one: an
# instance whose runtime is stale (another now computes the session) clashes and rebuilds,
# rather than recording its input beside the new owner's (docs/deployment.md, "Fencing").
input_numbers = Table(
    "input_numbers",
    metadata,
    _session_fk(),
    Column("input_no", BigInteger, nullable=False),
    PrimaryKeyConstraint("session_id", "input_no"),
    # On SQLite the key is the table: one B-tree rather than a table and its key's index,
    # for a row that every collector message adds.
    sqlite_with_rowid=False,
)


def _recorded(name: str, *columns: Column[object]) -> Table:
    return Table(
        name,
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("participant_id", Id, ForeignKey("participants.id", ondelete="CASCADE")),
        Column("seq", BigInteger, nullable=False),
        *columns,
        Index(f"ix_{name}_participant_seq", "participant_id", "seq"),
    )


notifications = _recorded(
    "notifications",
    Column("idx", Integer, nullable=False),
    Column("received_at_s", Float, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)
link_events = _recorded(
    "link_events",
    Column("at_s", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", String(256)),
)
battery_readings = _recorded(
    "battery_readings",
    Column("at_s", Float, nullable=False),
    Column("level_pct", Integer, nullable=False),
)

markers = Table(
    "markers",
    metadata,
    Column("id", Id, primary_key=True),
    _session_fk(),
    Column("input_no", BigInteger, nullable=False),
    Column("t_s", Float, nullable=False),
    Column("text", String(500), nullable=False),
    Column("author_id", Id),
    Column("created_at_s", Float, nullable=False),
    # The ``Idempotency-Key`` the marker was posted with, if any: a retry carrying the same
    # key (its first try may have been recorded after the asker gave up on it) gets the
    # marker back instead of a second one. NULLs never clash in a unique index.
    Column("idempotency_key", String(64)),
    Index("ix_markers_session_input", "session_id", "input_no", unique=True),
    Index("ix_markers_session_key", "session_id", "idempotency_key", unique=True),
)

# Session controls: numbered inputs like markers (the pacer set or stopped, a resonance
# assessment started or cancelled), so a replay of the inputs reproduces them.
session_controls = Table(
    "session_controls",
    metadata,
    Column("id", Id, primary_key=True),
    _session_fk(),
    Column("input_no", BigInteger, nullable=False),
    Column("t_s", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body_json", Text, nullable=False),
    Column("author_id", Id),
    Column("created_at_s", Float, nullable=False),
    Index("ix_session_controls_session_input", "session_id", "input_no", unique=True),
)

# Pacer settings as the therapist (or the resonance protocol) changed them.
pacer_changes = Table(
    "pacer_changes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _session_fk(),
    Column("at_s", Float, nullable=False),
    Column("t_s", Float, nullable=False),
    Column("breaths_per_min", Float),
    Column("inhale_exhale_ratio", Float),
    Column("source", String(32), nullable=False),
    Column("detail_json", Text, nullable=False),
    Index("ix_pacer_changes_session", "session_id", "t_s"),
)

# Every cue shown to someone, with the values that fired it (cues/ owns the detail's shape).
cues_shown = Table(
    "cues_shown",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _session_fk(),
    Column("at_s", Float, nullable=False),
    Column("t_s", Float, nullable=False),
    Column("audience", String(16), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("text", String(500), nullable=False),
    Column("detail_json", Text, nullable=False),
    Index("ix_cues_shown_session", "session_id", "t_s"),
)

# Append-only (triggers refuse UPDATE and DELETE): who read, exported or changed what. Ids
# only, never names or data, so it may outlive a deleted client (docs/security.md).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at_s", Float, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(128), nullable=False),
    Column("session_id", Id),
    Column("outcome", String(16), nullable=False),
    Column("ip", String(64)),
    Column("user_agent", String(256)),
    Index("ix_audit_log_session", "session_id", "at_s"),
)
