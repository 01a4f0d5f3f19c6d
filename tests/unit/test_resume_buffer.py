"""The resume buffer: exactly the last ``limit`` messages across its chunk boundaries, each
given back as it was appended, and nothing in it for the cycle collector to walk."""

from __future__ import annotations

import gc
from collections import deque

import pytest

from attune.hub import LiveItem
from attune.hub.resume_buffer import CHUNK, ResumeBuffer

EVERYONE = frozenset({"therapist", "client"})
THERAPIST = frozenset({"therapist"})


def item(seq: int) -> LiveItem:
    audience = THERAPIST if seq % 3 else EVERYONE
    return LiveItem(seq, audience, f'{{"seq": {seq}}}', droppable=seq % 2 == 0)


@pytest.mark.parametrize("limit", [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_it_holds_the_last_limit_messages_like_a_bounded_deque(limit: int) -> None:
    buffer, reference = ResumeBuffer(limit), deque[LiveItem](maxlen=limit)
    assert (len(buffer), buffer.last_seq, list(buffer)) == (0, 0, [])
    for seq in range(1, 5 * CHUNK + 3):
        buffer.append(item(seq))
        reference.append(item(seq))
        assert list(buffer) == list(reference)
        assert (len(buffer), buffer.last_seq) == (len(reference), seq)


def test_after_gives_the_messages_past_a_seq_as_appended() -> None:
    buffer = ResumeBuffer(100)
    buffer.extend(item(seq) for seq in range(1, 151))
    assert buffer.after(120) == [item(seq) for seq in range(121, 151)]
    assert buffer.after(0) == [item(seq) for seq in range(51, 151)]
    assert buffer.after(150) == []


def test_clear_then_extend_refills_it() -> None:
    buffer = ResumeBuffer(10)
    buffer.extend(item(seq) for seq in range(1, 100))
    buffer.clear()
    assert (len(buffer), buffer.last_seq) == (0, 0)
    buffer.extend([item(500), item(501)])
    assert list(buffer) == [item(500), item(501)]


def _collector_work() -> tuple[int, int]:
    """What a full collection walks: tracked objects, and the pointers inside them."""
    tracked = gc.get_objects()
    return len(tracked), sum(len(gc.get_referents(o)) for o in tracked)


def test_a_full_buffer_adds_almost_nothing_for_the_cycle_collector_to_walk() -> None:
    # Thousands of sessions' buffers hold millions of messages, and a full collection stops
    # the event loop while it walks them (docs/capacity-log.md). Kept as LiveItems, 5,000
    # messages would add 5,000 tracked objects; as tuples in a deque, 5,000 pointers.
    buffer = ResumeBuffer(5000)
    buffer.append(item(0))
    gc.collect()
    objects_before, pointers_before = _collector_work()
    buffer.extend(item(seq) for seq in range(1, 10_001))
    # One pass stops tracking the messages; a chunk, only once its messages are untracked
    # when the pass reaches it, which in the service is the next middle-generation pass.
    gc.collect()
    gc.collect()
    objects_after, pointers_after = _collector_work()
    assert len(buffer) == 5000
    assert objects_after - objects_before < 50
    assert pointers_after - pointers_before < 500  # about one a chunk: 5000 / 64
