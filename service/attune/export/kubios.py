"""RR text for Kubios HRV and other RR tools: one participant per file.

Kubios HRV reads RR interval data from plain ASCII text, in seconds or milliseconds, either
one RR value per line or two columns, time and RR, after header lines it is told to skip
(ecosystem.md §1.3; Hexoskin's note that Kubios takes only s or ms). We write the two-column
form with a fixed header, so one import setting fits every file:

    line 1-4   "# ..." provenance and counts
    line 5     "time_s<TAB>RR_ms"
    line 6-    "<time in s, 3 decimals><TAB><RR in ms, exact>"

The time column is the session time at which each interval ends (its R wave); it jumps across
gaps, so a tool that reads it sees them (and a tool that reads RR only gets the intervals
back to back, as one-column files do). Every beat is written, including those flagged as
artefacts: Kubios applies its own correction; the flags are in beats.csv. RR is exact: the
strap sends 1/1024 s units, RR_ms x 1.024 gives them back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attune.export.record import ParticipantRecord, SessionRecord

HEADER_LINES = 5


def kubios_text(record: SessionRecord, participant: ParticipantRecord) -> str:
    """The participant's beats as Kubios-readable two-column RR text."""
    start = datetime.fromtimestamp(record.origin_s, UTC).isoformat(timespec="seconds")
    flagged = sum(b.artefact is not None for b in participant.beats)
    gaps = sum(b.after_gap for b in participant.beats[1:])
    lines = [
        (
            "# Attune RR intervals. Kubios HRV: import as ASCII RR data, skip 5 header lines;"
            " column 1 time (s), column 2 RR interval (ms), tab-separated"
        ),
        (
            f"# session {record.session_id}; participant {participant.id}"
            f" ({participant.label}); time 0 = session start {start}"
        ),
        (
            f"# {len(participant.beats)} beats; {gaps} gaps (the time column jumps across each);"
            f" {flagged} beats flagged as artefacts are kept, not corrected"
        ),
        (
            "# RR is exact: the strap's 1/1024 s value is RR_ms x 1.024;"
            " per-beat flags and gap causes are in beats.csv"
        ),
        "time_s\tRR_ms",
    ]
    lines += [f"{b.t_s:.3f}\t{b.rr_ms}" for b in participant.beats]
    return "\n".join(lines) + "\n"
