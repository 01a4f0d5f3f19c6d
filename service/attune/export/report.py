"""The session report: one self-contained, printable HTML page.

Both tachograms, the calm index, synchrony, the timeline of markers, cues, pacer and gaps as
inline SVG (``svg.py``); the whole-session and 5 minute HRV summaries; artefact and gap
accounting. Nothing is fetched: no scripts, fonts or images, and the page's own
Content-Security-Policy (``content_security_policy``, also sent as a header by the API) allows
only its one stylesheet, by hash. Every text that came from a person (titles, names, markers,
cues) is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

import numpy as np

from attune import __version__
from attune.dyad.session import SessionSynchrony
from attune.export import svg
from attune.export.overview import ParticipantOverview, SessionOverview
from attune.export.record import ParticipantRecord, SessionRecord
from attune.hrv.summary import Summary

COLOURS = ("series-a", "series-b", "series-c", "series-d")  # by participant order
MINUTE_S = 60.0
NONE = "\u2013"  # an en dash: no value

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
  margin: 24px auto; max-width: 1000px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 16px 0 4px; }
.meta, figcaption, .note { color: #556; font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border-bottom: 1px solid #dde2ea; padding: 3px 6px; text-align: right; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
th { background: #f2f4f8; font-weight: 600; }
figure { margin: 8px 0 16px; } svg.plot { width: 100%; height: auto; display: block; }
.verdict { font-weight: 600; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  section, figure, table { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def content_security_policy() -> str:
    """Nothing may load; only the report's own stylesheet applies (by its SHA-256)."""
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def _clock(t_s: float) -> str:
    """Session time as [-]m:ss."""
    sign, t = ("-", -t_s) if t_s < 0 else ("", t_s)
    minutes, seconds = divmod(round(t), 60)
    return f"{sign}{minutes}:{seconds:02d}"


def _num(value: float | None, digits: int = 1) -> str:
    return NONE if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _date(unix_s: float | None) -> str:
    if unix_s is None:
        return NONE
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], text_cols: int = 1) -> str:
    """A table; every cell is escaped here; the first ``text_cols`` columns align left."""

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f"<{tag}{' class=text' if i < text_cols else ''}>{escape(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"


class _Page:
    """The plots' shared time axis (minutes) and the session's events."""

    def __init__(self, record: SessionRecord) -> None:
        self.record = record
        self.x_min = record.start_s / MINUTE_S
        self.x_max = max(record.end_s, record.start_s + 1.0) / MINUTE_S
        self.x_ticks = svg.nice_ticks(self.x_min, self.x_max, 10)
        self.pacer_spans = _pacer_spans(record)

    def frame(self, y_min: float, y_max: float, height: int = 180, left: float = 64.0) -> svg.Frame:
        return svg.Frame(self.x_min, self.x_max, y_min, y_max, height, left)

    def decorate(self, frame: svg.Frame, y_label: str) -> list[str]:
        """Axes, pacer bands and marker lines, under the data."""
        body = svg.spans(frame, self._minutes(self.pacer_spans), "pacer")
        body += svg.axes(frame, y_label=y_label, x_ticks=self.x_ticks)
        for number, m in enumerate(self.record.markers, start=1):
            x = float(frame.x([m.t_s / MINUTE_S])[0])
            body += [
                svg.line(x, frame.top, x, frame.bottom, "marker"),
                svg.text(x + 2, frame.top + 9, str(number), "marker-label", "start"),
            ]
        return body

    @staticmethod
    def _minutes(spans: Iterable[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
        return [(a / MINUTE_S, b / MINUTE_S, title) for a, b, title in spans]

    def tachogram(self, p: ParticipantRecord, colour: str) -> str:
        t = np.array([b.t_s for b in p.beats]) / MINUTE_S
        rr = np.array([b.rr_ms for b in p.beats])
        breaks = np.array([b.after_gap for b in p.beats], dtype=np.bool_)
        frame = self.frame(*svg.padded_range(rr, floor=250.0))
        body = self.decorate(frame, "RR (ms)")
        gaps = [(g.start_s, g.end_s, f"gap: {g.cause.value}, {g.duration_s:.1f} s") for g in p.gaps]
        body += svg.spans(frame, self._minutes(gaps), "gap")
        # A NaN before each beat after a gap lifts the pen: no line spans a gap.
        xs = np.insert(t, np.flatnonzero(breaks), np.nan)
        ys = np.insert(rr, np.flatnonzero(breaks), np.nan)
        body += svg.clipped(frame, f"tachogram-{p.label}", [svg.path(frame, xs, ys, colour)])
        flagged = [b for b in p.beats if b.artefact is not None]
        for b in flagged:
            # An artefact beyond the range shows on the edge, where its line leaves the plot.
            x, y = float(frame.x([b.t_s / MINUTE_S])[0]), float(frame.y([b.rr_ms])[0])
            y = min(max(y, frame.top), frame.bottom)
            kind = b.artefact.value if b.artefact else ""
            body.append(svg.dot(x, y, "artefact", f"{kind} at {_clock(b.t_s)}"))
        caption = (
            f"Tachogram, {p.label}: {len(p.beats)} beats (RR in ms against session minutes);"
            f" red dots: {len(flagged)} beats flagged as artefacts; grey: gaps; blue bands:"
            " breathing pacer on; dashed lines: numbered markers."
        )
        label = f"tachogram {p.label}"
        return _figure(svg.picture(frame, f"tachogram-{p.label}", label, body), caption)

    def calm(self, participants: Sequence[ParticipantRecord]) -> str:
        frame = self.frame(0.0, 100.0)
        body = self.decorate(frame, "calm (0-100)")
        keys = []
        for k, p in enumerate(participants):
            t = np.array([c.t_s / MINUTE_S for c in p.calm])
            values = np.array([np.nan if c.calm is None else c.calm for c in p.calm])
            body.append(svg.path(frame, t, values, COLOURS[k % 4]))
            keys.append(p.label)
        body += _legend(frame, keys)
        caption = (
            "Calm index of each person against their own baseline (50 = baseline; hrv.md,"
            " 'Calm index'); breaks where no reading was trustworthy."
        )
        return _figure(svg.picture(frame, "calm", "calm index", body), caption)

    def synchrony(self, sync: SessionSynchrony | None) -> str:
        if sync is None or sync.window_end_s.size == 0:
            return '<p class="note">Synchrony needs a therapist and a client with beats.</p>'
        z = sync.window_z
        finite = z[np.isfinite(z)]
        top = max(0.5, float(np.max(np.abs(finite))) * 1.1) if finite.size else 1.0
        frame = self.frame(-top, top)
        body = self.decorate(frame, "peak Fisher z")
        y0 = float(frame.y([0.0])[0])
        body.append(svg.line(frame.left, y0, frame.right, y0, "zero"))
        line = svg.path(frame, sync.window_end_s / MINUTE_S, z, "sync")
        body += svg.clipped(frame, "synchrony", [line])
        caption = (
            "Therapist-client HR synchrony: the peak Fisher z of each 30 s window's lagged"
            " cross-correlation (coregulation.md). " + _verdict(sync)
        )
        return _figure(svg.picture(frame, "synchrony", "synchrony", body), caption)

    def timeline(self, participants: Sequence[ParticipantRecord]) -> str:
        rows = ["markers", "cues: therapist", "cues: client", "pacer"]
        rows += [f"gaps: {p.label}" for p in participants]
        frame = self.frame(0.0, float(len(rows)), 40 + 22 * len(rows), left=120.0)
        body = svg.axes(frame, y_label="", x_ticks=self.x_ticks)[:1]  # the box only

        def band(row: int) -> tuple[float, float]:
            lo, hi = (float(v) for v in frame.y([len(rows) - row - 1, len(rows) - row]))
            return hi + 3, lo - 3

        for row, name in enumerate(rows):
            top, bottom = band(row)
            body.append(svg.text(frame.left - 6, (top + bottom) / 2 + 4, name, "label", "end"))
        top, bottom = band(0)
        for number, m in enumerate(self.record.markers, start=1):
            x = float(frame.x([m.t_s / MINUTE_S])[0])
            body += [
                svg.line(x, top, x, bottom, "marker"),
                svg.text(x + 2, top + 9, str(number), "marker-label", "start"),
            ]
        for row, audience in ((1, "therapist"), (2, "client")):
            top, bottom = band(row)
            for c in (c for c in self.record.cues if c.audience == audience):
                x = float(frame.x([c.t_s / MINUTE_S])[0])
                body.append(svg.line(x, top, x, bottom, "cue"))
        body += _row_spans(frame, band(3), self._minutes(self.pacer_spans), "pacer")
        for k, p in enumerate(participants):
            gaps = [(g.start_s, g.end_s, f"{g.cause.value} {g.duration_s:.1f} s") for g in p.gaps]
            body += _row_spans(frame, band(4 + k), self._minutes(gaps), "gap")
        for value in self.x_ticks:
            x = float(frame.x([value])[0])
            body.append(svg.text(x, frame.bottom + 15, f"{value:g}", "tick"))
        caption = (
            "Timeline in session minutes: numbered markers (listed below), cues shown to each"
            " person, the breathing pacer, and each strap's gaps."
        )
        return _figure(svg.picture(frame, "timeline", "timeline", body), caption)


def _row_spans(
    frame: svg.Frame, band: tuple[float, float], spans: Iterable[tuple[float, float, str]], cls: str
) -> list[str]:
    top, bottom = band
    out = []
    for start, end, title in spans:
        x0, x1 = (float(v) for v in frame.x([max(start, frame.x_min), min(end, frame.x_max)]))
        out.append(svg.rect(x0, top, x1 - x0, bottom - top, cls, title=title))
    return out


def _legend(frame: svg.Frame, labels: Sequence[str]) -> list[str]:
    out = []
    for k, label in enumerate(labels):
        x = frame.right - 110 * (len(labels) - k)
        out += [
            svg.rect(x, frame.top + 6, 12, 4, f"key-{'abcd'[k % 4]}"),
            svg.text(x + 16, frame.top + 11, label, "label", "start"),
        ]
    return out


def _figure(picture: str, caption: str) -> str:
    return f"<figure>{picture}<figcaption>{escape(caption)}</figcaption></figure>"


def _pacer_spans(record: SessionRecord) -> list[tuple[float, float, str]]:
    spans = []
    changes = sorted(record.pacer_changes, key=lambda c: c.t_s)
    for k, c in enumerate(changes):
        if c.breaths_per_min is None:
            continue
        end = changes[k + 1].t_s if k + 1 < len(changes) else record.end_s
        spans.append((c.t_s, end, f"pacer {c.breaths_per_min:g}/min"))
    return spans


def _verdict(sync: SessionSynchrony) -> str:
    s = sync.summary
    if s.insufficient_data or s.index is None:
        return f"Whole session: no verdict ({s.status.value.replace('_', ' ')})."
    lead = {
        "therapist": f"the therapist's HR changes first, by {abs(s.lag_s or 0):.1f} s",
        "client": f"the client's HR changes first, by {abs(s.lag_s or 0):.1f} s",
        "together": "they move together (lag under the lead threshold)",
        "undetermined": "nobody leads",
    }[s.leader.value]
    chance = "above chance" if s.above_chance else "not above chance"
    return (
        f"Whole session: index {s.index:.2f}, effect size {_num(s.effect_size)} against"
        f" {s.n_surrogates} segment-shuffled surrogates, p = {_num(s.p_value, 3)}: {chance};"
        f" {lead}."
    )


def _summary_rows(o: ParticipantOverview) -> list[str]:
    s, a, p = o.whole, o.accounting, o.participant
    return [
        p.label,
        p.name,
        p.sensor_name or NONE,
        str(a.beats),
        _num(s.time.mean_hr_bpm if s else None),
        _num(s.time.rmssd_ms if s else None),
        _num(s.time.sdnn_ms if s else None),
        f"{a.artefacts.total} ({_num(s.artefact_pct if s else None)} %)",
        f"{len(p.gaps)} ({a.gap_s:.0f} s)",
        f"{a.coverage_pct:.1f} %",
    ]


def _segment_row(s: Summary) -> list[str]:
    f = s.frequency
    return [
        f"{_clock(s.start_s)} to {_clock(s.end_s)}",
        str(s.n_beats),
        f"{s.artefacts.total} ({s.artefact_pct:.1f} %)",
        str(s.n_gaps),
        _num(s.time.mean_hr_bpm),
        _num(s.time.rmssd_ms),
        _num(s.time.sdnn_ms),
        _num(s.time.pnn50_pct),
        _num(f.lf_ms2 if f else None, 0),
        _num(f.hf_ms2 if f else None, 0),
        _num(f.lf_hf if f else None, 2),
        _num(s.dfa_alpha1, 2),
    ]


def _accounting_rows(o: ParticipantOverview) -> list[list[str]]:
    a, label = o.accounting, o.participant.label
    c = a.artefacts
    kinds = f"{c.ectopic} / {c.missed} / {c.extra} / {c.long} / {c.short}"
    gaps = ", ".join(f"{g.cause.value} {g.count} x {g.total_s:.1f} s" for g in a.gaps) or "none"
    battery = NONE if a.battery_min_pct is None else f"{a.battery_min_pct} %"
    return [
        [label, "beats recorded", str(a.beats)],
        [label, "artefacts, offline screen (ectopic / missed / extra / long / short)", kinds],
        [label, "artefacts, live screen", str(a.artefacts_live)],
        [label, "gaps by cause", gaps],
        [label, "time in gaps", f"{a.gap_s:.1f} s"],
        [label, "time covered by beats", f"{a.covered_s:.0f} of {a.span_s:.0f} s"],
        [label, "payloads the decoder refused", str(a.rejected_payloads)],
        [label, "link losses reported", str(a.link_losses)],
        [label, "lowest battery", battery],
    ]


def _header(record: SessionRecord) -> str:
    duration_s = record.end_s - min(record.start_s, 0.0)
    return (
        "<header><h1>Session report</h1>"
        f'<p class="meta"><strong>{escape(record.title)}</strong> &middot; session'
        f" {escape(record.session_id)} &middot; started {_date(record.started_at_s)} &middot;"
        f" {_clock(duration_s)} (m:ss) recorded &middot; {record.late_messages} late"
        " message(s) included</p></header>"
    )


OVERVIEW_COLUMNS = (
    "role", "name", "strap", "beats", "mean HR (bpm)", "RMSSD (ms)", "SDNN (ms)", "artefacts",
    "gaps", "coverage",
)  # fmt: skip
SEGMENT_COLUMNS = (
    "segment", "beats", "artefacts", "gaps", "mean HR", "RMSSD", "SDNN", "pNN50 %", "LF ms2",
    "HF ms2", "LF/HF", "DFA alpha1",
)  # fmt: skip
SEGMENT_NOTE = (
    '<p class="note">Task Force short-term blocks of session time, artefacts screened offline'
    " (Lipponen-Tarvainen, centred) and left out of every statistic; no difference spans a"
    " gap; LF and HF need 2 minutes without a long gap (docs/hrv.md).</p>"
)


def _events(record: SessionRecord) -> list[str]:
    markers = ([str(n), _clock(m.t_s), m.text] for n, m in enumerate(record.markers, start=1))
    cues = ([_clock(c.t_s), c.audience, c.kind, c.text] for c in record.cues)
    pacer = (
        [_clock(c.t_s), _pacer_setting(c.breaths_per_min, c.inhale_exhale_ratio), c.source]
        for c in record.pacer_changes
    )
    return [
        "<h3>Markers</h3>",
        _table(["#", "time", "text"], markers, text_cols=3),
        "<h3>Cues shown</h3>",
        _table(["time", "to", "cue", "text"], cues, text_cols=4),
        "<h3>Breathing pacer</h3>",
        _table(["time", "setting", "by"], pacer, text_cols=3),
    ]


def report_html(record: SessionRecord, view: SessionOverview) -> str:
    """The report page."""
    page = _Page(record)
    participants = [o.participant for o in view.participants]
    verdict = escape(_verdict(view.synchrony)) if view.synchrony else ""
    parts = [
        _header(record),
        "<section><h2>Overview</h2>",
        _table(OVERVIEW_COLUMNS, (_summary_rows(o) for o in view.participants), text_cols=3),
        f'<p class="verdict">{verdict}</p>',
        "</section><section><h2>Tachograms</h2>",
        *(page.tachogram(p, COLOURS[k % 4]) for k, p in enumerate(participants)),
        "</section><section><h2>Calm index</h2>",
        page.calm(participants),
        "</section><section><h2>Synchrony</h2>",
        page.synchrony(view.synchrony),
        "</section><section><h2>Timeline</h2>",
        page.timeline(participants),
        *_events(record),
        "</section><section><h2>HRV in 5 minute segments</h2>",
        SEGMENT_NOTE,
    ]
    for o in view.participants:
        rows = (_segment_row(s) for s in o.segments)
        parts += [f"<h3>{escape(o.participant.label)}</h3>", _table(SEGMENT_COLUMNS, rows)]
    accounting = (row for o in view.participants for row in _accounting_rows(o))
    parts += [
        "</section><section><h2>Artefacts and gaps</h2>",
        _table(["who", "what", "count"], accounting, text_cols=2),
        "</section>",
        (
            f'<footer class="note">Generated {_date(record.exported_at_s)} by Attune'
            f" {__version__} from the recording (engine window {record.engine.window_s:g} s)."
            " A biofeedback record, not a diagnosis.</footer>"
        ),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Session report &middot; {escape(record.title)}</title>"
        f"<style>{STYLE}</style></head><body>" + "".join(parts) + "</body></html>\n"
    )


def _pacer_setting(breaths_per_min: float | None, ratio: float | None) -> str:
    if breaths_per_min is None:
        return "stopped"
    return f"{breaths_per_min:g}/min" + (f", I:E 1:{ratio:g}" if ratio else "")
