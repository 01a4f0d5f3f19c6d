"""Group commits are paced: a message that finds no commit under way waits ``linger_s`` for
company, and under load commits start at least ``interval_s`` apart, each taking everything
that queued meanwhile (attune.api.commits)."""

from __future__ import annotations

import asyncio
import itertools
import math

from attune.api.commits import GroupCommit, commit_wait_s
from attune.protocol.ingest import Battery
from attune.store import PendingRecord, RecordOutcome

LINGER_S, INTERVAL_S = 0.005, 0.02


def test_after_a_quiet_spell_a_message_waits_only_the_linger() -> None:
    assert commit_wait_s(100.0, -math.inf, linger_s=LINGER_S, interval_s=INTERVAL_S) == LINGER_S
    assert commit_wait_s(100.0, 99.0, linger_s=LINGER_S, interval_s=INTERVAL_S) == LINGER_S


def test_a_commit_soon_after_the_last_waits_for_the_rest_of_the_interval() -> None:
    wait_s = commit_wait_s(100.004, 100.0, linger_s=LINGER_S, interval_s=INTERVAL_S)
    assert math.isclose(wait_s, 0.016)
    # Messages that queued behind a commit (no linger) wait out the interval too...
    assert math.isclose(commit_wait_s(100.01, 100.0, linger_s=0.0, interval_s=INTERVAL_S), 0.01)
    # ...and go at once when the last commit took longer than the interval.
    assert commit_wait_s(100.05, 100.0, linger_s=0.0, interval_s=INTERVAL_S) == 0.0


class _Recorder:
    """Commits nothing; notes when each commit started (the loop's clock) and its size."""

    def __init__(self) -> None:
        self.starts_s: list[float] = []
        self.sizes: list[int] = []

    async def record_many(self, items: list[PendingRecord]) -> list[RecordOutcome | Exception]:
        self.starts_s.append(asyncio.get_running_loop().time())
        self.sizes.append(len(items))
        await asyncio.sleep(0.001)  # the transaction
        return [RecordOutcome.NEW] * len(items)


def _pending(seq: int) -> PendingRecord:
    message = Battery(v=1, type="battery", seq=seq, at_s=1_800_000_000.0 + seq, level_pct=80)
    return PendingRecord("s", "p", message, seq + 1, True, 1_800_000_000.0)


async def test_under_load_commits_start_an_interval_apart_and_take_what_queued() -> None:
    recorder = _Recorder()
    commits = GroupCommit(recorder, linger_s=LINGER_S, interval_s=INTERVAL_S)
    waiters = []
    for seq in range(200):  # a message about every millisecond for 0.2 s or more
        waiters.append(asyncio.create_task(commits.record(_pending(seq))))
        await asyncio.sleep(0.001)
    assert await asyncio.gather(*waiters) == [RecordOutcome.NEW] * 200
    assert sum(recorder.sizes) == 200
    gaps_s = [b - a for a, b in itertools.pairwise(recorder.starts_s)]
    assert min(gaps_s) >= INTERVAL_S - 1e-6  # the loop's timer may fire a hair early
    # The messages shared commits (unless each took the producer a whole interval to send).
    assert commits.batches == len(recorder.sizes) < 200
