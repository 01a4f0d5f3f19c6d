"""An uplink outbox that remembers what the service acknowledged."""

from __future__ import annotations

from attune.collector.outbox import MemoryOutbox


class WatchedOutbox(MemoryOutbox):
    """The uplink's memory outbox, remembering which seqs the service acknowledged."""

    def __init__(self) -> None:
        super().__init__()
        self.acked: set[int] = set()

    def ack(self, seq: int) -> None:
        self.acked.add(seq)
        super().ack(seq)
