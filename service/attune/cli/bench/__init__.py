"""``attune bench ...``: benchmarks that report figures (never pass/fail tests).

Each benchmark is a module here with ``register(commands)``, listed in ``BENCHMARKS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attune.cli.bench import cue_flicker, dashboard, engine, faults, latency, load, synchrony

if TYPE_CHECKING:
    from types import ModuleType

    from attune.cli.common import Subcommands

BENCHMARKS: tuple[ModuleType, ...] = (
    engine,
    latency,
    load,
    faults,
    synchrony,
    cue_flicker,
    dashboard,
)


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("bench", help="run a benchmark and report its figures")
    benches = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for module in BENCHMARKS:
        module.register(benches)
