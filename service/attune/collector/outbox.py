"""Where the uplink keeps messages until the service acknowledges their commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Outbox(Protocol):
    """Seq-ordered store of unacknowledged uplink messages (JSON text)."""

    def next_seq(self) -> int: ...
    def put(self, seq: int, text: str) -> None: ...
    def pending(self, after_seq: int) -> list[tuple[int, str]]: ...
    def ack(self, seq: int) -> None: ...
    def __len__(self) -> int: ...


@dataclass(slots=True)
class MemoryOutbox:
    """An outbox that lives as long as the process (simulated straps in the demo)."""

    _items: dict[int, str] = field(default_factory=dict)
    _next_seq: int = 0

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def put(self, seq: int, text: str) -> None:
        self._items[seq] = text

    def pending(self, after_seq: int) -> list[tuple[int, str]]:
        return sorted((s, t) for s, t in self._items.items() if s > after_seq)

    def ack(self, seq: int) -> None:
        self._items.pop(seq, None)

    def __len__(self) -> int:
        return len(self._items)
