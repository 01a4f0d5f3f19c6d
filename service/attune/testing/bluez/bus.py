"""A private D-Bus "system bus" for the virtual strap tier.

``dbus-daemon`` runs as a ``--nofork`` child (we own its pid and kill it on exit; on Linux it
also dies with us through ``PR_SET_PDEATHSIG``). Bleak's BlueZ backend always connects to the
system bus, and dbus-fast reads ``DBUS_SYSTEM_BUS_ADDRESS`` whenever a bus is constructed,
so pointing that variable at the private daemon is the only seam needed
(virtual-strap-bluez.md §1.1). A ``bluetoothctl`` shim on ``PATH`` answers Bleak's
``bluetoothctl --version`` gate (pitfall 2) with ``$ATTUNE_FAKE_BLUEZ_VERSION`` (default 5.66).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

BLUETOOTHCTL_SHIM = """#!/bin/sh
# Stand-in for BlueZ's bluetoothctl: Bleak only runs `bluetoothctl --version`.
echo "bluetoothctl: ${ATTUNE_FAKE_BLUEZ_VERSION:-5.66}"
"""

DEFAULT_FAKE_BLUEZ_VERSION = "5.66"
PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 10.0


class DBusDaemonMissingError(RuntimeError):
    """No ``dbus-daemon`` binary (Debian package ``dbus``)."""


def find_dbus_daemon() -> str | None:
    """The ``dbus-daemon`` binary on PATH (or in /usr/bin), if any."""
    return shutil.which("dbus-daemon") or shutil.which("dbus-daemon", path="/usr/bin:/bin")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class PrivateSystemBus:
    """``with PrivateSystemBus() as bus: os.environ.update(bus.env())``."""

    def __init__(self) -> None:
        self.address = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def shim_dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the bus is not running")
        return Path(self._dir.name) / "bin"

    def __enter__(self) -> Self:
        daemon = find_dbus_daemon()
        if daemon is None:
            raise DBusDaemonMissingError("dbus-daemon not found (apt-get install dbus)")
        self._dir = tempfile.TemporaryDirectory(prefix="attune-dbus-")
        root = Path(self._dir.name)
        config = root / "bus.conf"
        config.write_text(BUS_CONFIG.format(dir=root))
        self.shim_dir.mkdir()
        shim = self.shim_dir / "bluetoothctl"
        shim.write_text(BLUETOOTHCTL_SHIM)
        shim.chmod(0o755)
        self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
            [daemon, f"--config-file={config}", "--nofork", "--nosyslog", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        self.address = self._read_address()
        return self

    def _read_address(self) -> str:
        assert self._process is not None  # noqa: S101 - set just before
        assert self._process.stdout is not None  # noqa: S101
        ready, _, _ = select.select([self._process.stdout], [], [], STARTUP_TIMEOUT_S)
        line = self._process.stdout.readline().decode().strip() if ready else ""
        if not line:
            self.close()
            raise RuntimeError("dbus-daemon did not print its address")
        return line

    def env(self, *, path: str | None = None) -> dict[str, str]:
        """Variables that point Bleak and dbus-fast at this bus and the shim."""
        base_path = os.environ.get("PATH", "") if path is None else path
        return {
            "DBUS_SYSTEM_BUS_ADDRESS": self.address,
            "PATH": f"{self.shim_dir}{os.pathsep}{base_path}",
        }

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Set ``env()`` in ``os.environ`` for the duration (for commands, not tests)."""
        saved = {name: os.environ.get(name) for name in ("DBUS_SYSTEM_BUS_ADDRESS", "PATH")}
        os.environ.update(self.env())
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def close(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
