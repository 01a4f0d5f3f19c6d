"""``attune serve``: run the service; with ``--lsl`` (or ATTUNE_LSL=1) it also publishes the
live sessions to Lab Streaming Layer (docs/exports.md)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

import structlog

from attune.api.app import create_app
from attune.api.deps import Services
from attune.cli.common import (
    add_server_options,
    check_cues,
    http_base,
    say,
    settings_from,
    start_server,
    stop_event,
)
from attune.cli.gc_policy import GcPolicy, apply, collect_forever
from attune.cli.loops import event_loop_factory
from attune.errors import ConfigError
from attune.export.lsl import LslBridge, load_pylsl
from attune.settings import Settings

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

log = structlog.get_logger(__name__)


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="run the service", description=__doc__
    )
    add_server_options(parser)
    parser.add_argument(
        "--lsl",
        action="store_true",
        help="publish live HR, RR, HRV and markers to Lab Streaming Layer (ATTUNE_LSL=1)",
    )
    parser.set_defaults(run=run)


def _report_failure(task: asyncio.Task[None]) -> None:
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        log.error("lsl_bridge_stopped", error=repr(failure))


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not check_cues(settings):
        return 1
    lsl = args.lsl or settings.lsl
    if lsl:
        try:
            load_pylsl()  # before anything starts: a missing liblsl is a clear error
        except ConfigError as exc:
            say(f"error: {exc}")
            return 1
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_serve(settings, lsl=lsl))
    return 0


async def _serve(settings: Settings, *, lsl: bool) -> None:
    app = create_app(settings)
    stop = stop_event()
    server, server_task = await start_server(app, settings)
    say(f"Attune is serving at {http_base(settings.host, server.bound_port())}")
    gc_policy = GcPolicy(
        full_every_s=settings.gc_full_every_s, young_every_s=settings.gc_young_every_s
    )
    apply(gc_policy)
    collector = asyncio.create_task(collect_forever(gc_policy), name="gc-timer")
    bridge = None
    if lsl:
        services: Services = app.state.services
        bridge = asyncio.create_task(LslBridge(services.store, services.hub).run())
        bridge.add_done_callback(_report_failure)
        say("publishing live sessions to Lab Streaming Layer")
    await stop.wait()
    collector.cancel()
    if bridge is not None:
        bridge.cancel()
        await asyncio.gather(bridge, return_exceptions=True)
    server.should_exit = True
    await server_task
