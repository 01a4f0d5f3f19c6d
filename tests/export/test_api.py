"""Exports over HTTP from a session recorded through the real ingest path (uvicorn on a
loopback port, SQLite, two simulated straps on the ingest websocket, markers over REST): the
files, their types and names, who may have them, and the audit trail."""

from __future__ import annotations

import csv
import io
import time

import httpx
import pyedflib
import pytest

from attune.export.document import SessionDocument
from attune.export.record import build_record
from attune.export.report import content_security_policy
from tests.export.simulated import record_through_service, short_script, simulate, stored_session


async def recorded(service):
    session = await service.new_session()
    started = (await session.therapist.http.get(f"/api/sessions/{session.id}")).json()
    sim = simulate(short_script(), t0_s=started["started_at_s"])
    await record_through_service(service, session, sim)
    return session, sim


def rows_by_role(text: str) -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        rows.setdefault(row["role"], []).append(row)
    return rows


async def test_every_export_downloads_with_its_type_and_name(service, tmp_path) -> None:
    session, sim = await recorded(service)
    http = session.therapist.http
    base = f"/api/sessions/{session.id}/exports"
    stem = f"attune-{session.id[:12]}"
    client_id = session.participant_ids["client"]
    expected = {
        "beats.csv": ("text/csv; charset=utf-8; header=present", "attachment", "beats.csv"),
        "metrics.csv": ("text/csv; charset=utf-8; header=present", "attachment", "metrics.csv"),
        "session.json": ("application/json", "attachment", "session.json"),
        "session.edf": ("application/octet-stream", "attachment", "session.edf"),
        "report.html": ("text/html; charset=utf-8", "inline", "report.html"),
        f"rr-{client_id}.txt": ("text/plain; charset=utf-8", "attachment", "rr-client.txt"),
    }
    got = {}
    for name, (media_type, disposition, filename) in expected.items():
        response = await http.get(f"{base}/{name}")
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"] == media_type
        assert response.headers["content-disposition"] == (
            f'{disposition}; filename="{stem}-{filename}"'
        )
        assert response.headers["cache-control"] == "no-store"
        got[name] = response
    assert got["report.html"].headers["content-security-policy"] == content_security_policy()
    assert got["beats.csv"].headers["content-security-policy"].startswith("default-src 'self'")
    # What went through ingest and the database comes out as the same beats as the
    # simulated messages run through the pipeline in memory.
    in_memory = build_record(stored_session(sim), exported_at_s=time.time())
    over_http = rows_by_role(got["beats.csv"].text)
    for p in in_memory.participants:
        assert [int(r["rr_1024"]) for r in over_http[p.role]] == [b.rr_1024 for b in p.beats]
        assert len(p.beats) > 300
    document = SessionDocument.model_validate_json(got["session.json"].content)
    assert document.session.id == session.id
    by_time = sorted(sim.markers, key=lambda m: m[0])
    assert [m.text for m in document.events.markers] == [text for _, text in by_time]
    path = tmp_path / "session.edf"
    path.write_bytes(got["session.edf"].content)
    with pyedflib.EdfReader(str(path)) as edf:
        assert edf.getSignalLabels() == ["HR therapist", "HR client"]
        texts = [str(t) for t in edf.readAnnotations()[2]]
    assert sum(t.startswith("R client ") for t in texts) == len(over_http["client"])
    kubios = got[f"rr-{client_id}.txt"].text.splitlines()
    assert len(kubios) == 5 + len(over_http["client"])
    assert "<svg" in got["report.html"].text


async def test_exports_go_to_the_owner_and_reviewers_only_and_are_audited(service) -> None:
    session, _ = await recorded(service)
    other = await service.new_session()
    url = f"{service.base_url}/api/sessions/{session.id}/exports/beats.csv"
    bearer = {
        "reviewer": await service.link(session, "reviewer"),
        "client": await service.link(session, "client"),
        "foreign": await service.link(other, "reviewer"),
        "forged": "not-a-link",
    }
    statuses = {}
    async with httpx.AsyncClient() as anonymous:
        for who, token in bearer.items():
            response = await anonymous.get(url, headers={"Authorization": f"Bearer {token}"})
            statuses[who] = response.status_code
        statuses["nobody"] = (await anonymous.get(url)).status_code
    statuses["other therapist"] = (await other.therapist.http.get(url)).status_code
    assert statuses == {
        "reviewer": 200,
        "client": 403,
        "foreign": 403,
        "forged": 401,
        "nobody": 401,
        "other therapist": 404,
    }
    http = session.therapist.http
    base = f"/api/sessions/{session.id}/exports"
    missing = {
        "nothing.csv": "no export 'nothing.csv'",
        f"rr-{other.participant_ids['client']}.txt": "no participant",
    }
    for name, detail in missing.items():
        response = await http.get(f"{base}/{name}")
        assert response.status_code == 404
        assert detail in response.json()["detail"]
    trail = (await http.get(f"/api/sessions/{session.id}/audit")).json()
    exports = [(e["outcome"], e["role"], e["resource"]) for e in trail if e["action"] == "export"]
    resource = f"session:{session.id}/export/beats.csv"
    assert sorted(exports) == sorted(
        [
            ("ok", "reviewer", resource),
            ("denied", "none", resource),  # client link
            ("denied", "none", resource),  # foreign link
            ("denied", "none", resource),  # forged
            ("denied", "none", resource),  # nobody
            ("denied", "none", resource),  # the other therapist
        ]
    )
    other_trail = (await other.therapist.http.get(f"/api/sessions/{other.id}/audit")).json()
    assert not [e for e in other_trail if e["action"] == "export"]


@pytest.mark.parametrize("name", ["beats.csv", "session.json", "report.html", "session.edf"])
async def test_a_session_without_data_still_exports(service, name) -> None:
    session = await service.new_session()
    response = await session.therapist.http.get(f"/api/sessions/{session.id}/exports/{name}")
    assert response.status_code == 200
    assert response.content
