"""``attune analyze FILE``: the HRV summary of a recorded RR file (time and frequency domain,
nonlinear metrics, artefact counts), screened with the offline (centred) Lipponen-Tarvainen
form. The file holds one RR interval per line (ms, or s), or two columns: time (s) and RR.
See docs/hrv.md for every metric and convention."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from attune.cli.common import say
from attune.errors import DataError
from attune.hrv.artefacts import ArtefactKind
from attune.hrv.series import RrSeries, parse_rr_text
from attune.hrv.summary import Summary, segment_summaries, summarize

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

MAX_FILE_BYTES = 64 << 20  # a day of RR at 200 bpm is under 3 MB; refuse anything absurd


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "analyze", help="summarise an RR file's HRV", description=__doc__
    )
    parser.add_argument("file", type=Path, help="RR file: one value per line, or time and RR")
    parser.add_argument("--json", action="store_true", help="print JSON (snake_case, units)")
    parser.add_argument(
        "--segments", action="store_true", help="also summarise each 5 minute segment"
    )
    parser.add_argument(
        "--no-screen",
        action="store_true",
        help="keep every interval (to compare with tools that do not screen artefacts)",
    )
    parser.set_defaults(run=run)


def read_rr_file(path: Path) -> RrSeries:
    """Read and parse an RR file; DataError with the reason if it cannot be used."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DataError(f"{size} bytes is more than an RR file can hold (limit 64 MiB)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataError("no such file") from exc
    except IsADirectoryError as exc:
        raise DataError("is a directory, not an RR file") from exc
    except UnicodeDecodeError as exc:
        raise DataError("not a text file (not UTF-8)") from exc
    except OSError as exc:
        raise DataError(exc.strerror or str(exc)) from exc
    return parse_rr_text(text)


def run(args: argparse.Namespace) -> int:
    try:
        series = read_rr_file(args.file)
    except DataError as exc:
        sys.stderr.write(f"attune analyze: {args.file}: {exc}\n")
        return 2
    flags: list[ArtefactKind | None] | None = [None] * len(series) if args.no_screen else None
    summary = summarize(series, flags)
    segments = segment_summaries(series) if args.segments else []
    if args.json:
        result: dict[str, object] = {"file": str(args.file), "screened": not args.no_screen}
        result |= as_dict(summary)
        if args.segments:
            result["segments"] = [as_dict(s) for s in segments]
        say(json.dumps(result, indent=2))
    else:
        say(f"{args.file}: {summary.n_beats} intervals over {_duration(summary)}")
        for line in report(summary):
            say(line)
        for segment in segments:
            say()
            say(f"segment {segment.start_s:.0f}-{segment.end_s:.0f} s")
            for line in report(segment):
                say(line)
    return 0


def as_dict(s: Summary) -> dict[str, float | int | None]:
    """Flat snake_case keys with units in their names."""
    t, f, a = s.time, s.frequency, s.artefacts
    return {
        "start_s": s.start_s,
        "end_s": s.end_s,
        "duration_s": s.end_s - s.start_s,
        "n_beats": s.n_beats,
        "n_nn": t.n_nn,
        "n_gaps": s.n_gaps,
        "n_artefacts": a.total,
        "artefact_pct": s.artefact_pct,
        "n_ectopic": a.ectopic,
        "n_missed": a.missed,
        "n_extra": a.extra,
        "n_long": a.long,
        "n_short": a.short,
        "mean_nn_ms": t.mean_nn_ms,
        "mean_hr_bpm": t.mean_hr_bpm,
        "hr_from_mean_nn_bpm": t.hr_from_mean_nn_bpm,
        "sdnn_ms": t.sdnn_ms,
        "rmssd_ms": t.rmssd_ms,
        "ln_rmssd": t.ln_rmssd,
        "sdsd_ms": t.sdsd_ms,
        "nn50": t.nn50,
        "pnn50_pct": t.pnn50_pct,
        "vlf_ms2": f.vlf_ms2 if f else None,
        "lf_ms2": f.lf_ms2 if f else None,
        "hf_ms2": f.hf_ms2 if f else None,
        "lf_hf": f.lf_hf if f else None,
        "lf_nu": f.lf_nu if f else None,
        "hf_nu": f.hf_nu if f else None,
        "ln_hf": f.ln_hf if f else None,
        "hf_peak_hz": f.hf_peak_hz if f else None,
        "spectral_window_s": f.window_s if f else None,
        "sd1_ms": t.sd1_ms,
        "sd2_ms": t.sd2_ms,
        "dfa_alpha1": s.dfa_alpha1,
        "stress_index": s.stress_index,
    }


def _duration(s: Summary) -> str:
    seconds = s.end_s - s.start_s
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"  # noqa: PLR2004


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(s: Summary) -> list[str]:
    """Human-readable lines of one summary."""
    t, f, a = s.time, s.frequency, s.artefacts
    lines = [
        (
            f"  artefacts   {a.total} of {s.n_beats} ({s.artefact_pct:.1f} %): "
            f"{a.ectopic} ectopic, {a.missed} missed, {a.extra} extra, {a.long} long, "
            f"{a.short} short; {s.n_gaps} gaps"
        ),
        (
            f"  time        mean NN {_fmt(t.mean_nn_ms, 1)} ms, "
            f"mean HR {_fmt(t.mean_hr_bpm, 1)} bpm, SDNN {_fmt(t.sdnn_ms, 1)} ms, "
            f"RMSSD {_fmt(t.rmssd_ms, 1)} ms (ln {_fmt(t.ln_rmssd, 3)}), "
            f"pNN50 {_fmt(t.pnn50_pct, 1)} %"
        ),
    ]
    if f is None:
        lines.append("  frequency   - (needs 2 min of screened intervals without a long gap)")
    else:
        lines.append(
            f"  frequency   VLF {f.vlf_ms2:.0f}, LF {f.lf_ms2:.0f}, HF {f.hf_ms2:.0f} ms2; "
            f"LF/HF {_fmt(f.lf_hf, 3)}, LFnu {_fmt(f.lf_nu, 1)}, "
            f"HF peak {_fmt(f.hf_peak_hz, 3)} Hz"
        )
    lines.append(
        f"  nonlinear   SD1 {_fmt(t.sd1_ms, 1)} ms, SD2 {_fmt(t.sd2_ms, 1)} ms, "
        f"DFA a1 {_fmt(s.dfa_alpha1, 3)}, stress index {_fmt(s.stress_index, 1)}"
    )
    return lines
