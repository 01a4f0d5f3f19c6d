"""``attune demo``: the service, an embedded SQLite database and two simulated straps (a
therapist and a client) streaming through the real ingest websocket."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import time
from typing import TYPE_CHECKING

from attune.api.app import create_app
from attune.api.deps import Services
from attune.cli.common import (
    add_server_options,
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
    StrapPacketizer,
    therapy_session,
)
from attune.sim import Role as SimRole
from attune.store.recording import Role

if TYPE_CHECKING:
    from attune.cli.common import Subcommands


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo", help="run the service with two simulated straps", description=__doc__
    )
    add_server_options(parser)
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated people")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    asyncio.run(_demo(args))
    return 0


async def _demo(args: argparse.Namespace) -> None:
    settings = settings_from(args)
    app = create_app(settings)
    stop = stop_event()
    server, server_task = await start_server(app, settings)
    base = http_base(settings.host, server.bound_port())
    svc: Services = app.state.services

    session = await svc.recording.create_session("Demo session", now_s=time.time())
    await svc.recording.start_session(session.id, now_s=time.time())
    straps = []
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
        _, token = await svc.recording.add_participant(session.id, role, name)
        uplink = Uplink(
            url=base.replace("http", "ws", 1) + "/ingest",
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

    therapist_token = svc.view_tokens.issue(session.id, "therapist")
    say(f"Attune demo is running at {base}  (data in {settings.data_dir})")
    say(f"  therapist console: {base}/therapist.html#session={session.id}&token={therapist_token}")
    say("Press Ctrl-C to stop.")

    await stop.wait()
    for task in straps:
        task.cancel()
    for task in straps:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    server.should_exit = True
    await server_task
    say("Stopped.")
