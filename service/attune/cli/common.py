"""Helpers shared by commands: server options, output, running uvicorn in-process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from attune.cues.config import load_cue_config
from attune.errors import AttuneError, ConfigError
from attune.settings import Settings
from attune.store import Store

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the database and secret key live (ATTUNE_DATABASE_URL overrides the DB)",
    )


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free)")
    parser.add_argument(
        "--cues",
        type=Path,
        default=None,
        metavar="FILE",
        help="the clinic's cue settings, a TOML file over the defaults (ATTUNE_CUES_FILE)",
    )
    add_data_options(parser)


def check_cues(settings: Settings) -> bool:
    """Whether the cue settings load; if not, say why (before anything starts)."""
    try:
        load_cue_config(settings.cues_file)
    except ConfigError as exc:
        say(f"error: {exc}")
        return False
    return True


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {
        name: getattr(args, name) for name in ("host", "port") if hasattr(args, name)
    }
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "cues", None) is not None:
        overrides["cues_file"] = args.cues
    return Settings(**overrides)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The database the service uses, for admin commands (safe while it runs: SQLite WAL)."""
    store = await Store.open(settings.resolved_database_url(), schema=settings.database_schema)
    try:
        yield store
    finally:
        await store.close()


def async_command(
    action: Callable[[argparse.Namespace], Coroutine[object, object, int]],
) -> Callable[[argparse.Namespace], int]:
    """A command's ``run`` from an async function; an AttuneError becomes a message on
    stdout and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(action(args))
        except AttuneError as exc:
            say(f"error: {exc}")
            return 1

    return run


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def say(line: str = "") -> None:
    """Write a line for the user on stdout (logs go to stderr)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def http_base(host: str, port: int) -> str:
    """A URL base that reaches the server from this machine."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - mapping a wildcard bind to a reachable address
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now, for a server started in another process."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedServer(uvicorn.Server):
    """uvicorn in our event loop; the command, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def bound_port(self) -> int:
        """The port actually bound (useful with ``--port 0``)."""
        for server in self.servers:
            for sock in server.sockets:
                port: int = sock.getsockname()[1]
                return port
        raise RuntimeError("server has no listening socket")


async def start_server(
    app: FastAPI, settings: Settings
) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        # Messages are small; a tight frame limit and no compression bound what one socket
        # can cost (ecosystem.md §4.1: deflate costs ~64 KiB per connection and amplifies).
        ws_max_size=1 << 20,
        ws_per_message_deflate=False,
        # websockets' Sans-I/O protocol parses frames as the bytes arrive; the legacy one
        # awaits its stream reader for each part of a frame. With the pipeline stubbed out,
        # 400 straps cost 0.48-0.52 ms of CPU a strap-second on it and 0.54-0.57 on the
        # legacy one (docs/capacity-log.md, ninth machine). uvicorn's "auto" picks it since 0.50.
        ws="websockets-sansio",
        # Behind a TLS proxy, X-Forwarded-Proto makes request.url https (Secure cookies).
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during startup")
        await asyncio.sleep(0.02)
    return server, task


def stop_event() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
