"""``attune collect`` as a library: several straps, each with its participant's uplink.

One ``ScanHub`` and one connect lock are shared by every link (see ``ble``); each strap has
its own uplink and its own stream in one on-disk outbox file, keyed by server and token, so
a restarted collector resumes every participant where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import structlog

from attune import __version__
from attune.collector.ble import ScanHub
from attune.collector.clock import Clock, SystemClock
from attune.collector.link import Backoff, Report
from attune.collector.outbox import OutboxFile
from attune.collector.problems import check_bluez_version
from attune.collector.strap_link import Claims, LinkSettings, StrapLink
from attune.collector.uplink import Uplink
from attune.errors import ConfigError
from attune.protocol.ingest import SensorInfo

log = structlog.get_logger(__name__)
COLLECTOR_NAME = f"attune-collect/{__version__}"


@dataclass(frozen=True, slots=True)
class StrapSpec:
    """A strap to find (name, part of a name, or address) and its participant's token."""

    selector: str
    token: str


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    link: LinkSettings = field(default_factory=LinkSettings)
    uplink_backoff: Backoff = field(default_factory=Backoff)
    drain_timeout_s: float = 10.0
    check_bluez: bool = True


def ingest_url(server: str) -> str:
    """``ws(s)://host[:port]/.../ingest`` from the service's base URL (http, https, ws, wss)."""
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConfigError(f"--server must be an http(s):// or ws(s):// URL, not {server!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/ingest"):
        path += "/ingest"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def stream_key(url: str, token: str) -> str:
    """The outbox stream of one participant at one server (the token is not stored)."""
    return hashlib.sha256(f"{url}\n{token}".encode()).hexdigest()[:32]


async def bluetoothctl_version() -> str | None:
    """``bluetoothctl --version`` output, or None where it is missing (as Bleak does)."""
    try:
        process = await asyncio.create_subprocess_exec(
            "bluetoothctl",
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 10)
    except (OSError, TimeoutError):
        return None
    return out.decode(errors="replace")


class Collector:
    """Runs one ``StrapLink`` and one ``Uplink`` per strap until ``stop()``."""

    def __init__(
        self,
        server: str,
        specs: list[StrapSpec],
        outbox: OutboxFile,
        *,
        config: CollectorConfig | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_report: Callable[[StrapLink, Report], None] | None = None,
    ) -> None:
        if not specs:
            raise ConfigError("give at least one --device")
        self.config = config or CollectorConfig()
        self.clock = clock or SystemClock()
        rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        url = ingest_url(server)
        self.scanner = ScanHub(adapter=self.config.link.adapter)
        gate, claims = asyncio.Lock(), Claims()
        self.uplinks: list[Uplink] = []
        self.links: list[StrapLink] = []
        for spec in specs:
            uplink = Uplink(
                url=url,
                token=spec.token,
                sensor=SensorInfo(name=spec.selector),
                outbox=outbox.outbox(stream_key(url, spec.token)),
                collector=COLLECTOR_NAME,
                rng=random.Random(rng.random()),  # noqa: S311
                clock=self.clock,
                backoff=self.config.uplink_backoff,
            )
            self.uplinks.append(uplink)
            self.links.append(
                StrapLink(
                    spec.selector,
                    uplink,
                    scanner=self.scanner,
                    gate=gate,
                    claims=claims,
                    clock=self.clock,
                    settings=self.config.link,
                    rng=random.Random(rng.random()),  # noqa: S311
                    on_report=on_report,
                )
            )

    def stop(self) -> None:
        for link in self.links:
            link.stop()

    async def run(self) -> list[Report | None]:
        """Stream until every link stopped (``stop()`` or fatal problems); returns each
        link's last report. Raises ``CollectorError`` when BlueZ is too old."""
        if self.config.check_bluez and sys.platform == "linux":
            check_bluez_version(await bluetoothctl_version())
        uplinks = [asyncio.create_task(uplink.run()) for uplink in self.uplinks]
        try:
            # A task group, so that a bug in one link cancels the others instead of orphaning them.
            async with asyncio.TaskGroup() as group:
                runs = [group.create_task(link.run()) for link in self.links]
            finals = [run.result() for run in runs]
            drained = await asyncio.gather(
                *(uplink.drain(self.config.drain_timeout_s) for uplink in self.uplinks)
            )
            for uplink, ok in zip(self.uplinks, drained, strict=True):
                if not ok:
                    log.warning(
                        "collector_outbox_kept",
                        pending=len(uplink.outbox),
                        advice="unsent data stays in the outbox and goes out on the next run",
                    )
            return finals
        finally:
            for task in uplinks:
                task.cancel()
            for task in uplinks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.scanner.close()
