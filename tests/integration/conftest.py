"""Real services for integration tests: uvicorn on a loopback port in the test's event loop,
SQLite in a temporary directory, and PostgreSQL (127.0.0.1:5432, database ``test``) in a
fresh schema per test.

Without a reachable PostgreSQL the PostgreSQL tests skip and say why; with
ATTUNE_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from attune.api.app import create_app
from attune.api.auth import COOKIE_NAME
from attune.api.deps import Services
from attune.api.passwords import Passwords
from attune.cli.common import start_server
from attune.settings import Settings
from attune.store import LinkRole, Store

POSTGRES_URL = os.environ.get(
    "ATTUNE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "correct horse battery"


def cheap_passwords() -> Passwords:
    """Argon2id with test-sized cost: the real algorithm, without 64 MiB per hash."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


async def _postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    dsn = POSTGRES_URL.replace("+asyncpg", "")
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {dsn} is unreachable: {exc}"
    await connection.close()
    return None


async def _fresh_schema() -> str:
    """A new schema name, or skip (fail under ATTUNE_REQUIRE_SERVICES=1) without PostgreSQL."""
    reason = await _postgres_reachable()
    if reason is not None:
        if os.environ.get("ATTUNE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"ATTUNE_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return f"attune_test_{uuid.uuid4().hex[:12]}"


async def _drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL schema, dropped after the test."""
    schema = await _fresh_schema()
    yield schema
    await _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path: Path) -> AsyncIterator[Store]:
    """The storage layer on each backend."""
    schema = None
    if request.param == "sqlite":
        opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
    else:
        schema = await _fresh_schema()
        opened = await Store.open(POSTGRES_URL, schema=schema)
    yield opened
    await opened.close()
    if schema is not None:
        await _drop_schema(schema)


@dataclass(frozen=True)
class Therapist:
    """A signed-in therapist: an HTTP client holding the login cookie."""

    id: str
    username: str
    http: httpx.AsyncClient
    cookie: str

    @property
    def ws_headers(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE_NAME}={self.cookie}"}


@dataclass(frozen=True)
class SessionFixture:
    id: str
    client_id: str
    therapist: Therapist
    collector_tokens: dict[str, str]  # by participant role
    participant_ids: dict[str, str]


@dataclass
class RunningService:
    base_url: str
    ws_url: str
    services: Services
    _clients: list[httpx.AsyncClient]

    async def therapist(self, username: str | None = None) -> Therapist:
        """A new therapist account, signed in through the login endpoint."""
        username = username or f"t-{uuid.uuid4().hex[:8]}"
        svc = self.services
        await svc.store.accounts.add_therapist(
            username, username.title(), svc.passwords.hash(PASSWORD), now_s=time.time()
        )
        http = httpx.AsyncClient(base_url=self.base_url)
        self._clients.append(http)
        response = await http.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return Therapist(response.json()["id"], username, http, http.cookies[COOKIE_NAME])

    async def new_session(self, therapist: Therapist | None = None) -> SessionFixture:
        """A started session of a new client, with a therapist and a client participant."""
        therapist = therapist or await self.therapist()
        http = therapist.http
        client = await http.post(
            "/api/clients",
            json={"pseudonym": f"C-{uuid.uuid4().hex[:6]}", "display_name": "Test client"},
        )
        session = await http.post(
            "/api/sessions", json={"client_id": client.json()["id"], "title": "Test session"}
        )
        session_id = session.json()["id"]
        assert (await http.post(f"/api/sessions/{session_id}/start")).status_code == 200
        tokens, ids = {}, {}
        for role in ("therapist", "client"):
            added = await http.post(
                f"/api/sessions/{session_id}/participants",
                json={"role": role, "display_name": role.title()},
            )
            tokens[role] = added.json()["collector_token"]
            ids[role] = added.json()["participant"]["id"]
        return SessionFixture(session_id, client.json()["id"], therapist, tokens, ids)

    async def link(self, session: SessionFixture, role: LinkRole) -> str:
        """A client or reviewer link token for the session, through the REST API."""
        response = await session.therapist.http.post(
            f"/api/sessions/{session.id}/links", json={"role": role}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


class FakeClock:
    """The service's clock, moved by the test (expiry without sleeping)."""

    def __init__(self) -> None:
        self.now_s = time.time()

    def __call__(self) -> float:
        return self.now_s


async def running(
    settings: Settings, clock: Callable[[], float] = time.time
) -> AsyncIterator[RunningService]:
    app = create_app(settings, clock=clock, passwords=cheap_passwords())
    server, task = await start_server(app, settings)
    port = server.bound_port()
    clients: list[httpx.AsyncClient] = []
    yield RunningService(
        f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app.state.services, clients
    )
    await asyncio.gather(*(c.aclose() for c in clients))
    server.should_exit = True
    await task


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[RunningService]:
    """The service on SQLite."""
    async for running_service in running(settings):
        yield running_service


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def clocked_service(settings: Settings, clock: FakeClock) -> AsyncIterator[RunningService]:
    """The service on SQLite, with a clock the test moves."""
    async for running_service in running(settings, clock):
        yield running_service


@pytest.fixture
async def pg_service(settings: Settings, pg_schema: str) -> AsyncIterator[RunningService]:
    """The service on PostgreSQL."""
    pg = settings.model_copy(update={"database_url": POSTGRES_URL, "database_schema": pg_schema})
    async for running_service in running(pg):
        yield running_service
