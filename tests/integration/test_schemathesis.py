"""Schemathesis against the OpenAPI document, calling the real service (``attune serve`` in a
subprocess on a loopback port) as a signed-in therapist: no 500s, and every response matches
the documented status codes, content types and schemas. Valid and invalid (negative) inputs,
a bounded number of examples per operation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from attune.api.app import create_app
from attune.api.auth import COOKIE_NAME
from attune.cli.common import free_port
from attune.settings import Settings
from attune.store import Store
from tests.integration.conftest import PASSWORD, cheap_passwords

MAX_EXAMPLES = 20
# The schema is the app's own document, built without starting it.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(data_dir=Path("/nonexistent"), secret_key="unused")).openapi()
)


@dataclass(frozen=True)
class Live:
    base_url: str
    cookie: str
    ids: dict[str, str]  # real ids for path parameters


async def _prepare(data_dir: Path) -> dict[str, str]:
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'attune.sqlite3'}")
    try:
        password_hash = cheap_passwords().hash(PASSWORD)
        therapist = await store.accounts.add_therapist(
            "ana", "Ana", password_hash, now_s=time.time()
        )
        client = await store.clients.create(therapist.id, "C-1", "Bea", now_s=time.time())
        session = await store.sessions.create(
            "Fuzzed", now_s=time.time(), client_id=client.id, therapist_id=therapist.id
        )
        participant, _ = await store.sessions.add_participant(session.id, "client", "Bea")
    finally:
        await store.close()
    return {"session_id": session.id, "participant_id": participant.id}


@pytest.fixture(scope="module")
def live_service(tmp_path_factory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("schemathesis")
    ids = asyncio.run(_prepare(data_dir))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "attune", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ATTUNE_SECRET_KEY": "schemathesis"},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                login = httpx.post(
                    f"{base_url}/api/auth/login", json={"username": "ana", "password": PASSWORD}
                )
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("attune serve did not start")
        assert login.status_code == 200, login.text
        yield Live(base_url, login.cookies[COOKIE_NAME], ids)
    finally:
        process.terminate()
        process.wait(timeout=20)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api(case, live_service) -> None:
    # Real ids most of the time reach the handlers behind the ownership checks; erasing the
    # client keeps a generated id, so the fixture's data survives the run.
    if not (case.method == "DELETE" and case.path.startswith("/api/clients")):
        for name, value in live_service.ids.items():
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = value
    case.call_and_validate(
        base_url=live_service.base_url,
        cookies={COOKIE_NAME: live_service.cookie},
        additional_checks=[not_a_server_error],
    )
