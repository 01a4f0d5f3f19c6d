"""The storage layer on SQLite and on PostgreSQL (each test runs on both)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from attune.errors import ConflictError, NotFoundError
from attune.protocol.ingest import Batch, Battery, Link
from attune.store import AuditEntry, RecordedInput, RecordOutcome, Store, schema
from attune.store.recording import complete_order

NOW_S = 1_800_000_000.0


def batch(seq: int, t_s: float, payload_hex: str = "16480004") -> Batch:
    notes = [{"received_at_s": t_s, "payload_hex": payload_hex}]
    return Batch.model_validate({"v": 1, "type": "batch", "seq": seq, "notifications": notes})


async def a_session(store, *, username: str = "ana"):
    therapist = await store.accounts.add_therapist(username, "Ana", "hash", now_s=NOW_S)
    client = await store.clients.create(therapist.id, "C-1", "Bea", now_s=NOW_S)
    session = await store.sessions.create(
        "Session", now_s=NOW_S, client_id=client.id, therapist_id=therapist.id
    )
    participant, token = await store.sessions.add_participant(session.id, "client", "Bea")
    return therapist, client, session, participant, token


async def test_therapist_accounts_and_logins(store) -> None:
    therapist = await store.accounts.add_therapist("ana", "Ana", "h1", now_s=NOW_S)
    with pytest.raises(ConflictError):
        await store.accounts.add_therapist("ana", "Another", "h2", now_s=NOW_S)
    assert await store.accounts.credentials("ana") == (therapist, "h1")
    assert await store.accounts.credentials("nobody") is None
    token = await store.accounts.open_login(therapist.id, now_s=NOW_S, ttl_s=60)
    assert await store.accounts.login(token, now_s=NOW_S + 59) == therapist
    assert await store.accounts.login(token, now_s=NOW_S + 60) is None  # expired
    assert await store.accounts.login("not a token", now_s=NOW_S) is None
    await store.accounts.close_login(token, now_s=NOW_S)
    assert await store.accounts.login(token, now_s=NOW_S) is None
    assert await store.accounts.use_once("jti-1", now_s=NOW_S)
    assert not await store.accounts.use_once("jti-1", now_s=NOW_S)


async def test_clients_baselines_and_resonance(store) -> None:
    therapist = await store.accounts.add_therapist("ana", "Ana", "h", now_s=NOW_S)
    client = await store.clients.create(therapist.id, "C-1", "Bea", now_s=NOW_S)
    with pytest.raises(ConflictError):
        await store.clients.create(therapist.id, "C-1", "Someone else", now_s=NOW_S)
    assert await store.clients.baseline(client.id) is None
    value = {"rmssd_ms": {"median": 31.5, "iqr": [24.0, 40.2]}, "n_sessions": 3, "ok": True}
    await store.clients.set_baseline(client.id, value, now_s=NOW_S + 1)
    stored = await store.clients.baseline(client.id)
    assert (stored.value, stored.set_at_s) == (value, NOW_S + 1)
    updated = await store.clients.set_resonance(client.id, 5.5, now_s=NOW_S + 2)
    assert (updated.resonance_breaths_per_min, updated.resonance_set_at_s) == (5.5, NOW_S + 2)
    assert [c.id for c in await store.clients.of_therapist(therapist.id)] == [client.id]
    with pytest.raises(NotFoundError):
        await store.clients.set_resonance("missing", 6.0, now_s=NOW_S)


async def test_sessions_start_stop_notes_participants_and_links(store) -> None:
    therapist, _, session, participant, token = await a_session(store)
    started = await store.sessions.start(session.id, now_s=NOW_S + 10)
    assert (await store.sessions.start(session.id, now_s=NOW_S + 20)).started_at_s == 10 + NOW_S
    assert started.origin_s == NOW_S + 10
    stopped = await store.sessions.stop(session.id, now_s=NOW_S + 30)
    assert (stopped.started_at_s, stopped.ended_at_s) == (NOW_S + 10, NOW_S + 30)
    assert (await store.sessions.set_notes(session.id, "calmer")).notes == "calmer"
    assert [s.id for s in await store.sessions.of_therapist(therapist.id)] == [session.id]
    assert await store.sessions.of_therapist(therapist.id, client_id="other") == []
    assert await store.sessions.participant_by_token(token) == participant
    new_token = await store.sessions.rotate_token(participant.id)
    assert await store.sessions.participant_by_token(token) is None
    assert await store.sessions.participant_by_token(new_token) == participant
    link = await store.sessions.create_link(
        session.id, "client", now_s=NOW_S, ttl_s=100, created_by=therapist.id
    )
    assert link.usable(NOW_S + 99)
    assert not link.usable(NOW_S + 100)
    revoked = await store.sessions.revoke_link(session.id, link.id, now_s=NOW_S + 1)
    assert not revoked.usable(NOW_S + 2)
    with pytest.raises(NotFoundError):
        await store.sessions.revoke_link("another session", link.id, now_s=NOW_S)
    unstarted = await store.sessions.create("Later", now_s=NOW_S, therapist_id=therapist.id)
    ended = await store.sessions.stop(unstarted.id, now_s=NOW_S + 5)
    assert ended.started_at_s == ended.ended_at_s == NOW_S + 5


async def test_recording_is_exactly_once_and_keeps_input_order(store) -> None:
    _, _, session, participant, _ = await a_session(store)
    record = store.recording.record
    messages = [
        (batch(0, NOW_S + 1.0625, "164a3403c003"), True),
        (Link(v=1, type="link", seq=1, at_s=NOW_S + 2, state="lost", reason="out of range"), True),
        (Battery(v=1, type="battery", seq=3, at_s=NOW_S + 3, level_pct=87), True),
        (batch(2, NOW_S + 2.5), False),  # late
    ]
    for input_no, (message, live) in enumerate(messages, start=1):
        outcome = await record(
            session.id, participant.id, message, input_no=input_no, live=live, now_s=NOW_S
        )
        assert outcome is RecordOutcome.NEW
    again = await record(
        session.id, participant.id, messages[0][0], input_no=9, live=True, now_s=NOW_S
    )
    assert again is RecordOutcome.DUPLICATE
    other = batch(0, NOW_S + 1.0625, "16480004")
    assert (
        await record(session.id, participant.id, other, input_no=9, live=True, now_s=NOW_S)
        is RecordOutcome.CONFLICT
    )
    inputs = await store.recording.collector_inputs(session.id)
    assert [(i.input_no, i.live, i.message) for i in inputs] == [
        (n, live, m) for n, (m, live) in enumerate(messages, start=1)
    ]
    page = await store.recording.collector_inputs(session.id, after_input_no=1, limit=2)
    assert [i.input_no for i in page] == [2, 3]
    assert [i.seq for i in complete_order(inputs)] == [0, 1, 2, 3]
    assert await store.recording.last_seq(participant.id) == 3
    assert await store.recording.last_input_no(session.id) == 4


async def test_inputs_of_every_kind_share_one_numbering(store) -> None:
    """A number taken by one kind of input is taken for all: a stale instance's marker or
    control cannot slip in beside its successor's collector message, nor the other way."""
    _, _, session, participant, _ = await a_session(store)
    record, sid = store.recording.record, session.id
    await record(sid, participant.id, batch(0, NOW_S), input_no=1, live=True, now_s=NOW_S)
    await store.recording.add_marker(
        sid, input_no=2, t_s=2.0, text="m", author_id=None, now_s=NOW_S
    )
    await store.controls.add(
        sid, input_no=3, t_s=3.0, kind="pacer_stop", body={}, author_id=None, now_s=NOW_S
    )
    for taken in (1, 2, 3):
        with pytest.raises(ConflictError):
            await store.recording.add_marker(
                sid, input_no=taken, t_s=4.0, text="late", author_id=None, now_s=NOW_S
            )
        with pytest.raises(ConflictError):
            await store.controls.add(
                sid,
                input_no=taken,
                t_s=4.0,
                kind="pacer_stop",
                body={},
                author_id=None,
                now_s=NOW_S,
            )
        with pytest.raises(ConflictError):
            await record(
                sid, participant.id, batch(taken, NOW_S), input_no=taken, live=True, now_s=NOW_S
            )
    assert await store.recording.last_input_no(sid) == 3
    assert [i.input_no for i in await store.recording.inputs(sid)] == [1, 2]
    assert [c.input_no for c in await store.controls.of_session(sid)] == [3]
    other = await store.sessions.create("Another", now_s=NOW_S)  # numbers are per session
    await store.recording.add_marker(
        other.id, input_no=1, t_s=1.0, text="m", author_id=None, now_s=NOW_S
    )


async def test_markers_join_the_input_order_and_events_round_trip(store) -> None:
    _, _, session, participant, _ = await a_session(store)
    await store.recording.record(
        session.id, participant.id, batch(0, NOW_S), input_no=1, live=True, now_s=NOW_S
    )
    marker = await store.recording.add_marker(
        session.id, input_no=2, t_s=12.5, text="deep breath", author_id=None, now_s=NOW_S
    )
    inputs = await store.recording.inputs(session.id)
    assert isinstance(inputs[0], RecordedInput)
    assert inputs[1] == marker
    assert await store.recording.last_input_no(session.id) == 2
    pacer = await store.events.record_pacer_change(
        session.id,
        at_s=NOW_S,
        t_s=3.0,
        breaths_per_min=5.5,
        inhale_exhale_ratio=0.67,
        source="therapist",
        detail={"shape": "sine"},
    )
    cue = await store.events.record_cue_shown(
        session.id,
        at_s=NOW_S,
        t_s=4.0,
        audience="client",
        kind="recovering",
        text="Nice, keep going",
        detail={"rmssd_ms": 31.0},
    )
    assert await store.events.pacer_changes(session.id) == [pacer]
    assert await store.events.cues_shown(session.id) == [cue]


async def test_recording_for_a_deleted_participant_is_not_found(store) -> None:
    _, client, session, participant, _ = await a_session(store)
    await store.clients.delete(client.id)
    with pytest.raises(NotFoundError):
        await store.recording.record(
            session.id, participant.id, batch(0, NOW_S), input_no=1, live=True, now_s=NOW_S
        )


async def test_the_audit_log_is_append_only(store) -> None:
    entry = AuditEntry(NOW_S, "therapist:x", "therapist", "session.read", "session:s", "s", "ok")
    await store.audit.append(entry)
    assert await store.audit.entries(session_id="s") == [entry]
    for statement in (
        update(schema.audit_log).values(outcome="denied"),
        delete(schema.audit_log),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(statement)
    assert await store.audit.entries() == [entry]


RECORDING_TABLES = (
    "sessions",
    "participants",
    "ingest_log",
    "notifications",
    "link_events",
    "battery_readings",
    "markers",
    "pacer_changes",
    "cues_shown",
    "view_links",
)


async def _rows_about(store, session_id: str) -> dict[str, int]:
    counts = {}
    async with store.engine.connect() as conn:
        for name in RECORDING_TABLES:
            table = schema.metadata.tables[name]
            if "session_id" in table.c:
                where = table.c.session_id == session_id
            elif name == "sessions":
                where = table.c.id == session_id
            else:
                owners = select(schema.participants.c.id).where(
                    schema.participants.c.session_id == session_id
                )
                where = table.c.participant_id.in_(owners)
            counts[name] = (await conn.execute(select(func.count()).where(where))).scalar_one()
    return counts


async def fill(store, session_id: str, participant_id: str, therapist_id: str) -> None:
    recording = store.recording
    messages = [
        batch(0, NOW_S),
        Link(v=1, type="link", seq=1, at_s=NOW_S, state="streaming"),
        Battery(v=1, type="battery", seq=2, at_s=NOW_S, level_pct=50),
    ]
    for n, message in enumerate(messages, start=1):
        await recording.record(
            session_id, participant_id, message, input_no=n, live=True, now_s=NOW_S
        )
    await recording.add_marker(
        session_id, input_no=9, t_s=1.0, text="m", author_id=therapist_id, now_s=NOW_S
    )
    await store.events.record_pacer_change(
        session_id,
        at_s=NOW_S,
        t_s=1.0,
        breaths_per_min=6,
        inhale_exhale_ratio=None,
        source="therapist",
    )
    await store.events.record_cue_shown(
        session_id, at_s=NOW_S, t_s=1.0, audience="therapist", kind="k", text="t"
    )
    await store.sessions.create_link(
        session_id, "reviewer", now_s=NOW_S, ttl_s=60, created_by=therapist_id
    )


async def test_deleting_a_client_removes_all_their_data_and_nothing_else(store) -> None:
    therapist, client, session, participant, _ = await a_session(store)
    kept_client = await store.clients.create(therapist.id, "C-2", "Cal", now_s=NOW_S)
    kept = await store.sessions.create(
        "Kept", now_s=NOW_S, client_id=kept_client.id, therapist_id=therapist.id
    )
    kept_participant, _ = await store.sessions.add_participant(kept.id, "client", "Cal")
    await fill(store, session.id, participant.id, therapist.id)
    await fill(store, kept.id, kept_participant.id, therapist.id)
    before = await _rows_about(store, session.id)
    assert all(before.values()), before  # every table held something of the client's
    await store.audit.append(
        AuditEntry(NOW_S, "therapist:x", "therapist", "session.read", "r", session.id, "ok")
    )

    assert await store.clients.delete(client.id) == 1

    assert set((await _rows_about(store, session.id)).values()) == {0}
    assert await _rows_about(store, kept.id) == before
    with pytest.raises(NotFoundError):
        await store.clients.get(client.id)
    with pytest.raises(NotFoundError):
        await store.clients.delete(client.id)
    assert len(await store.audit.entries(session_id=session.id)) == 1  # ids only, kept


async def test_an_erased_client_leaves_no_trace_in_the_sqlite_files(tmp_path) -> None:
    """SQLite's secure_delete zeroes deleted content and the WAL is truncated after."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
    therapist = await store.accounts.add_therapist("ana", "Ana", "h", now_s=NOW_S)
    name = "Zebedee Quixotic-Marshmallow"
    client = await store.clients.create(therapist.id, "C-9", name, now_s=NOW_S)
    session = await store.sessions.create(
        "Session", now_s=NOW_S, client_id=client.id, therapist_id=therapist.id
    )
    participant, _ = await store.sessions.add_participant(session.id, "client", name)
    unusual_payload = "16" + "ab" * 40
    await store.recording.record(
        session.id,
        participant.id,
        batch(0, NOW_S, unusual_payload),
        input_no=1,
        live=True,
        now_s=NOW_S,
    )
    files = list(tmp_path.glob("attune.sqlite3*"))

    def traces() -> bool:
        data = b"".join(f.read_bytes() for f in files if f.exists())
        return name.encode() in data or bytes.fromhex(unusual_payload) in data

    async with store.engine.connect() as conn:
        await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    assert traces()  # the check can see them before the erasure
    await store.clients.delete(client.id)
    erased = not traces()
    await store.close()
    assert erased


async def test_a_database_error_does_not_carry_the_bound_values(store) -> None:
    # Errors are logged; their bound values would be token digests and recorded payloads.
    with pytest.raises(DBAPIError) as caught:
        async with store.db.connect() as conn:
            await conn.execute(
                text("SELECT * FROM no_such_table WHERE id = :id"), {"id": "tok-secret-7c1e"}
            )
    assert "tok-secret-7c1e" not in str(caught.value)
    assert "no_such_table" in str(caught.value)  # the statement itself still shows
