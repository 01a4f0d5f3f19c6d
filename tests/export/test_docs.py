"""docs/exports.md names every column, key, stream and export the code writes."""

from __future__ import annotations

import re
from pathlib import Path

from attune.export.document import ParticipantDocument, SessionDocument
from attune.export.formats import FORMATS
from attune.export.lsl_streams import HRV_FIELDS, participant_streams, session_streams
from attune.export.tables import BEAT_COLUMNS, METRIC_COLUMNS

DOC = (Path(__file__).parents[2] / "docs" / "exports.md").read_text()
# Inline code spans (they may wrap), fenced examples left out.
CODE_SPANS = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", DOC, flags=re.DOTALL))


def documented(name: str) -> bool:
    word = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
    return any(word.search(span) for span in CODE_SPANS)


def test_the_exports_page_names_everything_the_exports_write() -> None:
    streams = [*participant_streams("s", "p", "client"), *session_streams("s")]
    names = [
        *BEAT_COLUMNS,
        *METRIC_COLUMNS,
        *(f.alias or n for n, f in SessionDocument.model_fields.items()),
        *ParticipantDocument.model_fields,
        *FORMATS,
        *(n for n, _ in HRV_FIELDS),
        *(s.type for s in streams),
    ]
    assert [n for n in names if not documented(n)] == []
    assert not documented("no_such_column")
