"""Run ``attune demo`` as a real subprocess on a free loopback port and read its links."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

LINK = re.compile(r"(?P<label>[a-z ]+):\s+(?P<url>http://\S+)")


@dataclass(slots=True)
class DemoProcess:
    """``with DemoProcess(data_dir) as demo: demo.links["therapist console"]``."""

    data_dir: Path
    extra_args: tuple[str, ...] = ()
    startup_timeout_s: float = 60.0
    process: subprocess.Popen[str] | None = None
    base_url: str = ""
    links: dict[str, str] | None = None

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "attune", "demo", "--port", "0"]
        command += ["--data-dir", str(self.data_dir), *self.extra_args]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.links = {}
        deadline = time.monotonic() + self.startup_timeout_s
        for line in self.process.stdout or ():
            if line.startswith("Attune demo is running at "):
                self.base_url = line.split()[5]
            elif match := LINK.search(line):
                self.links[match["label"].strip()] = match["url"]
            if line.startswith("Press Ctrl-C") or time.monotonic() > deadline:
                break
        if not self.base_url:
            self.stop()
            raise RuntimeError("attune demo did not start")
        return self

    def stop(self) -> int:
        """Ctrl-C the demo and wait for it; returns its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
