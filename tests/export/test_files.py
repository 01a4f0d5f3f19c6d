"""The export files read back with the tools researchers use: the CSVs with the csv module,
the Kubios text with numpy and our RR reader, the EDF+ with pyedflib, the JSON against its
JSON Schema, and the report's structure. The session is the simulated 20-minute one
(tests/export/simulated.py), with a contact loss, a link loss, a malformed payload and a late
batch."""

from __future__ import annotations

import base64
import bisect
import csv
import hashlib
import io
import json
import math
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import jsonschema
import numpy as np
import pyedflib
import pytest

from attune.errors import DataError
from attune.export.document import SCHEMA, SessionDocument, session_json
from attune.export.edf import (
    MAX_TEXT_BYTES,
    annotation_signals_needed,
    edf_bytes,
    edf_plan,
    text_chunks,
    write_edf,
)
from attune.export.kubios import HEADER_LINES, kubios_text
from attune.export.report import report_html
from attune.export.tables import BEAT_COLUMNS, METRIC_COLUMNS, beats_csv, metrics_csv
from attune.hrv.series import parse_rr_text
from attune.protocol.ingest import Batch
from attune.sensor.hrm import parse_hrm
from attune.sensor.timeline import RR_MAX_MS, RR_MIN_MS

CONTACT_LOST_END_S = 408.0  # the script's contact loss (client), 400-408 s
LINK_BACK_S = 622.0  # tests/export/simulated.py LINK_LOST_S


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def sent_rr_1024(sim, role: str) -> list[int]:
    """Every RR value the role's strap sent, in seq order (the late batch in its place)."""
    batches = sorted((m for m in sim.messages[role] if isinstance(m, Batch)), key=lambda m: m.seq)
    values = []
    for batch in batches:
        for note in batch.notifications:
            if len(note.payload) > 1:  # the malformed one is a single flags byte
                values += parse_hrm(note.payload).rr_1024
    return values


def test_beats_csv_holds_every_beat_the_straps_sent(sim, record) -> None:
    text = beats_csv(record)
    rows = read_csv(text)
    assert text.startswith(",".join(BEAT_COLUMNS) + "\r\n")
    assert {r["participant_id"] for r in rows} == {p.id for p in record.participants}
    for p in record.participants:
        mine = [r for r in rows if r["participant_id"] == p.id]
        in_range = [
            v for v in sent_rr_1024(sim, p.role) if RR_MIN_MS <= v * 1000 / 1024 <= RR_MAX_MS
        ]
        assert [int(r["rr_1024"]) for r in mine] == in_range
        assert len(mine) > 1000
        for r in mine:
            assert float(r["rr_ms"]) == int(r["rr_1024"]) * 1000 / 1024  # exact
            assert float(r["hr_bpm"]) == pytest.approx(60000 / float(r["rr_ms"]), abs=5e-4)
            wall_s = datetime.fromisoformat(r["wall_time"]).timestamp()
            assert wall_s == pytest.approx(sim.t0_s + float(r["t_s"]), abs=1e-3)
        times = [float(r["t_s"]) for r in mine]
        assert times == sorted(times)
        assert [int(r["beat"]) for r in mine] == list(range(len(mine)))


def test_beats_csv_marks_gaps_with_their_causes(record) -> None:
    rows = read_csv(beats_csv(record))
    causes = {(r["role"], r["gap_cause"]): float(r["t_s"]) for r in rows if r["gap_cause"]}
    assert set(causes) == {("client", "contact_lost"), ("client", "link_lost")}
    assert CONTACT_LOST_END_S < causes["client", "contact_lost"] < CONTACT_LOST_END_S + 4
    # The first notification after the link is back may carry a beat from just before.
    assert LINK_BACK_S - 2 < causes["client", "link_lost"] < LINK_BACK_S + 4
    for r in rows:
        assert (r["gap_cause"] != "") <= (r["after_gap"] == "1")
        if r["gap_cause"]:
            assert float(r["gap_before_s"]) > 5.0  # both losses last 8-12 s
    therapist = [r for r in rows if r["role"] == "therapist"]
    assert [r["after_gap"] for r in therapist].count("1") == 1  # the first beat only
    flagged = [r for r in rows if r["artefact"]]
    assert flagged  # the simulated straps miss R waves
    assert {r["artefact"] for r in flagged} <= {"ectopic", "missed", "extra", "long", "short"}


def test_metrics_csv_reads_back_with_the_calm_reading_in_force(record) -> None:
    rows = read_csv(metrics_csv(record))
    assert list(rows[0]) == list(METRIC_COLUMNS)
    for p in record.participants:
        mine = [r for r in rows if r["participant_id"] == p.id]
        assert len(mine) == len(p.metrics)
        calm_times = [c.t_s for c in p.calm]
        for r, m in zip(mine, p.metrics, strict=True):
            assert float(r["t_s"]) == m.t_s
            assert (r["rmssd_ms"] and float(r["rmssd_ms"])) == (m.rmssd_ms or "")
            assert r["quality_time_domain"] == m.quality.time_domain.value
            k = bisect.bisect_right(calm_times, m.t_s) - 1
            expected = "" if k < 0 or p.calm[k].calm is None else p.calm[k].calm
            assert (r["calm"] and float(r["calm"])) == expected
        assert any(r["lf_ms2"] for r in mine)  # the 300 s spectral window filled
        assert any(r["calm_state"] == "live" for r in mine)


def test_kubios_text_loads_as_two_columns_time_and_rr(record) -> None:
    for p in record.participants:
        text = kubios_text(record, p)
        lines = text.splitlines()
        assert not re.match(r"^[\d.]+\t[\d.]+$", lines[HEADER_LINES - 1])
        assert re.match(r"^[\d.]+\t[\d.]+$", lines[HEADER_LINES])  # data from line 6
        data = np.loadtxt(io.StringIO(text), skiprows=HEADER_LINES, delimiter="\t")
        assert data.shape == (len(p.beats), 2)
        assert list(data[:, 1]) == [b.rr_ms for b in p.beats]
        assert np.allclose(data[:, 0], [b.t_s for b in p.beats], atol=5e-4)
        series = parse_rr_text(text)  # the same reader as `attune analyze`
        assert list(series.rr_ms) == [b.rr_ms for b in p.beats]
        detected = set(np.flatnonzero(series.after_gap).tolist())
        caused = {b.index for b in p.beats if b.gap_cause is not None}
        assert caused <= detected <= {b.index for b in p.beats if b.after_gap}
        assert f"{len(p.beats)} beats" in lines[2]


def edf_read(path):
    reader = pyedflib.EdfReader(str(path))
    try:
        onsets, durations, texts = reader.readAnnotations()
        signals = [reader.readSignal(i) for i in range(reader.signals_in_file)]
        return (
            reader.getStartdatetime(),
            reader.getSignalLabels(),
            [reader.getSampleFrequency(i) for i in range(reader.signals_in_file)],
            [reader.getPhysicalDimension(i) for i in range(reader.signals_in_file)],
            signals,
            list(zip(onsets.tolist(), durations.tolist(), [str(t) for t in texts], strict=True)),
        )
    finally:
        reader.close()


def test_edf_reads_back_every_beat_and_annotation(record, tmp_path) -> None:
    path = tmp_path / "session.edf"
    path.write_bytes(edf_bytes(record))
    plan = edf_plan(record)
    start, labels, rates, units, _, notes = edf_read(path)
    start_unix = math.floor(record.origin_s + record.start_s)
    assert start == datetime.fromtimestamp(start_unix, UTC).replace(tzinfo=None)
    offset_s = start_unix - record.origin_s
    assert labels == ["HR therapist", "HR client"]
    assert rates == [4.0, 4.0]
    assert units == ["bpm", "bpm"]
    assert len(notes) == len(plan.annotations)
    assert plan.annotation_signals > 1  # this session needs more than the default
    for p in record.participants:
        beats = [(t, text) for t, _, text in notes if text.startswith(f"R {p.label} ")]
        assert len(beats) == len(p.beats)  # no beat dropped
        for (t, text), b in zip(beats, p.beats, strict=True):
            assert t + offset_s == pytest.approx(b.t_s, abs=1e-4)
            assert float(text.split()[2]) == b.rr_ms
            assert len(text.split()) == (4 if b.artefact else 3)
            assert b.artefact is None or text.endswith(f" {b.artefact.value}")
        gaps = [(t, d, text) for t, d, text in notes if text.startswith(f"gap {p.label} ")]
        assert [text.split()[2] for *_, text in gaps] == [g.cause.value for g in p.gaps]
        for (t, d, _), g in zip(gaps, p.gaps, strict=True):
            assert (t + offset_s, d) == pytest.approx((g.start_s, g.duration_s), abs=1e-4)
    assert sum(text.startswith("cue ") for *_, text in notes) == len(record.cues)
    assert [text for *_, text in notes if text.startswith("pacer")] == [
        "pacer 6/min I:E 1:1.5",
        "pacer off",
    ]


def test_edf_splits_long_marker_texts_and_keeps_them_whole(record, tmp_path) -> None:
    path = tmp_path / "session.edf"
    path.write_bytes(edf_bytes(record))
    texts = [text for *_, text in edf_read(path)[5]]
    assert all(len(t.encode()) <= MAX_TEXT_BYTES for t in texts)
    for marker in record.markers:
        expected = f"marker: {marker.text}"
        first = next(
            i for i, t in enumerate(texts) if t.startswith("marker: ") and expected.startswith(t)
        )
        whole = texts[first]
        for t in texts[first + 1 :]:
            if not t.startswith("+"):
                break
            whole += t[1:]
        assert whole == expected
    assert any(len(f"marker: {m.text}".encode()) > MAX_TEXT_BYTES for m in record.markers)


def test_edf_hr_signal_is_zero_in_gaps_and_follows_the_beats(record, tmp_path) -> None:
    path = tmp_path / "session.edf"
    path.write_bytes(edf_bytes(record))
    _, _, _, _, signals, _ = edf_read(path)
    offset_s = math.floor(record.origin_s + record.start_s) - record.origin_s
    for p, hr in zip(record.participants, signals, strict=True):
        accepted = [60000 / b.rr_ms for b in p.beats if b.artefact is None]
        shown = hr[hr > 0]
        assert shown.size > 0.95 * (p.beats[-1].t_s - p.beats[0].t_s) * 4
        assert min(accepted) - 0.01 <= shown.min() <= shown.max() <= max(accepted) + 0.01
        for g in p.gaps:
            middle = round(((g.start_s + g.end_s) / 2 - offset_s) * 4)
            assert hr[middle] == 0.0


def test_edf_with_one_annotation_signal_loses_annotations(record, tmp_path) -> None:
    """Why the annotation signals are counted: edflib drops what its slots cannot hold."""
    plan = edf_plan(record)
    path = tmp_path / "cramped.edf"
    write_edf(replace(plan, annotation_signals=1), path)
    kept = edf_read(path)[5]
    assert len(kept) == plan.records < len(plan.annotations)


@pytest.mark.parametrize(
    ("annotations", "records", "signals"), [(0, 10, 1), (10, 10, 1), (11, 10, 2), (640, 10, 64)]
)
def test_annotation_signals_cover_every_annotation(annotations, records, signals) -> None:
    assert annotation_signals_needed(annotations, records) == signals


def test_more_annotations_than_edf_can_hold_are_refused() -> None:
    with pytest.raises(DataError, match="capacity"):
        annotation_signals_needed(641, 10)


def test_text_chunks_cut_between_characters_and_drop_control_characters() -> None:
    text = "marker: Atemübung\tzusammen 🌬️ " + "ä" * 30
    chunks = text_chunks(text)
    assert all(len(c.encode()) <= MAX_TEXT_BYTES for c in chunks)
    assert chunks[0] + "".join(c[1:] for c in chunks[1:]) == text.replace("\t", " ")
    assert all(c.startswith("+") for c in chunks[1:])
    assert text_chunks("short") == ["short"]


def no_nan(value: str) -> None:
    raise AssertionError(f"{value} is not JSON")


def test_json_document_validates_against_its_schema_and_reads_back(record, view) -> None:
    text = session_json(record, view)
    doc = json.loads(text, parse_constant=no_nan)
    jsonschema.validate(doc, SessionDocument.model_json_schema(by_alias=True))
    assert doc["schema"] == SCHEMA
    model = SessionDocument.model_validate_json(text)
    for p, out in zip(record.participants, model.participants, strict=True):
        assert out.beats.rr_1024 == [b.rr_1024 for b in p.beats]
        assert out.beats.t_s == [b.t_s for b in p.beats]
        assert out.beats.artefact == [b.artefact for b in p.beats]
        assert len(out.metrics) == len(p.metrics)
        assert [g.cause for g in out.gaps] == [g.cause for g in p.gaps]
    whole = {o.participant.id: o.whole for o in view.participants}
    assert {p.id: p.summary for p in model.participants} == whole
    assert model.synchrony is not None
    assert view.synchrony is not None
    assert model.synchrony.summary.above_chance == view.synchrony.summary.above_chance
    assert [m.text for m in model.events.markers] == [m.text for m in record.markers]
    assert len(model.events.cues_shown) == len(record.cues) > 0


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = self._in_style and tag != "style"

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def test_report_is_self_contained_and_escapes_what_people_wrote(record, view) -> None:
    page = report_html(record, view)
    parsed = Elements()
    parsed.feed(page)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags
    assert not [a for _, a in parsed.tags if a.get("src") or a.get("href") or a.get("style")]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    plots = [a["data-plot"] for t, a in parsed.tags if t == "svg"]
    assert plots == ["tachogram-therapist", "tachogram-client", "calm", "synchrony", "timeline"]
    paths = [a["d"] for t, a in parsed.tags if t == "path"]
    assert len(paths) == 5
    assert all(d and d.startswith("M") for d in paths)
    (csp,) = [a["content"] for t, a in parsed.tags if a.get("http-equiv")]
    digest = base64.b64encode(hashlib.sha256(parsed.style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    rows = page.count("<tr>")
    segments = sum(len(o.segments) for o in view.participants)
    assert rows > segments + len(record.markers) + len(record.cues)


def test_edf_loads_in_mne_with_every_annotation(record, tmp_path) -> None:
    import mne  # noqa: PLC0415 - slow to import; only this test needs it

    path = tmp_path / "session.edf"
    path.write_bytes(edf_bytes(record))
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    _, labels, _, _, signals, notes = edf_read(path)
    assert raw.ch_names == labels
    assert raw.info["sfreq"] == 4.0
    read = sorted(zip(np.round(raw.annotations.onset, 4), raw.annotations.description, strict=True))
    assert read == sorted((round(t, 4), text) for t, _, text in notes)
    assert np.allclose(raw.get_data(), np.array(signals), atol=1e-9)
    for p in record.participants:
        beats = [d for d in raw.annotations.description if d.startswith(f"R {p.label} ")]
        assert len(beats) == len(p.beats)
