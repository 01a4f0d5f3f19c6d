"""Running a real collector against the loopback service, shared by the virtual and the
hardware tier, and the checks both tiers make on what the service recorded."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

from attune.collector.clock import Clock
from attune.collector.collector import Collector, CollectorConfig, StrapSpec
from attune.collector.link import Backoff, LinkPolicy, Report
from attune.collector.outbox import OutboxFile
from attune.collector.strap_link import LinkSettings, StrapLink
from attune.protocol.ingest import Batch, Battery, Link
from attune.store.recording import RecordedInput
from attune.testing.service import LoopbackService
from attune.testing.waits import PATIENCE_S, eventually

ROLES = ("therapist", "client")
# Real seconds a test waits for something before it fails (a bound, not a measurement).


def fast_config(**policy: float) -> CollectorConfig:
    """Collector timings for tests (strap seconds; the clock makes them quick)."""
    link_policy = LinkPolicy(
        backoff=Backoff(base_s=0.5, cap_s=4.0),
        not_found_notice_s=policy.pop("not_found_notice_s", 10.0),
        # Long enough that a pause of the shared event loop under load (the virtual strap runs
        # in it too) is not taken for a mute strap: 10 strap s are 0.4 real s at 25x.
        silence_timeout_s=policy.pop("silence_timeout_s", 10.0),
        connect_timeout_s=policy.pop("connect_timeout_s", 10.0),
    )
    assert not policy, f"unknown timings {policy}"
    return CollectorConfig(
        link=LinkSettings(policy=link_policy),
        uplink_backoff=Backoff(base_s=0.5, cap_s=4.0),
        drain_timeout_s=300.0,  # strap s (12 real s): time for a loaded machine to catch up
    )


@dataclass
class Run:
    """A collector streaming into one session of the loopback service."""

    service: LoopbackService
    session_id: str
    participant_ids: dict[str, str]
    collector: Collector
    task: asyncio.Task[list[Report | None]]
    reports: list[tuple[str, Report]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        return self.session_id, self.tokens, self.participant_ids

    def link(self, index: int = 0) -> StrapLink:
        return self.collector.links[index]

    async def stop(self) -> list[Report | None]:
        self.collector.stop()
        return await asyncio.wait_for(self.task, PATIENCE_S)

    async def recorded(self, index: int = 0) -> list[RecordedInput]:
        participant = self.participant_ids[ROLES[index]]
        return await self.service.recorded(self.session_id, participant)

    async def streaming(self, index: int = 0, notifications: int = 3) -> None:
        """Wait until the link streams and has delivered ``notifications`` more."""
        link = self.link(index)
        await eventually(lambda: link.state.value == "streaming", f"{link.selector} to stream")
        target = link.stats.notifications + notifications
        await eventually(lambda: link.stats.notifications >= target, "notifications")


Session = tuple[str, dict[str, str], dict[str, str]]


async def start_run(
    service: LoopbackService,
    selectors: list[str],
    outbox: Path,
    clock: Clock,
    config: CollectorConfig | None = None,
    *,
    session: Session | None = None,
) -> Run:
    """A collector for ``selectors`` (one participant each) in a new session, or in
    ``session`` (id, tokens and participant ids by role) to continue one."""
    session_id, tokens, ids = session or await service.new_session(ROLES[: len(selectors)])
    specs = [StrapSpec(s, tokens[role]) for s, role in zip(selectors, ROLES, strict=False)]
    reports: list[tuple[str, Report]] = []
    collector = Collector(
        service.base_url,
        specs,
        OutboxFile(outbox),
        config=config or fast_config(),
        clock=clock,
        rng=random.Random(7),  # noqa: S311 - backoff jitter
        on_report=lambda link, report: reports.append((link.selector, report)),
    )
    task = asyncio.create_task(collector.run())
    return Run(service, session_id, dict(ids), collector, task, reports, dict(tokens))


def link_states(recorded: list[RecordedInput]) -> list[str]:
    return [r.message.state.value for r in recorded if isinstance(r.message, Link)]


def link_reasons(recorded: list[RecordedInput], state: str) -> list[str]:
    return [
        r.message.reason or ""
        for r in recorded
        if isinstance(r.message, Link) and r.message.state.value == state
    ]


def batteries(recorded: list[RecordedInput]) -> list[int]:
    return [r.message.level_pct for r in recorded if isinstance(r.message, Battery)]


def notification_count(recorded: list[RecordedInput]) -> int:
    return sum(len(r.message.notifications) for r in recorded if isinstance(r.message, Batch))


async def check_streamed_and_stopped(run: Run, index: int = 0) -> list[RecordedInput]:
    """Both tiers: the link started scanning, streamed only right after connecting, ended
    stopped, and every notification the collector received is recorded exactly once."""
    await run.stop()
    recorded = await run.recorded(index)
    states = link_states(recorded)
    assert states[0] == "scanning"
    assert states[-1] == "stopped"
    assert "streaming" in states
    assert all(states[i - 1] == "connecting" for i, s in enumerate(states) if s == "streaming")
    assert notification_count(recorded) == run.link(index).stats.notifications
    seqs = [r.seq for r in recorded]
    assert len(seqs) == len(set(seqs))
    return recorded
