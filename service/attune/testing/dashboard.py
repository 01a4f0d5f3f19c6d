"""A real service on loopback with a signed-in therapist, a client, a running session and two
simulated straps streaming through the real ingest websocket, for the dashboard's browser
tests and ``attune bench dashboard``. Strap time can run faster than real time
(``ScaledClock``): the service, the straps and the session share the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass, field
from urllib.parse import urlencode

from attune.api.links import ingest_url
from attune.collector.uplink import Uplink
from attune.pipeline.events import LinkState
from attune.protocol.ingest import SensorInfo
from attune.settings import Settings
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    Coupling,
    DyadSimulator,
    StrapPacketizer,
    therapy_session,
)
from attune.sim import Role as SimRole
from attune.store import Role
from attune.testing.clock import ScaledClock
from attune.testing.service import LoopbackService

COOKIE_NAME = "attune_session"
USERNAME = "dash"
PASSWORD = "dashboard-test-password"  # noqa: S105 - a test account on a loopback service


@dataclass(slots=True)
class DashboardRig:
    """``await rig.start()``; ``rig.console_url``, ``rig.client_url``, ``rig.cookie``;
    ``await rig.restart_service()``; ``await rig.stop()``."""

    settings: Settings
    clock: ScaledClock = field(default_factory=ScaledClock)
    seed: int = 1
    duration_s: float | None = None  # strap time after which the straps stop (None: never)
    service: LoopbackService | None = None
    session_id: str = ""
    cookie: str = ""
    origin_s: float = 0.0  # wall time (clock.now_s) of session time zero
    client_token: str = ""
    reviewer_token: str = ""
    participant_ids: dict[Role, str] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    _tokens: dict[Role, str] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def running(self) -> LoopbackService:
        if self.service is None:
            raise RuntimeError("the rig is not started")
        return self.service

    @property
    def base_url(self) -> str:
        return self.running.base_url

    @property
    def console_url(self) -> str:
        return f"{self.base_url}/therapist.html#{urlencode({'session': self.session_id})}"

    @property
    def replay_url(self) -> str:
        return f"{self.base_url}/replay.html#{urlencode({'session': self.session_id})}"

    @property
    def reviewer_url(self) -> str:
        fragment = urlencode({"session": self.session_id, "token": self.reviewer_token})
        return f"{self.base_url}/replay.html#{fragment}"

    @property
    def client_url(self) -> str:
        fragment = urlencode({"session": self.session_id, "token": self.client_token})
        return f"{self.base_url}/client.html#{fragment}"

    def session_time_s(self) -> float:
        """Session time now, on the rig's clock."""
        return self.clock.now_s() - self.origin_s

    def cookies(self) -> list[dict[str, str]]:
        """The login cookie, for ``BrowserContext.add_cookies``."""
        return [{"name": COOKIE_NAME, "value": self.cookie, "url": self.base_url}]

    async def start(self) -> None:
        self.service = LoopbackService(self.settings, self.clock.now_s, own_thread=True)
        await self.service.start()
        await self.service.call(self._accounts())
        dyad = DyadSimulator(
            therapy_session(),
            THERAPIST_PROFILE,
            CLIENT_PROFILE,
            Coupling(SimRole.THERAPIST, lag_s=3.0, strength=0.7),
            seed=self.seed,
            loop=True,
        )
        roles: tuple[Role, ...] = ("therapist", "client")
        for role in roles:
            self._tasks += self._strap(dyad, role)

    async def restart_service(self, down_s: float = 1.0) -> None:
        """Stop the service, wait, start it again on the same port and database."""
        await self.running.stop()
        await asyncio.sleep(down_s)
        await self.running.start()

    async def service_stop(self) -> None:
        """Stop the service (an outage that lasts until ``restart_service``)."""
        await self.running.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.service is not None:
            await self.service.stop()

    async def _accounts(self) -> None:
        svc = self.running.services
        now_s = self.clock.now_s()
        password_hash = await svc.passwords.hash_async(PASSWORD)
        therapist = await svc.store.accounts.add_therapist(
            USERNAME, "Dashboard therapist", password_hash, now_s=now_s
        )
        client = await svc.store.clients.create(therapist.id, "C-DASH", "Client", now_s=now_s)
        session = await svc.store.sessions.create(
            "Dashboard session", now_s=now_s, client_id=client.id, therapist_id=therapist.id
        )
        await svc.store.sessions.start(session.id, now_s=now_s)
        self.session_id = session.id
        self.origin_s = now_s
        self.cookie = await svc.store.accounts.open_login(therapist.id, now_s=now_s, ttl_s=86400)
        link = await svc.store.sessions.create_link(
            session.id, "client", now_s=now_s, ttl_s=86400, created_by=therapist.id
        )
        self.client_token = svc.tokens.link(link.id, link.expires_at_s)
        review = await svc.store.sessions.create_link(
            session.id, "reviewer", now_s=now_s, ttl_s=86400, created_by=therapist.id
        )
        self.reviewer_token = svc.tokens.link(review.id, review.expires_at_s)
        named: tuple[tuple[Role, str], ...] = (("therapist", "Therapist"), ("client", "Client"))
        for role, name in named:
            row, self._tokens[role] = await svc.store.sessions.add_participant(
                session.id, role, name
            )
            self.participant_ids[role] = row.id

    def _strap(self, dyad: DyadSimulator, role: Role) -> list[asyncio.Task[None]]:
        uplink = Uplink(
            url=ingest_url(self.base_url),
            token=self._tokens[role],
            sensor=SensorInfo(name=f"Simulated strap ({role})", address="sim"),
            collector="attune-dashboard-rig",
            clock=self.clock,
        )
        sim_role = SimRole(role)
        packetizer = StrapPacketizer(
            dyad.beats(sim_role), contact_ok=functools.partial(dyad.contact_ok, sim_role)
        )
        return [
            asyncio.create_task(uplink.run()),
            asyncio.create_task(self._feed(uplink, packetizer)),
        ]

    async def _feed(self, uplink: Uplink, packetizer: StrapPacketizer) -> None:
        """One notification per strap second, paced on the (scaled) clock."""
        start_s = self.clock.now_s()
        uplink.send_link(start_s, LinkState.STREAMING)
        uplink.send_battery(start_s, 88)
        while True:
            notification = packetizer.next_notification()
            if self.duration_s is not None and notification.t_s > self.duration_s:
                self.finished.set()
                return
            await self.clock.sleep(start_s + notification.t_s - self.clock.now_s())
            uplink.send_notification(start_s + notification.t_s, notification.payload)
