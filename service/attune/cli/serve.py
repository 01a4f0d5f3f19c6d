"""``attune serve``: run the service."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from attune.api.app import create_app
from attune.cli.common import (
    add_server_options,
    http_base,
    say,
    settings_from,
    start_server,
    stop_event,
)

if TYPE_CHECKING:
    from attune.cli.common import Subcommands


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="run the service", description=__doc__
    )
    add_server_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    settings = settings_from(args)
    app = create_app(settings)
    stop = stop_event()
    server, server_task = await start_server(app, settings)
    say(f"Attune is serving at {http_base(settings.host, server.bound_port())}")
    await stop.wait()
    server.should_exit = True
    await server_task
