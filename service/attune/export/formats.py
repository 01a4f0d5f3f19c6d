"""The exports by name, as the API serves them and the CLI writes them (docs/exports.md).

``render`` turns a session's stored data into one named file: ``beats.csv``, ``metrics.csv``,
``session.json``, ``session.edf``, ``report.html`` or ``rr-<participant id>.txt``. CPU-bound
(it runs the pipeline over the recording): callers run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from attune.errors import NotFoundError
from attune.export.document import session_json
from attune.export.edf import edf_bytes
from attune.export.kubios import kubios_text
from attune.export.overview import overview
from attune.export.record import SessionRecord, StoredSession, build_record
from attune.export.report import report_html
from attune.export.tables import beats_csv, metrics_csv

CSV = "text/csv; charset=utf-8; header=present"  # RFC 4180, RFC 7111
HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
# EDF has no registered media type; binary data of no registered kind is octet-stream
# (RFC 2046 §4.5.1), and the .edf name tells viewers what it is.
EDF = "application/octet-stream"
RR_PREFIX, RR_SUFFIX = "rr-", ".txt"


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A rendered export: its download name, media type and bytes; ``inline`` files (the
    report) are meant to open in the browser rather than download."""

    filename: str
    media_type: str
    content: bytes
    inline: bool = False


@dataclass(frozen=True, slots=True)
class _Format:
    media_type: str
    render: Callable[[SessionRecord], bytes]
    inline: bool = False


FORMATS: dict[str, _Format] = {
    "beats.csv": _Format(CSV, lambda r: beats_csv(r).encode()),
    "metrics.csv": _Format(CSV, lambda r: metrics_csv(r).encode()),
    "session.json": _Format(JSON, lambda r: session_json(r, overview(r)).encode()),
    "session.edf": _Format(EDF, edf_bytes),
    "report.html": _Format(HTML, lambda r: report_html(r, overview(r)).encode(), inline=True),
}
NAMES = (*FORMATS, f"{RR_PREFIX}{{participant_id}}{RR_SUFFIX}")


def rr_name(participant_id: str) -> str:
    """The export name of a participant's RR text."""
    return f"{RR_PREFIX}{participant_id}{RR_SUFFIX}"


def check_name(name: str, participant_ids: frozenset[str]) -> str | None:
    """The participant an RR export names (None for the others); NotFoundError unless
    ``name`` is an export of a session with these participants."""
    if name in FORMATS:
        return None
    if name.startswith(RR_PREFIX) and name.endswith(RR_SUFFIX):
        participant_id = name.removeprefix(RR_PREFIX).removesuffix(RR_SUFFIX)
        if participant_id in participant_ids:
            return participant_id
        raise NotFoundError(f"no participant {participant_id} in this session")
    raise NotFoundError(f"no export {name!r}; exports: {', '.join(NAMES)}")


def download_stem(record: SessionRecord) -> str:
    """Download names start ``attune-<session id prefix>``."""
    return f"attune-{record.session_id[:12]}"


def render_record(record: SessionRecord, name: str) -> ExportFile:
    """One named export of a built record, named ``<stem>-<name>`` for download (an RR file
    by the participant's label: ``<stem>-rr-client.txt``)."""
    stem = download_stem(record)
    participant_id = check_name(name, frozenset(p.id for p in record.participants))
    participant = record.participant(participant_id) if participant_id else None
    if participant is not None:
        text = kubios_text(record, participant).encode()
        return ExportFile(f"{stem}-rr-{participant.label}.txt", TEXT, text)
    f = FORMATS[name]
    return ExportFile(f"{stem}-{name}", f.media_type, f.render(record), f.inline)


def render(stored: StoredSession, name: str, *, exported_at_s: float) -> ExportFile:
    """One named export of a session's stored data (checks the name before the work)."""
    check_name(name, frozenset(p.id for p in stored.participants))
    return render_record(build_record(stored, exported_at_s=exported_at_s), name)
