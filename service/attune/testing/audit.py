"""Compare what a virtual strap emitted with what the service recorded.

The strap tags each notification with a serial in Energy Expended (``StrapConfig.tag_serial``),
so every recorded notification names the emitted one it carries. The recording is replayed
through the service's own beat timeline (the pipeline's first stage, which places beats
without the artefact screen's two-beat delay), and for every emitted beat we ask: was it recorded,
how often, and if it was lost, did the recording declare a gap there (the next recorded beat
has ``after_gap``) or was it lost silently? Silent losses and duplicates are the failures
the collector must not have; losses inside declared gaps are what a drop-out costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from attune.errors import PayloadError
from attune.pipeline import LinkState
from attune.protocol.ingest import Batch, Link
from attune.sensor.hrm import parse_hrm
from attune.sensor.timeline import BeatTimeline
from attune.store.recording import RecordedInput
from attune.testing.bluez.strap import Availability, Emitted

UINT16_MOD = 0x10000


@dataclass(frozen=True, slots=True)
class BeatAudit:
    """Emitted beats versus recorded beats for one strap.

    ``emitted_beats`` counts every beat the strap measured (with or without a link);
    ``sent_beats`` those it notified to a subscriber; ``sent_not_recorded`` those the
    collector received (or should have) and the recording lacks.
    """

    emitted_beats: int
    sent_beats: int
    sent_not_recorded: int
    recorded_beats: int
    lost_in_gaps: int
    lost_outside_gaps: int
    duplicate_beats: int
    duplicate_notifications: int
    malformed_injected: int
    rejected_recorded: int
    gaps: dict[str, int] = field(default_factory=dict)
    link_states: tuple[str, ...] = ()


def audit(ledger: Sequence[Emitted], recorded: Sequence[RecordedInput]) -> BeatAudit:
    """Audit one strap's ``ledger`` against its participant's ``recorded`` input (seq order)."""
    emitted = [e for e in ledger if not e.raw and e.rr_1024]
    by_tag = {e.serial % UINT16_MOD: e for e in emitted}
    timeline = BeatTimeline()
    seen: Counter[tuple[int, int]] = Counter()
    after_gap: dict[tuple[int, int], bool] = {}
    notifications: Counter[int] = Counter()
    gaps: Counter[str] = Counter()
    rejected = 0
    states: list[str] = []
    for item in recorded:
        message = item.message
        if isinstance(message, Link):
            states.append(message.state.value)
            if message.state is not LinkState.STREAMING:
                timeline.link_lost(message.at_s)
            continue
        if not isinstance(message, Batch):
            continue
        for note in message.notifications:
            try:
                update = timeline.feed(parse_hrm(note.payload), note.received_at_s)
            except PayloadError:
                rejected += 1
                continue
            gaps.update(gap.cause.value for gap in update.gaps)
            beats = update.beats
            source = _source(note.payload, by_tag)
            if source is None:
                continue
            notifications[source.serial] += 1
            for k, beat in enumerate(beats):
                key = (source.serial, k)
                seen[key] += 1
                after_gap.setdefault(key, beat.after_gap)
    keys = [(e.serial, k) for e in emitted for k in range(len(e.rr_1024))]
    lost_in, lost_out = _classify_losses(keys, seen, after_gap, states)
    sent = [(e.serial, k) for e in emitted if e.delivered for k in range(len(e.rr_1024))]
    return BeatAudit(
        emitted_beats=len(keys),
        sent_beats=len(sent),
        sent_not_recorded=sum(1 for key in sent if not seen[key]),
        recorded_beats=sum(1 for key in keys if seen[key]),
        lost_in_gaps=lost_in,
        lost_outside_gaps=lost_out,
        duplicate_beats=sum(n - 1 for n in seen.values() if n > 1),
        duplicate_notifications=sum(n - 1 for n in notifications.values() if n > 1),
        malformed_injected=sum(1 for e in ledger if e.raw and e.delivered),
        rejected_recorded=rejected,
        gaps=dict(gaps),
        link_states=tuple(states),
    )


def _source(payload: bytes, by_tag: dict[int, Emitted]) -> Emitted | None:
    try:
        hrm = parse_hrm(payload)
    except PayloadError:
        return None
    if hrm.energy_kj is None or not hrm.rr_1024:
        return None
    source = by_tag.get(hrm.energy_kj)
    return source if source is not None and source.rr_1024 == hrm.rr_1024 else None


def _classify_losses(
    keys: list[tuple[int, int]],
    seen: Counter[tuple[int, int]],
    after_gap: dict[tuple[int, int], bool],
    link_states: list[str],
) -> tuple[int, int]:
    """Lost beats followed by a recorded beat marked ``after_gap`` were declared; so are
    beats lost at the end if the recording ends with the link down."""
    lost_in = lost_out = 0
    pending = 0
    for key in keys:
        if not seen[key]:
            pending += 1
            continue
        if pending:
            if after_gap[key]:
                lost_in += pending
            else:
                lost_out += pending
            pending = 0
    if pending:
        if link_states and link_states[-1] != "streaming":
            lost_in += pending
        else:
            lost_out += pending
    return lost_in, lost_out


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The strap became available at ``available_at_s`` (for ``cause``) and a collector
    subscribed to it again ``delay_s`` later, both in strap time."""

    cause: str
    available_at_s: float
    delay_s: float


def reconnects(availability: Sequence[Availability]) -> tuple[list[Reconnect], int]:
    """Every return of the strap that ended in a new subscription, and how many returns were
    cut short (the strap went away again before anyone reconnected)."""
    done: list[Reconnect] = []
    cut_short = 0
    since: Availability | None = None
    for event in availability:
        if event.kind == "available":
            since = event
        elif since is not None and event.kind == "subscribed":
            done.append(Reconnect(since.cause, since.t_s, event.t_s - since.t_s))
            since = None
        elif since is not None and event.kind == "away":
            cut_short += 1
            since = None
    return done, cut_short
