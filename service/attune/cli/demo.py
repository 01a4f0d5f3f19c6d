"""``attune demo``: the service, an embedded SQLite database and two simulated straps (a
therapist and a client) streaming through the real ingest websocket."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from attune.sim import PersonProfile, RrSimulator, StrapPacketizer
from attune.store.recording import Role

THERAPIST = PersonProfile(hr_bpm=64.0, breaths_per_min=6.0, rsa_ms=70.0, noise_ms=10.0)
CLIENT = PersonProfile(hr_bpm=84.0, breaths_per_min=15.0, rsa_ms=18.0, noise_ms=8.0)


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
    roles: tuple[tuple[Role, str, PersonProfile, int], ...] = (
        ("therapist", "Therapist (demo)", THERAPIST, args.seed),
        ("client", "Client (demo)", CLIENT, args.seed + 1),
    )
    for role, name, profile, seed in roles:
        _, token = await svc.recording.add_participant(session.id, role, name)
        uplink = Uplink(
            url=base.replace("http", "ws", 1) + "/ingest",
            token=token,
            sensor=SensorInfo(name=f"Simulated strap ({role})", address="sim"),
            collector="attune-demo",
        )
        simulator = RrSimulator(profile, seed=seed)
        strap = SimulatedStrap(StrapPacketizer(simulator.next_rr_ms), uplink, time.time)
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
