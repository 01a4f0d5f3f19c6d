"""``attune scan``: list the straps advertising the Heart Rate Service nearby."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING

from attune.cli.common import say
from attune.collector.ble import scan_straps
from attune.collector.problems import Problem, advice_for
from attune.errors import CollectorError

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

NO_STRAPS = 1
PROBLEM = 2


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "scan", help="list heart-rate straps in range", description=__doc__
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds to scan (default 10)"
    )
    parser.add_argument("--adapter", default=None, help="BlueZ adapter to use, e.g. hci1 (Linux)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        straps = asyncio.run(scan_straps(args.timeout, adapter=args.adapter))
    except CollectorError as exc:
        say(f"error: {exc.message}")
        say(f"  {exc.advice}")
        return PROBLEM
    if args.json:
        say(
            json.dumps(
                [{"name": s.name, "address": s.address, "rssi_dbm": s.rssi_dbm} for s in straps]
            )
        )
        return 0 if straps else NO_STRAPS
    if not straps:
        say(f"No heart-rate straps found in {args.timeout:g} s.")
        say(f"  {advice_for(Problem.STRAP_NOT_FOUND)}")
        return NO_STRAPS
    width = max(len("NAME"), *(len(s.name) for s in straps))
    say(f"{'NAME':<{width}}  {'ADDRESS':<36}  RSSI")
    for strap in straps:
        say(f"{strap.name or '(no name)':<{width}}  {strap.address:<36}  {strap.rssi_dbm} dBm")
    say()
    say('Stream one: attune collect --server URL --device "NAME_OR_ADDRESS=TOKEN"')
    return 0
