"""EDF+ through pyedflib: each participant's HR as a signal, everything else as annotations.

EDF needs fixed-rate signals, so HR is resampled (``attune.dyad.resample``: 4 Hz, linear
between accepted beats, nothing across a gap or more than 3 s without one; 0 bpm marks "no
data"). The beats themselves are annotations at their R-wave times, carrying the exact RR, so
the primary record survives the file (ecosystem.md §1.2; RHRV's ``LoadBeatEDFPlus`` reads beats
the same way). Markers, cues, pacer changes and gaps (with their durations) are annotations too.

Two limits of the EDF+ writer (edflib, inside pyedflib) decide the layout:

- every data record has one annotation slot per annotation signal; edflib fills the slots in
  order and silently drops what does not fit (pyedflib issue #187), so the file gets
  ``ceil(annotations / records)`` annotation signals (at most 64) and refuses what even that
  cannot hold;
- an annotation's text is cut at 40 bytes (EDFLIB_WRITE_MAX_ANNOTATION_LEN), so longer texts
  (markers, cue texts) are split over several annotations, each chunk after the first
  starting with "+" and placed 0.1 ms after the one before.

The file starts at the whole second (UTC) at or before the earliest data; EDF has no time
zone, so readers show UTC. Onsets are kept to 0.1 ms (pyedflib's unit).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyedflib

from attune import __version__
from attune.dyad.resample import resample_hr
from attune.errors import DataError
from attune.export.record import SessionRecord

FloatArray = npt.NDArray[np.float64]

HR_FS_HZ = 4  # samples per 1 s data record
HR_MAX_BRIDGE_S = 3.0
HR_PHYSICAL_MAX = 250.0  # bpm; RR >= 300 ms is at most 200
MAX_TEXT_BYTES = 40  # edflib's EDFLIB_WRITE_MAX_ANNOTATION_LEN
ONSET_UNIT_S = 1e-4  # pyedflib writes onsets in units of 100 us
MAX_ANNOTATION_SIGNALS = 64  # edflib's limit
RECORD_S = 1


@dataclass(frozen=True, slots=True)
class EdfSignal:
    label: str  # at most 16 characters
    samples: FloatArray
    dimension: str = "bpm"
    transducer: str = "BLE HR strap, RR 1/1024 s"
    prefilter: str = "linear interpolation of 60000/RR at 4 Hz"


@dataclass(frozen=True, slots=True)
class EdfAnnotation:
    onset_s: float  # from the file's start
    duration_s: float | None
    text: str  # at most MAX_TEXT_BYTES bytes of UTF-8


@dataclass(frozen=True, slots=True)
class EdfPlan:
    """What goes into the file; ``offset_s`` is the session time of the file's start."""

    start: datetime  # naive UTC, a whole second
    offset_s: float
    records: int
    signals: tuple[EdfSignal, ...]
    annotations: tuple[EdfAnnotation, ...]
    annotation_signals: int
    admincode: str


def annotation_signals_needed(annotations: int, records: int) -> int:
    """Annotation signals so that every annotation has a slot (edflib: one per signal per
    record); DataError when even the maximum cannot hold them."""
    needed = max(1, math.ceil(annotations / records))
    if needed > MAX_ANNOTATION_SIGNALS:
        raise DataError(
            f"{annotations} annotations in {records} s exceed EDF+'s capacity"
            f" ({MAX_ANNOTATION_SIGNALS} per second)"
        )
    return needed


def text_chunks(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """``text`` as pieces of at most ``limit`` UTF-8 bytes, cut between characters; control
    characters (which delimit EDF+ annotations) become spaces; later pieces start with "+"."""
    clean = "".join(" " if ord(c) < 0x20 or c == "\x7f" else c for c in text)  # noqa: PLR2004
    chunks, current = [], ""
    for char in clean:
        if len((current + char).encode()) > limit:
            chunks.append(current)
            current = "+"
        current += char
    chunks.append(current)
    return chunks


def edf_plan(record: SessionRecord) -> EdfPlan:
    """Lay the session out as EDF+ signals and annotations."""
    start_unix = math.floor(record.origin_s + record.start_s)
    offset_s = start_unix - record.origin_s
    records = math.floor(record.end_s - offset_s) + 1
    signals = []
    notes: list[EdfAnnotation] = []

    def note(t_s: float, text: str, duration_s: float | None = None) -> None:
        # Continuation chunks follow 0.1 ms apart (pyedflib's onset unit): readers that sort
        # annotations by onset (MNE) keep them in order.
        notes.extend(
            EdfAnnotation(t_s - offset_s + k * ONSET_UNIT_S, duration_s, chunk)
            for k, chunk in enumerate(text_chunks(text))
        )

    note(0.0, "session start")
    if record.ended_at_s is not None:
        note(record.ended_at_s - record.origin_s, "session end")
    for p in record.participants:
        t_s = np.array([b.t_s for b in p.beats]) - offset_s
        hr = resample_hr(
            t_s,
            np.array([b.rr_ms for b in p.beats]),
            fs_hz=HR_FS_HZ,
            max_bridge_s=HR_MAX_BRIDGE_S,
            usable=np.array([b.artefact is None for b in p.beats], dtype=np.bool_),
            after_gap=np.array([b.after_gap for b in p.beats], dtype=np.bool_),
        )
        samples = np.nan_to_num(hr.get(0, records * HR_FS_HZ), nan=0.0)
        signals.append(EdfSignal(f"HR {p.label}"[:16], np.clip(samples, 0.0, HR_PHYSICAL_MAX)))
        for b in p.beats:
            flag = f" {b.artefact.value}" if b.artefact else ""
            note(b.t_s, f"R {p.label} {b.rr_ms}{flag}")
        for g in p.gaps:
            note(g.start_s, f"gap {p.label} {g.cause.value}", g.duration_s)
    for m in record.markers:
        note(m.t_s, f"marker: {m.text}")
    for c in record.cues:
        note(c.t_s, f"cue {c.audience} {c.kind}: {c.text}")
    for change in record.pacer_changes:
        note(change.t_s, _pacer_text(change.breaths_per_min, change.inhale_exhale_ratio))
    ordered = tuple(sorted(notes, key=lambda a: a.onset_s))
    return EdfPlan(
        start=datetime.fromtimestamp(start_unix, UTC).replace(tzinfo=None),
        offset_s=offset_s,
        records=records,
        signals=tuple(signals),
        annotations=ordered,
        annotation_signals=annotation_signals_needed(len(ordered), records),
        admincode=record.session_id,
    )


def _pacer_text(breaths_per_min: float | None, ratio: float | None) -> str:
    if breaths_per_min is None:
        return "pacer off"
    return f"pacer {breaths_per_min:g}/min" + (f" I:E 1:{ratio:g}" if ratio else "")


def write_edf(plan: EdfPlan, path: Path) -> None:
    """Write the plan as an EDF+ file (continuous, 1 s data records)."""
    # EDF needs at least one signal: a session without participants gets an empty HR.
    signals = plan.signals or (EdfSignal("HR", np.zeros(plan.records * HR_FS_HZ)),)
    writer = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        writer.setSignalHeaders(
            [
                {
                    "label": s.label,
                    "dimension": s.dimension,
                    "sample_frequency": HR_FS_HZ,
                    "physical_min": 0.0,
                    "physical_max": HR_PHYSICAL_MAX,
                    "digital_min": -32768,
                    "digital_max": 32767,
                    "transducer": s.transducer,
                    "prefilter": s.prefilter,
                }
                for s in signals
            ]
        )
        writer.setEquipment(f"Attune-{__version__}")
        writer.setAdmincode(plan.admincode)
        writer.setStartdatetime(plan.start)
        writer.set_number_of_annotation_signals(plan.annotation_signals)
        writer.writeSamples([np.ascontiguousarray(s.samples) for s in signals])
        for a in plan.annotations:
            duration = -1.0 if a.duration_s is None else a.duration_s
            writer.writeAnnotation(a.onset_s, duration, a.text)
    finally:
        writer.close()


def edf_bytes(record: SessionRecord) -> bytes:
    """The session as an EDF+ file's bytes (edflib writes to a path: a temporary one)."""
    plan = edf_plan(record)
    with tempfile.TemporaryDirectory(prefix="attune-edf-") as directory:
        path = Path(directory) / "session.edf"
        write_edf(plan, path)
        return path.read_bytes()
