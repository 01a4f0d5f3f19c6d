"""Migrations on databases holding older data, on SQLite and PostgreSQL: 0001-era recordings
survive 0002, get their live input order and replay as they were fed live; 0003 adds session
controls; 0004 keeps old markers and gives new ones an idempotency key; 0005 makes every
kind of input claim its number in one table."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from attune.errors import ConflictError
from attune.store import Store, schema
from attune.store.database import MIGRATIONS_DIR
from tests.integration.conftest import POSTGRES_URL, _drop_schema, _fresh_schema


def _upgrade_to(revision: str):
    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return run


OLD_SESSION = text(
    "INSERT INTO sessions (id, title, created_at_s, notes) VALUES ('s1', 'Old session', 100.0, '')"
)
OLD_MARKER = text(
    "INSERT INTO markers (id, session_id, input_no, t_s, text, created_at_s) "
    "VALUES (:id, 's1', :no, 5.0, 'old', 105.0)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def old_database(request, tmp_path: Path):
    """(url, schema) of a database migrated to 0001 only."""
    if request.param == "sqlite":
        url, pg_schema, connect_args = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}", None, {}
    else:
        url, pg_schema = POSTGRES_URL, await _fresh_schema()
        connect_args = {"server_settings": {"search_path": pg_schema}}
    engine = create_async_engine(url, connect_args=connect_args)
    async with engine.begin() as conn:
        if pg_schema:
            await conn.execute(text(f'CREATE SCHEMA "{pg_schema}"'))
        await conn.run_sync(_upgrade_to("0001"))
    yield engine, url, pg_schema
    await engine.dispose()
    if pg_schema:
        await _drop_schema(pg_schema)


async def test_0002_keeps_old_recordings_and_orders_them_by_commit(old_database) -> None:
    engine, url, pg_schema = old_database
    payload = bytes.fromhex("16480004")
    async with engine.begin() as conn:
        await conn.execute(OLD_SESSION)
        for pid, role in (("p1", "therapist"), ("p2", "client")):
            await conn.execute(
                text(
                    "INSERT INTO participants (id, session_id, role, display_name, token_sha256, "
                    "sensor_name, sensor_address) VALUES (:id, 's1', :role, :role, :tok, '', '')"
                ),
                {"id": pid, "role": role, "tok": pid * 32},
            )
        # Committed interleaved: p1/0 at 101, p2/0 at 102, p1/1 at 103.
        for pid, seq, committed in (("p1", 0, 101.0), ("p2", 0, 102.0), ("p1", 1, 103.0)):
            await conn.execute(
                text(
                    "INSERT INTO ingest_log (participant_id, seq, kind, committed_at_s) "
                    "VALUES (:pid, :seq, 'batch', :at)"
                ),
                {"pid": pid, "seq": seq, "at": committed},
            )
            await conn.execute(
                insert(schema.notifications).values(
                    participant_id=pid, seq=seq, idx=0, received_at_s=committed, payload=payload
                )
            )

    store = await Store.open(url, schema=pg_schema)
    try:
        inputs = await store.recording.collector_inputs("s1")
        assert [(i.input_no, i.participant_id, i.seq, i.live) for i in inputs] == [
            (1, "p1", 0, True),
            (2, "p2", 0, True),
            (3, "p1", 1, True),
        ]
        assert inputs[0].message.notifications[0].payload == payload
        session = await store.sessions.get("s1")
        assert (session.title, session.client_id, session.therapist_id) == (
            "Old session",
            None,
            None,
        )
        assert await store.recording.last_input_no("s1") == 3
    finally:
        await store.close()


async def test_0003_adds_session_controls_and_the_client_view_setting(old_database) -> None:
    engine, url, pg_schema = old_database
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("0002"))
        await conn.execute(OLD_SESSION)
    store = await Store.open(url, schema=pg_schema)
    try:
        assert await store.sessions.show_numbers("s1") is False
        await store.sessions.set_show_numbers("s1", True)
        assert await store.sessions.show_numbers("s1") is True
        body = {"breaths_per_min": 6.0, "exhale_ratio": 1.5, "source": "therapist"}
        added = await store.controls.add(
            "s1", input_no=1, t_s=5.0, kind="pacer", body=body, author_id=None, now_s=105.0
        )
        assert await store.controls.of_session("s1") == [added]
        with pytest.raises(ConflictError):  # one input per number and session
            await store.controls.add(
                "s1", input_no=1, t_s=6.0, kind="pacer_stop", body={}, author_id=None, now_s=106.0
            )
    finally:
        await store.close()


async def test_0004_keeps_old_markers_and_refuses_a_second_marker_with_one_key(
    old_database,
) -> None:
    engine, url, pg_schema = old_database
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("0003"))
        await conn.execute(OLD_SESSION)
        await conn.execute(OLD_MARKER, {"id": "m1", "no": 1})
    store = await Store.open(url, schema=pg_schema)
    try:
        marks = store.recording
        unkeyed = await marks.add_marker(
            "s1", input_no=2, t_s=6.0, text="unkeyed", author_id=None, now_s=106.0
        )
        keyed = await marks.add_marker(
            "s1",
            input_no=3,
            t_s=7.0,
            text="keyed",
            author_id=None,
            now_s=107.0,
            idempotency_key="k-00000001",
        )
        assert [m.text for m in await marks.markers("s1")] == ["old", "unkeyed", "keyed"]
        assert unkeyed.id != keyed.id
        assert await marks.marker_by_key("s1", "k-00000001") == keyed
        assert await marks.marker_by_key("s1", "k-00000002") is None
        with pytest.raises(ConflictError):  # one marker per key and session
            await marks.add_marker(
                "s1",
                input_no=4,
                t_s=8.0,
                text="keyed",
                author_id=None,
                now_s=108.0,
                idempotency_key="k-00000001",
            )
    finally:
        await store.close()


async def test_0005_claims_the_numbers_old_inputs_hold_for_every_kind(old_database) -> None:
    engine, url, pg_schema = old_database
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("0004"))
        await conn.execute(OLD_SESSION)
        await conn.execute(
            text(
                "INSERT INTO participants (id, session_id, role, display_name, token_sha256, "
                "sensor_name, sensor_address) VALUES ('p1', 's1', 'client', 'Bea', :tok, '', '')"
            ),
            {"tok": "p1" * 32},
        )
        await conn.execute(
            text(
                "INSERT INTO ingest_log (participant_id, seq, kind, committed_at_s, session_id, "
                "input_no, live) VALUES ('p1', 0, 'battery', 101.0, 's1', 1, true)"
            )
        )
        await conn.execute(
            insert(schema.battery_readings).values(
                participant_id="p1", seq=0, at_s=101.0, level_pct=80
            )
        )
        # Numbers 2 and 3 as markers, and 3 once more as a control: before 0005 nothing
        # stopped two kinds of input from sharing a number.
        for marker_id, input_no in (("m2", 2), ("m3", 3)):
            await conn.execute(OLD_MARKER, {"id": marker_id, "no": input_no})
        await conn.execute(
            text(
                "INSERT INTO session_controls (id, session_id, input_no, t_s, kind, body_json, "
                "created_at_s) VALUES ('c3', 's1', 3, 6.0, 'pacer_stop', '{}', 106.0)"
            )
        )
    store = await Store.open(url, schema=pg_schema)
    try:
        assert await store.recording.last_input_no("s1") == 3
        assert len(await store.recording.inputs("s1")) == 3  # the old recording is kept whole
        for taken in (1, 2, 3):
            with pytest.raises(ConflictError):
                await store.controls.add(
                    "s1",
                    input_no=taken,
                    t_s=7.0,
                    kind="pacer_stop",
                    body={},
                    author_id=None,
                    now_s=107.0,
                )
        added = await store.controls.add(
            "s1", input_no=4, t_s=7.0, kind="pacer_stop", body={}, author_id=None, now_s=107.0
        )
        assert [c.id for c in await store.controls.of_session("s1")] == ["c3", added.id]
    finally:
        await store.close()
