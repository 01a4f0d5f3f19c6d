"""``attune export SESSION --format FORMAT``: a recorded session as a file, from the database
the service uses (``--data-dir``, or ATTUNE_DATABASE_URL). Formats (docs/exports.md):
beats-csv, metrics-csv, kubios (RR text per participant), edf (EDF+), json, report (HTML).
Each export is recorded in the audit log (actor "admin")."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from attune.cli.common import add_data_options, async_command, open_store, say, settings_from
from attune.errors import ConfigError, NotFoundError
from attune.export.formats import CSV, ExportFile, download_stem, render_record, rr_name
from attune.export.load import load_session
from attune.export.record import SessionRecord, build_record
from attune.export.tables import beats_csv, metrics_csv
from attune.store import AuditEntry

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

# CLI format -> export name (kubios: one rr-<participant>.txt per participant)
FORMATS = {
    "beats-csv": "beats.csv",
    "metrics-csv": "metrics.csv",
    "kubios": "rr",
    "edf": "session.edf",
    "json": "session.json",
    "report": "report.html",
}
PER_PARTICIPANT = {"beats-csv": beats_csv, "metrics-csv": metrics_csv}


def register(commands: Subcommands) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "export", help="export a recorded session", description=__doc__
    )
    parser.add_argument("session", help="the session id")
    parser.add_argument("--format", required=True, choices=list(FORMATS))
    parser.add_argument(
        "--participant",
        metavar="ID",
        help="only this participant (kubios, beats-csv, metrics-csv)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="file to write, or a directory for the default name ('-': standard output);"
        " default: the default name in the current directory",
    )
    add_data_options(parser)
    parser.set_defaults(run=async_command(_export))


async def _export(args: argparse.Namespace) -> int:
    if args.participant and args.format not in {"kubios", *PER_PARTICIPANT}:
        raise ConfigError("--participant applies to kubios, beats-csv and metrics-csv")
    async with open_store(settings_from(args)) as store:
        stored = await load_session(store, args.session)
        ids = [p.id for p in stored.participants]
        if args.participant and args.participant not in ids:
            raise NotFoundError(f"no participant {args.participant} in session {args.session}")
        record = await asyncio.to_thread(build_record, stored, exported_at_s=time.time())
        files = await asyncio.to_thread(_files, record, args.format, args.participant)
        if not files:
            raise NotFoundError(f"session {args.session} has no participants")
        if len(files) > 1 and args.out is not None and not args.out.is_dir():
            raise ConfigError(f"{len(files)} files: --out must be a directory")
        for file in files:
            await store.audit.append(
                AuditEntry(
                    at_s=time.time(),
                    actor="admin",
                    role="admin",
                    action="export",
                    resource=f"session:{args.session}/export/{file.filename}"[:128],
                    session_id=args.session,
                    outcome="ok",
                )
            )
    for file in files:
        _write(file, args.out)
    return 0


def _files(record: SessionRecord, fmt: str, participant_id: str | None) -> list[ExportFile]:
    if fmt == "kubios":
        chosen = [p.id for p in record.participants if participant_id in (None, p.id)]
        return [render_record(record, rr_name(pid)) for pid in chosen]
    participant = record.participant(participant_id) if participant_id else None
    if participant is None:
        return [render_record(record, FORMATS[fmt])]
    text = PER_PARTICIPANT[fmt](record, participant.id)
    name = f"{download_stem(record)}-{FORMATS[fmt].removesuffix('.csv')}-{participant.label}.csv"
    return [ExportFile(name, CSV, text.encode())]


def _write(file: ExportFile, out: Path | None) -> None:
    if out == Path("-"):
        sys.stdout.buffer.write(file.content)
        sys.stdout.flush()
        return
    out = Path.cwd() if out is None else out
    path = out / file.filename if out.is_dir() else out
    path.write_bytes(file.content)
    say(f"wrote {path} ({len(file.content)} bytes, {file.media_type.split(';')[0]})")
