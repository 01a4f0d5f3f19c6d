"""The real service (FastAPI on uvicorn) on a loopback port, in the caller's event loop, that
can be stopped and started again on the same port and database (a service outage)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from attune.api.app import create_app
from attune.api.deps import Services
from attune.cli.common import EmbeddedServer, start_server
from attune.settings import Settings
from attune.store.recording import RecordedInput, Role


class LoopbackService:
    """``await svc.start()``, ``svc.ws_url``, ``await svc.stop()``, ``await svc.start()``..."""

    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        if settings.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("LoopbackService listens on loopback only")
        self.settings = settings
        self.clock = clock
        self.port = settings.port
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._services: Services | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the service is not running")
        return self._services

    async def start(self) -> None:
        settings = self.settings.model_copy(update={"port": self.port})
        app = create_app(settings, clock=self.clock)
        self._server, self._task = await start_server(app, settings)
        self.port = self._server.bound_port()
        self._services = app.state.services

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = self._task = self._services = None

    async def new_session(
        self, roles: tuple[Role, ...] = ("therapist", "client")
    ) -> tuple[str, dict[Role, str], dict[Role, str]]:
        """A started session; returns its id, collector tokens and participant ids by role."""
        recording = self.services.recording
        session = await recording.create_session("Collector test", now_s=self.clock())
        await recording.start_session(session.id, now_s=self.clock())
        tokens: dict[Role, str] = {}
        ids: dict[Role, str] = {}
        for role in roles:
            row, tokens[role] = await recording.add_participant(session.id, role, role.title())
            ids[role] = row.id
        return session.id, tokens, ids

    async def recorded(self, session_id: str, participant_id: str) -> list[RecordedInput]:
        """One participant's recorded messages in seq order."""
        items = await self.services.recording.recorded_input(session_id)
        return [item for item in items if item.participant_id == participant_id]
