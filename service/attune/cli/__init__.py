"""``attune`` command line: one module per command, registered here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from attune import __version__
from attune.cli import analyze, bench, client, collect, demo, export, scan, serve, user
from attune.logs import configure_logging

COMMANDS = (demo, serve, user, client, scan, collect, analyze, export, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attune", description="Real-time HRV biofeedback for therapy."
    )
    parser.add_argument("--version", action="version", version=f"attune {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``attune`` console script."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    code: int = args.run(args)
    return code
