"""Per-beat and metrics CSV (docs/exports.md has every column).

UTF-8, comma-separated, one header row, RFC 4180 quoting; units in column names; session time
in seconds (``t_s``) and wall time as ISO 8601 UTC with its offset (ecosystem.md §1.6). Values
are written at full precision (``rr_ms`` exactly: it is the strap's 1/1024 s value converted);
an empty cell is a value that does not exist (a metric before its window is long enough, no
artefact, no gap).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from attune.export.record import ParticipantRecord, SessionRecord
from attune.protocol.live import CalmMessage, MetricsMessage

BEAT_COLUMNS = (
    "participant_id",
    "role",
    "beat",
    "t_s",
    "wall_time",
    "rr_ms",
    "rr_1024",
    "hr_bpm",
    "artefact",
    "artefact_live",
    "after_gap",
    "gap_before_s",
    "gap_cause",
)
# The metrics message's own fields, in wire order, minus what the row says otherwise.
_METRIC_FIELDS = tuple(
    name
    for name in MetricsMessage.model_fields
    if name not in {"v", "seq", "type", "t_s", "participant", "quality"}
)
_GATES = ("time_domain", "frequency", "coherence", "dfa", "stress")
_CALM = ("calm", "calm_state", "calm_band", "calm_confidence")
METRIC_COLUMNS = (
    "participant_id",
    "role",
    "t_s",
    "wall_time",
    *_METRIC_FIELDS,
    *(f"quality_{gate}" for gate in _GATES),
    *_CALM,
)


def wall_time(record: SessionRecord, t_s: float) -> str:
    """ISO 8601 UTC (millisecond precision, with offset) of session time ``t_s``."""
    unix_s = round(record.origin_s + t_s, 3)  # isoformat truncates; round to the nearest ms
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="milliseconds")


def cell(value: object) -> str:
    """A CSV cell: empty for None (and a non-finite float), booleans as 0/1, floats exact."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)  # str(float) is the shortest string that reads back to the same float


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def _chosen(record: SessionRecord, participant_id: str | None) -> tuple[ParticipantRecord, ...]:
    return tuple(p for p in record.participants if participant_id in (None, p.id))


def beats_csv(record: SessionRecord, participant_id: str | None = None) -> str:
    """Every beat of every participant (or one), by participant then time."""
    rows = (
        (
            p.id,
            p.role,
            b.index,
            round(b.t_s, 4),
            wall_time(record, b.t_s),
            b.rr_ms,
            b.rr_1024,
            round(b.hr_bpm, 3),
            b.artefact.value if b.artefact else None,
            b.artefact_live.value if b.artefact_live else None,
            b.after_gap,
            round(b.gap_before_s, 4) if b.gap_before_s else None,
            b.gap_cause.value if b.gap_cause else None,
        )
        for p in _chosen(record, participant_id)
        for b in p.beats
    )
    return _csv(BEAT_COLUMNS, rows)


def metrics_csv(record: SessionRecord, participant_id: str | None = None) -> str:
    """The rolling metrics after every decided beat, with the calm reading in force then."""

    def rows(p: ParticipantRecord) -> Iterable[list[object]]:
        latest: CalmMessage | None = None
        k = 0
        for m in p.metrics:
            while k < len(p.calm) and p.calm[k].t_s <= m.t_s:
                latest, k = p.calm[k], k + 1
            yield [
                p.id,
                p.role,
                m.t_s,
                wall_time(record, m.t_s),
                *(getattr(m, name) for name in _METRIC_FIELDS),
                *(getattr(m.quality, g).value if m.quality else None for g in _GATES),
                *_calm_cells(latest),
            ]

    return _csv(METRIC_COLUMNS, (r for p in _chosen(record, participant_id) for r in rows(p)))


def _calm_cells(reading: CalmMessage | None) -> tuple[object, ...]:
    if reading is None:
        return (None,) * len(_CALM)
    band = reading.band.value if reading.band else None
    return (reading.calm, reading.state.value, band, reading.confidence)
