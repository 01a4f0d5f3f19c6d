"""``attune collect``: stream one or more BLE heart-rate straps to the service.

Each strap belongs to one participant: give ``--device NAME_OR_ADDRESS=TOKEN`` per strap, or
``--device NAME_OR_ADDRESS`` with one ``--token`` per device, in the same order. A name
matches any strap whose name contains it (case-insensitive); an address matches exactly.
Data waits in an on-disk outbox until the service has committed it, so a restart of the
service, the network or this command loses nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from attune.cli.common import positive_int, say, stop_event
from attune.collector.collector import Collector, CollectorConfig, StrapSpec, ingest_url
from attune.collector.link import LinkPolicy, Report
from attune.collector.outbox import DEFAULT_MAX_MESSAGES, OutboxFile
from attune.collector.strap_link import LinkSettings, StrapLink
from attune.errors import CollectorError, ConfigError
from attune.pipeline.events import LinkState
from attune.settings import default_data_dir

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

PROBLEM = 2


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "collect",
        help="stream BLE heart-rate straps to the service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--server", required=True, help="the service's URL, e.g. http://192.168.1.20:8000"
    )
    parser.add_argument(
        "--device",
        action="append",
        required=True,
        metavar="NAME_OR_ADDRESS[=TOKEN]",
        help="a strap to stream (repeat for several); =TOKEN names its participant",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="collector token for the --device without =TOKEN at the same position",
    )
    parser.add_argument(
        "--outbox",
        type=Path,
        default=None,
        help="on-disk outbox file (default: DATA_DIR/collector-outbox.sqlite3)",
    )
    parser.add_argument(
        "--outbox-max-messages",
        type=positive_int,
        default=DEFAULT_MAX_MESSAGES,
        metavar="N",
        help="per strap; when full the oldest messages are dropped (default %(default)s)",
    )
    parser.add_argument(
        "--silence-timeout",
        type=float,
        default=LinkPolicy().silence_timeout_s,
        metavar="S",
        help="reconnect when a strap sends nothing for S seconds (default %(default)s)",
    )
    parser.add_argument("--adapter", default=None, help="BlueZ adapter, e.g. hci1 (Linux)")
    parser.add_argument(
        "--notify",
        choices=["start", "acquire"],
        default="start",
        help="BlueZ notification path: StartNotify (default) or AcquireNotify",
    )
    parser.set_defaults(run=run)


def pair_specs(devices: list[str], tokens: list[str]) -> list[StrapSpec]:
    """Pair each ``--device`` with its token (``NAME=TOKEN`` or the next ``--token``)."""
    remaining = list(tokens)
    specs = []
    for device in devices:
        selector, sep, token = device.rpartition("=")
        if not sep:
            if not remaining:
                raise ConfigError(
                    f"no token for --device {device!r}: write --device {device!r}=TOKEN"
                    " or give one --token per --device"
                )
            selector, token = device, remaining.pop(0)
        if not selector.strip() or not token.strip():
            raise ConfigError(f"--device {device!r} needs a name or address and a token")
        specs.append(StrapSpec(selector.strip(), token.strip()))
    if remaining:
        raise ConfigError(f"{len(remaining)} --token more than --device without =TOKEN")
    if len({s.token for s in specs}) != len(specs):
        # One participant, one strap: two uplinks would fight over the same seq numbers.
        raise ConfigError("the same token is given for two straps; each strap needs its own")
    return specs


def run(args: argparse.Namespace) -> int:
    try:
        specs = pair_specs(args.device, args.token)
        ingest_url(args.server)
    except ConfigError as exc:
        say(f"error: {exc}")
        return PROBLEM
    return asyncio.run(_collect(args, specs))


async def _collect(args: argparse.Namespace, specs: list[StrapSpec]) -> int:
    path = args.outbox or default_data_dir() / "collector-outbox.sqlite3"
    outbox = OutboxFile(path, max_messages=args.outbox_max_messages)
    policy = LinkPolicy(silence_timeout_s=args.silence_timeout)
    config = CollectorConfig(
        link=LinkSettings(policy=policy, notify=args.notify, adapter=args.adapter)
    )
    printer = _ReportPrinter()
    collector = Collector(args.server, specs, outbox, config=config, on_report=printer)
    stop = stop_event()
    say(f"Collecting {len(specs)} strap(s) for {args.server} (outbox {path}). Ctrl-C stops.")
    task = asyncio.create_task(collector.run())
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            say("Stopping: disconnecting straps and sending what is left...")
            collector.stop()
        finals = await task
    except CollectorError as exc:
        say(f"error: {exc.message}")
        say(f"  {exc.advice}")
        return PROBLEM
    finally:
        waiter.cancel()
        outbox.close()
    fatal = [link for link in collector.links if link.last_error and link.last_error.fatal]
    left = sum(len(uplink.outbox) for uplink in collector.uplinks)
    if left:
        say(f"{left} message(s) not yet acknowledged stay in {path} for the next run.")
    say("Stopped.")
    return PROBLEM if fatal and len(fatal) == len(finals) else 0


class _ReportPrinter:
    """One line per link transition; each problem's advice once per link."""

    def __init__(self) -> None:
        self._advised: set[tuple[str, str]] = set()

    def __call__(self, link: StrapLink, report: Report) -> None:
        detail = f": {report.reason}" if report.reason else ""
        if report.state is LinkState.STREAMING:
            detail = _streaming_detail(link)
        say(f"[{link.label}] {report.state.value}{detail}")
        error = link.last_error
        if error is None or report.state in (LinkState.STREAMING, LinkState.CONNECTING):
            return
        if (link.selector, error.code) not in self._advised:
            self._advised.add((link.selector, error.code))
            say(f"  {error.advice}")


def _streaming_detail(link: StrapLink) -> str:
    parts = []
    if link.seen is not None:
        parts.append(link.seen.address)
    if link.stats.battery_pct is not None:
        parts.append(f"battery {link.stats.battery_pct}%")
    return f" ({', '.join(parts)})" if parts else ""
