"""The real service (FastAPI on uvicorn) on a loopback port that can be stopped and started
again on the same port and database (a service outage).

By default it runs in the caller's event loop, like tests/integration. With
``own_thread=True`` it gets a thread and an event loop of its own, as a separate process
would: the service's own pauses (replaying a session's recording after a restart) then do
not stall a collector running in the caller's loop. Use ``call`` for its API in that mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from attune.api.app import create_app
from attune.api.deps import Services
from attune.settings import Settings
from attune.store.recording import RecordedInput
from attune.store.sessions import Role

if TYPE_CHECKING:
    from attune.cli.common import EmbeddedServer

T = TypeVar("T")


class LoopbackService:
    """``await svc.start()``, ``svc.base_url``, ``await svc.stop()``, ``await svc.start()``..."""

    def __init__(
        self, settings: Settings, clock: Callable[[], float], *, own_thread: bool = False
    ) -> None:
        if settings.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("LoopbackService listens on loopback only")
        self.settings = settings
        self.clock = clock
        self.own_thread = own_thread
        self.port = settings.port
        self._server: EmbeddedServer | None = None
        self._services: Services | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the service is not running")
        return self._services

    async def start(self) -> None:
        if not self.own_thread:
            await self._serve_until_started()
            return
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._thread_main, args=(started, failure), name="attune-service", daemon=True
        )
        self._thread.start()
        await asyncio.to_thread(started.wait)
        if failure:
            raise failure[0]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        elif self._stopped is not None:
            await self._stopped
        self._server = self._services = self._stopped = self._loop = None

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` (which uses ``services``) in the service's event loop."""
        if self._loop is None or not self.own_thread:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def new_session(
        self, roles: tuple[Role, ...] = ("therapist", "client")
    ) -> tuple[str, dict[Role, str], dict[Role, str]]:
        """A started session; returns its id, collector tokens and participant ids by role."""
        return await self.call(self._new_session(roles))

    async def recorded(self, session_id: str, participant_id: str) -> list[RecordedInput]:
        """One participant's recorded messages in seq order."""
        items = await self.call(self.services.store.recording.collector_inputs(session_id))
        return sorted(
            (item for item in items if item.participant_id == participant_id),
            key=lambda item: item.seq,
        )

    async def _new_session(
        self, roles: tuple[Role, ...]
    ) -> tuple[str, dict[Role, str], dict[Role, str]]:
        sessions = self.services.store.sessions
        session = await sessions.create("Collector test", now_s=self.clock())
        await sessions.start(session.id, now_s=self.clock())
        tokens: dict[Role, str] = {}
        ids: dict[Role, str] = {}
        for role in roles:
            row, tokens[role] = await sessions.add_participant(session.id, role, role.title())
            ids[role] = row.id
        return session.id, tokens, ids

    async def _serve_until_started(self) -> asyncio.Task[None]:
        # Imported here: attune.cli registers the fault benchmark, which imports this module.
        from attune.cli.common import start_server  # noqa: PLC0415

        settings = self.settings.model_copy(update={"port": self.port})
        app = create_app(settings, clock=self.clock)
        self._server, task = await start_server(app, settings)
        self.port = self._server.bound_port()
        self._services = app.state.services
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.ensure_future(task)
        return task

    def _thread_main(self, started: threading.Event, failure: list[BaseException]) -> None:
        async def serve() -> None:
            try:
                task = await self._serve_until_started()
            except BaseException as exc:
                failure.append(exc)
                raise
            finally:
                started.set()
            await task

        with contextlib.suppress(Exception):  # already handed to start() through failure
            asyncio.run(serve())
