"""``python -m attune.testing.bluez``: a private bus with virtual straps, driven from stdin.

Try ``attune scan``/``attune collect`` (or the hardware tier) without a strap::

    python -m attune.testing.bluez --strap "Polar H10 8C4CAD2B" --strap "TICKR 6E21"
    # then, in another shell, paste the two exported variables it prints, and run attune

Commands on stdin, one per line (``N`` is the strap's number, from 1): ``N drop``, ``N away``,
``N back``, ``N contact 0|1``, ``N stall``, ``N raw HEX``, ``N battery PCT``,
``N failconnect [BLUEZ-ERROR-TEXT]``, ``N occupy hidden|refusing``, ``N release``,
``power on|off``, ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

from attune.cli.common import say
from attune.testing.bluez.bus import PrivateSystemBus
from attune.testing.bluez.fake import FakeBlueZ
from attune.testing.bluez.strap import StrapConfig, VirtualStrap
from attune.testing.clock import ScaledClock


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m attune.testing.bluez", description=__doc__)
    parser.add_argument("--strap", action="append", default=[], metavar="NAME")
    parser.add_argument("--battery-mode", choices=["gatt", "plugin"], default="gatt")
    parser.add_argument("--time-scale", type=float, default=1.0)
    return parser.parse_args(argv)


def _apply(line: str, fake: FakeBlueZ, straps: list[VirtualStrap]) -> str:
    words = shlex.split(line)
    if not words:
        return ""
    if words[0] == "power" and len(words) == 2:  # noqa: PLR2004
        fake.power(words[1] == "on")
        return f"adapter {'on' if fake.powered else 'off'}"
    if not words[0].isdigit() or not 1 <= int(words[0]) <= len(straps) or len(words) < 2:  # noqa: PLR2004
        return f"? {line!r}: start with a strap number 1..{len(straps)}"
    strap, command, args = straps[int(words[0]) - 1], words[1], words[2:]
    simple = {
        "drop": strap.drop_link,
        "away": strap.go_out_of_range,
        "back": strap.come_back,
        "stall": strap.stall,
        "release": strap.release,
    }
    if command in simple:
        simple[command]()
    elif command == "contact" and args:
        strap.set_contact(args[0] == "1")
    elif command == "raw" and args:
        strap.inject_raw(bytes.fromhex(args[0]))
    elif command == "battery" and args:
        strap.set_battery(int(args[0]))
    elif command == "failconnect":
        strap.fail_next_connect(*args[:1])
    elif command == "occupy" and args and args[0] in ("hidden", "refusing"):
        strap.occupy("hidden" if args[0] == "hidden" else "refusing")
    else:
        return f"? {line!r}"
    return f"{strap.config.name}: {command} {' '.join(args)}".rstrip()


async def _serve(args: argparse.Namespace) -> None:
    clock = ScaledClock(args.time_scale)
    fake = await FakeBlueZ(clock).start()
    names = args.strap or ["Polar H10 8C4CAD2B"]
    straps = [
        fake.add_strap(
            StrapConfig(
                name=name,
                address=f"A0:9E:1A:00:00:{i + 1:02X}",
                battery_mode=args.battery_mode,
                seed=i + 1,
            )
        )
        for i, name in enumerate(names)
    ]
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "quit":
                break
            if reply := _apply(line.strip(), fake, straps):
                say(reply)
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with PrivateSystemBus() as bus:
        for name, value in bus.env().items():
            say(f"export {name}={shlex.quote(value)}")
        with bus.applied():
            asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
