"""``attune demo``: the service, an embedded SQLite database and two simulated straps (a
therapist and a client) streaming through the real ingest websocket, with ready-to-use links:
a one-time sign-in to the therapist console, the client's view and the team's replay.

The straps play the scripted 20-minute therapy session (baseline, conversation, a client
arousal episode, the therapist grounding with paced breathing, recovery) over and over, and a
simulated therapist sets the breathing pacer over the REST API when grounding begins and stops
it at recovery, as a therapist would from the console; synchrony and cues follow live."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import secrets
import time
from typing import TYPE_CHECKING

import httpx

from attune.api.app import create_app
from attune.api.deps import Services
from attune.api.links import ingest_url, issue_sign_in_link, issue_view_link
from attune.cli.common import (
    add_server_options,
    check_cues,
    http_base,
    say,
    settings_from,
    start_server,
    stop_event,
)
from attune.collector.simulated import SimulatedStrap
from attune.collector.uplink import Uplink
from attune.protocol.ingest import SensorInfo
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    Coupling,
    DyadSimulator,
    SessionScript,
    StrapPacketizer,
    therapy_session,
)
from attune.sim import Role as SimRole
from attune.store import ClientRow, LinkRole, Role, Store, TherapistRow

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from attune.cli.common import Subcommands

DEMO_USER = "demo"
DEMO_CLIENT = "C-DEMO"
LINK_TTL_S = 12 * 3600


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo", help="run the service with two simulated straps", description=__doc__
    )
    add_server_options(parser)
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated people")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not check_cues(settings_from(args)):
        return 1
    asyncio.run(_demo(args))
    return 0


async def _demo(args: argparse.Namespace) -> None:
    settings = settings_from(args)
    app = create_app(settings)
    stop = stop_event()
    server, server_task = await start_server(app, settings)
    base = http_base(settings.host, server.bound_port())
    svc: Services = app.state.services

    password = secrets.token_urlsafe(12)
    therapist, client = await _demo_accounts(svc, password)
    now_s = time.time()
    session = await svc.store.sessions.create(
        "Demo session", now_s=now_s, client_id=client.id, therapist_id=therapist.id
    )
    await svc.store.sessions.start(session.id, now_s=now_s)
    straps: list[asyncio.Task[None]] = []
    # The scripted session (baseline, conversation, a client arousal episode, grounding, paced
    # breathing, recovery) loops for as long as the demo runs; the client follows the
    # therapist's slow HR changes 3 s later.
    dyad = DyadSimulator(
        therapy_session(),
        THERAPIST_PROFILE,
        CLIENT_PROFILE,
        Coupling(SimRole.THERAPIST, lag_s=3.0, strength=0.7),
        seed=args.seed,
        loop=True,
    )
    roles: tuple[tuple[Role, str], ...] = (
        ("therapist", "Therapist (demo)"),
        ("client", "Client (demo)"),
    )
    for role, name in roles:
        _, token = await svc.store.sessions.add_participant(session.id, role, name)
        uplink = Uplink(
            url=ingest_url(base),
            token=token,
            sensor=SensorInfo(name=f"Simulated strap ({role})", address="sim"),
            collector="attune-demo",
        )
        sim_role = SimRole(role)
        packetizer = StrapPacketizer(
            dyad.beats(sim_role), contact_ok=functools.partial(dyad.contact_ok, sim_role)
        )
        strap = SimulatedStrap(packetizer, uplink, time.time)
        straps += [asyncio.create_task(uplink.run()), asyncio.create_task(strap.run())]

    console = issue_sign_in_link(
        svc.tokens, base, therapist.id, session_id=session.id, now_s=now_s, ttl_s=LINK_TTL_S
    )
    links: dict[LinkRole, str] = {}
    link_roles: tuple[LinkRole, ...] = ("client", "reviewer")
    for link_role in link_roles:
        _, _, links[link_role] = await issue_view_link(
            svc.store.sessions,
            svc.tokens,
            base,
            session.id,
            link_role,
            now_s=now_s,
            ttl_s=LINK_TTL_S,
            created_by=therapist.id,
        )
    say(f"Attune demo is running at {base}  (data in {settings.data_dir})")
    say(f"  therapist console: {console}")
    say(f"  client view: {links['client']}")
    say(f"  replay: {links['reviewer']}")
    say(f"  (the console link signs you in once; after that sign in as {DEMO_USER} / {password})")
    say("Press Ctrl-C to stop.")

    script = dyad.script
    straps.append(
        asyncio.create_task(
            play_therapist(base, session.id, DEMO_USER, password, script, origin_s=now_s)
        )
    )
    await stop.wait()
    for task in straps:
        task.cancel()
    for task in straps:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    server.should_exit = True
    await server_task
    say("Stopped.")


async def _demo_accounts(svc: Services, password: str) -> tuple[TherapistRow, ClientRow]:
    """The demo therapist (its password renewed each run) and their demo client."""
    store: Store = svc.store
    password_hash = await svc.passwords.hash_async(password)
    found = await store.accounts.credentials(DEMO_USER)
    if found is None:
        therapist = await store.accounts.add_therapist(
            DEMO_USER, "Demo therapist", password_hash, now_s=time.time()
        )
    else:
        therapist = found[0]
        await store.accounts.set_password_hash(therapist.id, password_hash)
    for client in await store.clients.of_therapist(therapist.id):
        if client.pseudonym == DEMO_CLIENT:
            return therapist, client
    client = await store.clients.create(
        therapist.id, DEMO_CLIENT, "Client (demo)", now_s=time.time()
    )
    return therapist, client


PacerStep = tuple[float, float | None, float]  # (script time, breaths/min or None, exhale ratio)


def pacer_plan(script: SessionScript) -> list[PacerStep]:
    """When the script's paced breathing starts, changes and stops."""
    plan: list[PacerStep] = []
    rate: float | None = None
    for start_s, phase in zip(script.phase_starts_s, script.phases, strict=True):
        paced = phase.pacer
        if paced is None and rate is not None:
            plan.append((start_s, None, 0.0))
            rate = None
        elif paced is not None and paced.breaths_per_min != rate:
            ratio = round((1.0 - paced.inhale_fraction) / paced.inhale_fraction, 2)
            plan.append((start_s, paced.breaths_per_min, ratio))
            rate = paced.breaths_per_min
    return plan


async def play_therapist(
    base: str,
    session_id: str,
    username: str,
    password: str,
    script: SessionScript,
    *,
    origin_s: float,
    cycles: int | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Sign in and set the pacer over REST as the looping script reaches paced breathing
    (and stop it after), for ``cycles`` rounds of the script (None: until cancelled)."""
    plan = pacer_plan(script)
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as http:
        login = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        login.raise_for_status()
        url = f"/api/sessions/{session_id}/pacer"
        cycle = 0
        while cycles is None or cycle < cycles:
            for t_s, rate, ratio in plan:
                await sleep(max(0.0, origin_s + cycle * script.duration_s + t_s - clock()))
                if rate is None:
                    response = await http.delete(url)
                else:
                    body = {"breaths_per_min": rate, "exhale_ratio": ratio}
                    response = await http.put(url, json=body)
                response.raise_for_status()
            cycle += 1
