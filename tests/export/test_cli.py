"""``attune export`` on a real SQLite database holding a simulated session written through the
store's API: every format, the participant filter, stdout, bad arguments, and the audit."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import numpy as np
import pyedflib
import pytest

from attune.cli import build_parser
from attune.export.document import SessionDocument
from attune.export.record import StoredSession
from attune.store import Store
from tests.export.simulated import record_in_store, short_script, simulate


def attune(capsys, tmp_path, *args: str) -> tuple[int, str]:
    parsed = build_parser().parse_args([*args, "--data-dir", str(tmp_path / "data")])
    code = parsed.run(parsed)
    return code, capsys.readouterr().out


def stored_in(tmp_path) -> StoredSession:
    async def write() -> StoredSession:
        (tmp_path / "data").mkdir()
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'attune.sqlite3'}")
        try:
            return await record_in_store(store, simulate(short_script()))
        finally:
            await store.close()

    return asyncio.run(write())


def audit_trail(tmp_path, session_id: str):
    async def read():
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'attune.sqlite3'}")
        try:
            return await store.audit.entries(session_id=session_id)
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def session(tmp_path) -> StoredSession:
    return stored_in(tmp_path)


def test_every_format_is_written_and_audited(capsys, tmp_path, session) -> None:
    sid = session.session.id
    out = tmp_path / "out"
    out.mkdir()
    for fmt in ("beats-csv", "metrics-csv", "kubios", "edf", "json", "report"):
        code, said = attune(capsys, tmp_path, "export", sid, "--format", fmt, "--out", str(out))
        assert code == 0, said
    stem = f"attune-{sid[:12]}"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"{stem}-{n}"
        for n in (
            "beats.csv",
            "metrics.csv",
            "rr-therapist.txt",
            "rr-client.txt",
            "session.edf",
            "session.json",
            "report.html",
        )
    )
    beats = list(csv.DictReader(io.StringIO((out / f"{stem}-beats.csv").read_text())))
    for role in ("therapist", "client"):
        mine = [r for r in beats if r["role"] == role]
        rr = np.loadtxt(out / f"{stem}-rr-{role}.txt", skiprows=5, delimiter="\t")[:, 1]
        assert [float(r["rr_ms"]) for r in mine] == list(rr)
        assert len(mine) > 300
    document = SessionDocument.model_validate_json((out / f"{stem}-session.json").read_bytes())
    assert [p.id for p in document.participants] == [p.id for p in session.participants]
    with pyedflib.EdfReader(str(out / f"{stem}-session.edf")) as edf:
        assert sum(str(t).startswith("R ") for t in edf.readAnnotations()[2]) == len(beats)
    trail = audit_trail(tmp_path, sid)
    exports = sorted(e.resource.rsplit("/", 1)[1] for e in trail if e.action == "export")
    assert exports == names
    assert {(e.actor, e.role, e.outcome) for e in trail if e.action == "export"} == {
        ("admin", "admin", "ok")
    }


def test_one_participant_to_stdout(capsys, tmp_path, session) -> None:
    client = next(p for p in session.participants if p.role == "client")
    code, text = attune(
        capsys,
        tmp_path,
        "export",
        session.session.id,
        "--format",
        "beats-csv",
        "--participant",
        client.id,
        "--out",
        "-",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["participant_id"] for r in rows} == {client.id}
    code, text = attune(
        capsys,
        tmp_path,
        "export",
        session.session.id,
        "--format",
        "kubios",
        "--participant",
        client.id,
        "--out",
        "-",
    )
    assert code == 0
    assert text.count("\n") == 5 + len(rows)


def test_the_kubios_file_is_what_attune_analyze_reads(capsys, tmp_path, session) -> None:
    client = next(p for p in session.participants if p.role == "client")
    path = tmp_path / "client.txt"
    args = ("--format", "kubios", "--participant", client.id, "--out", str(path))
    assert attune(capsys, tmp_path, "export", session.session.id, *args)[0] == 0
    beats = path.read_text().count("\n") - 5
    parsed = build_parser().parse_args(["analyze", str(path), "--json"])
    assert parsed.run(parsed) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_beats"] == beats


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "edf", "--participant", "x"), "error: --participant applies to kubios"),
        (("--format", "kubios", "--participant", "x"), "error: no participant x in session"),
        (("--format", "kubios", "--out", "one-file.txt"), "error: 2 files: --out must be a dir"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(capsys, tmp_path, session, args, message):
    code, said = attune(capsys, tmp_path, "export", session.session.id, *args)
    assert code == 1
    assert said.startswith(message)
    assert not [e for e in audit_trail(tmp_path, session.session.id) if e.action == "export"]


def test_an_unknown_session_is_an_error(capsys, tmp_path, session) -> None:
    del session
    assert attune(capsys, tmp_path, "export", "nope", "--format", "json") == (
        1,
        "error: no session nope\n",
    )
