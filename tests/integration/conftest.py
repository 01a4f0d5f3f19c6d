"""A real service on a loopback port, in the test's event loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from attune.api.app import create_app
from attune.api.deps import Services
from attune.cli.common import start_server
from attune.settings import Settings


@dataclass(frozen=True)
class RunningService:
    base_url: str
    ws_url: str
    services: Services

    async def new_session(self) -> tuple[str, dict[str, str]]:
        """A started session with a therapist and a client; returns collector tokens by role."""
        recording = self.services.recording
        session = await recording.create_session("Test session", now_s=time.time())
        await recording.start_session(session.id, now_s=time.time())
        tokens = {}
        for role in ("therapist", "client"):
            _, tokens[role] = await recording.add_participant(session.id, role, role.title())
        return session.id, tokens


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[RunningService]:
    app = create_app(settings)
    server, task = await start_server(app, settings)
    port = server.bound_port()
    yield RunningService(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app.state.services)
    server.should_exit = True
    await task
