"""A session's resume buffer: its last ``limit`` live messages, kept where CPython's cycle
collector does not have to walk them.

A full collection stops the event loop while it walks every tracked object and every
pointer inside one. Buffered as ``LiveItem`` objects, the buffers of 625 sessions were 3.1
million tracked objects and a full collection took 1.4-1.6 s; as exact tuples of strings
and numbers, which the collector stops tracking after the first collection they survive
(CPython's gcmodule.c, ``untrack_tuples``), it still visited each one through its deque:
1.9 of the 3.2 million pointers a full collection followed at 700 straps
(docs/capacity-log.md, the eleventh machine). So messages are kept in sealed chunks of
``CHUNK`` messages, each an exact tuple of such tuples: an untracked tuple is never looked
inside, and a full collection visits one pointer per chunk.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from attune.hub.subscription import LiveItem, audience_of, audience_text

CHUNK = 64

# (seq, text, audience as text, droppable): atoms only, so the tuple can go untracked.
_Entry = tuple[int, str, str, bool]


def _entry(item: LiveItem) -> _Entry:
    return (item.seq, item.text, audience_text(item.audience), item.droppable)


def _item(entry: _Entry) -> LiveItem:
    seq, text, audience, droppable = entry
    return LiveItem(seq, audience_of(audience), text, droppable)


@dataclass(slots=True)
class ResumeBuffer:
    """The last ``limit`` messages appended, oldest first."""

    limit: int
    _sealed: deque[tuple[_Entry, ...]] = field(default_factory=deque)
    _open: list[_Entry] = field(default_factory=list)
    _skip: int = 0  # messages at the front of the oldest chunk that are past the limit

    def __len__(self) -> int:
        return len(self._sealed) * CHUNK + len(self._open) - self._skip

    @property
    def last_seq(self) -> int:
        """The newest message's seq; 0 when empty."""
        if not len(self):
            return 0
        return (self._open or self._sealed[-1])[-1][0]

    def append(self, item: LiveItem) -> None:
        self._open.append(_entry(item))
        if len(self._open) == CHUNK:
            self._sealed.append(tuple(self._open))
            self._open.clear()
        if len(self) > self.limit:
            self._skip += 1
            if self._skip == CHUNK:  # only a sealed chunk can be wholly past the limit
                self._sealed.popleft()
                self._skip = 0

    def extend(self, items: Iterable[LiveItem]) -> None:
        for item in items:
            self.append(item)

    def clear(self) -> None:
        self._sealed.clear()
        self._open.clear()
        self._skip = 0

    def after(self, seq: int) -> list[LiveItem]:
        """The buffered messages whose seq is above ``seq``, oldest first."""
        return [_item(entry) for entry in self._entries() if entry[0] > seq]

    def __iter__(self) -> Iterator[LiveItem]:
        return map(_item, self._entries())

    def _entries(self) -> Iterator[_Entry]:
        stored = itertools.chain(itertools.chain.from_iterable(self._sealed), self._open)
        return itertools.islice(stored, self._skip, None)
