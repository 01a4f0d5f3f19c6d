"""The REST API end to end: clients, sessions, participants, links, markers, recordings,
the audit trail, erasure, the view pages, and the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.conftest import running
from tests.integration.test_ingest import auth, batch, greeted
from tests.integration.test_live import link_event, stream, watch


async def test_clients_are_private_to_their_therapist(service) -> None:
    ana, ben = await service.therapist(), await service.therapist()
    created = await ana.http.post("/api/clients", json={"pseudonym": "C-1", "display_name": "Bea"})
    assert created.status_code == 201
    client = created.json()
    again = await ana.http.post("/api/clients", json={"pseudonym": "C-1", "display_name": "X"})
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    same_name = await ben.http.post("/api/clients", json={"pseudonym": "C-1", "display_name": "Y"})
    assert same_name.status_code == 201  # pseudonyms are per therapist
    assert [c["id"] for c in (await ana.http.get("/api/clients")).json()] == [client["id"]]
    assert (await ben.http.get(f"/api/clients/{client['id']}")).status_code == 404
    assert (await ana.http.get(f"/api/clients/{client['id']}")).json() == client


async def test_baseline_and_resonance_are_stored_and_returned(service) -> None:
    ana = await service.therapist()
    client = (
        await ana.http.post("/api/clients", json={"pseudonym": "C-1", "display_name": "Bea"})
    ).json()
    url = f"/api/clients/{client['id']}"
    assert (await ana.http.get(f"{url}/baseline")).json() is None
    baseline = {"rmssd_ms": [22.0, 35.5], "calm": {"mean": 0.4}, "version": 1}
    put = await ana.http.put(f"{url}/baseline", json={"value": baseline})
    assert put.json()["value"] == baseline
    assert (await ana.http.get(f"{url}/baseline")).json()["value"] == baseline
    resonance = await ana.http.put(f"{url}/resonance", json={"breaths_per_min": 5.5})
    assert resonance.json()["resonance_breaths_per_min"] == 5.5
    assert (await ana.http.get(url)).json()["resonance_breaths_per_min"] == 5.5
    too_fast = await ana.http.put(f"{url}/resonance", json={"breaths_per_min": 30})
    assert too_fast.status_code == 422


async def test_session_lifecycle_and_notes(service) -> None:
    ana = await service.therapist()
    client = (
        await ana.http.post("/api/clients", json={"pseudonym": "C-1", "display_name": "Bea"})
    ).json()
    created = await ana.http.post(
        "/api/sessions", json={"client_id": client["id"], "title": "First"}
    )
    session = created.json()
    assert (created.status_code, session["state"]) == (201, "created")
    url = f"/api/sessions/{session['id']}"
    assert (await ana.http.post(f"{url}/start")).json()["state"] == "running"
    notes = await ana.http.put(f"{url}/notes", json={"notes": "settled after 10 min"})
    assert notes.json()["notes"] == "settled after 10 min"
    stopped = (await ana.http.post(f"{url}/stop")).json()
    assert stopped["state"] == "ended"
    assert stopped["ended_at_s"] >= stopped["started_at_s"]
    listed = await ana.http.get("/api/sessions", params={"client_id": client["id"]})
    assert [s["id"] for s in listed.json()] == [session["id"]]
    ben = await service.therapist()
    foreign = await ben.http.post(
        "/api/sessions", json={"client_id": client["id"], "title": "Not mine"}
    )
    assert foreign.status_code == 404


async def test_participants_tokens_and_rotation(service) -> None:
    session = await service.new_session()
    http = session.therapist.http
    added = await http.post(
        f"/api/sessions/{session.id}/participants", json={"role": "other", "display_name": "Dad"}
    )
    assert added.status_code == 201
    body = added.json()
    assert body["ingest_url"] == f"{service.ws_url}/ingest"
    old_token = body["collector_token"]
    async with connect(body["ingest_url"], additional_headers=auth(old_token)) as ws:
        assert (await greeted(ws))["participant_id"] == body["participant"]["id"]
    rotated = await http.post(
        f"/api/sessions/{session.id}/participants/{body['participant']['id']}/token"
    )
    new_token = rotated.json()["collector_token"]
    assert new_token != old_token
    with pytest.raises(InvalidStatus):
        async with connect(body["ingest_url"], additional_headers=auth(old_token)):
            pass
    async with connect(body["ingest_url"], additional_headers=auth(new_token)) as ws:
        assert (await greeted(ws))["type"] == "welcome"
    listed = (await http.get(f"/api/sessions/{session.id}/participants")).json()
    assert {p["role"] for p in listed} == {"therapist", "client", "other"}
    assert {p["sensor_name"] for p in listed if p["role"] == "other"} == {"H10"}


async def test_links_are_issued_once_listed_without_tokens_and_revocable(service) -> None:
    session = await service.new_session()
    http = session.therapist.http
    issued = (await http.post(f"/api/sessions/{session.id}/links", json={"role": "client"})).json()
    assert issued["url"] == (
        f"{service.base_url}/view/client#session={session.id}&token={issued['token']}"
    )
    reviewer = await http.post(
        f"/api/sessions/{session.id}/links", json={"role": "reviewer", "ttl_s": 3600}
    )
    assert reviewer.json()["expires_at_s"] - reviewer.json()["created_at_s"] == 3600
    listed = (await http.get(f"/api/sessions/{session.id}/links")).json()
    assert [link["id"] for link in listed] == [issued["id"], reviewer.json()["id"]]
    assert all("token" not in link for link in listed)
    revoked = await http.delete(f"/api/sessions/{session.id}/links/{issued['id']}")
    assert revoked.json()["revoked_at_s"] is not None
    gone = await http.delete(f"/api/sessions/{session.id}/links/no-such-link")
    assert gone.status_code == 404


async def test_markers_are_recorded_and_shown_live(service) -> None:
    session = await service.new_session()
    http = session.therapist.http
    live = await watch(service, session.id, headers=session.therapist.ws_headers, after_seq=None)
    assert json.loads(await live.recv())["type"] == "session"
    at = await http.post(f"/api/sessions/{session.id}/markers", json={"text": "a", "t_s": 42.0})
    now = await http.post(f"/api/sessions/{session.id}/markers", json={"text": "b"})
    shown = [json.loads(await asyncio.wait_for(live.recv(), 5)) for _ in range(2)]
    await live.close()
    assert [(m["type"], m["text"], m["id"]) for m in shown] == [
        ("marker", "a", at.json()["id"]),
        ("marker", "b", now.json()["id"]),
    ]
    assert at.json()["t_s"] == 42.0
    assert 0 <= now.json()["t_s"] < 60
    listed = (await http.get(f"/api/sessions/{session.id}/markers")).json()
    assert [m["text"] for m in listed] == ["a", "b"]


async def test_a_marker_posted_again_with_its_idempotency_key_is_recorded_once(service) -> None:
    session = await service.new_session()
    http, url = session.therapist.http, f"/api/sessions/{session.id}/markers"
    live = await watch(service, session.id, headers=session.therapist.ws_headers, after_seq=None)
    assert json.loads(await live.recv())["type"] == "session"
    key = {"Idempotency-Key": "0123456789abcdef"}

    first = await http.post(url, json={"text": "a"}, headers=key)
    again = await http.post(url, json={"text": "a"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other_text = await http.post(url, json={"text": "b"}, headers=key)
    assert other_text.status_code == 409
    assert "idempotency key" in other_text.json()["detail"]
    malformed = await http.post(url, json={"text": "c"}, headers={"Idempotency-Key": "a b"})
    assert malformed.status_code == 422
    elsewhere = await service.new_session()  # keys are per session
    there = await elsewhere.therapist.http.post(
        f"/api/sessions/{elsewhere.id}/markers", json={"text": "a"}, headers=key
    )
    assert there.status_code == 201
    unkeyed = await http.post(url, json={"text": "a"})

    shown = json.loads(await asyncio.wait_for(live.recv(), 5))
    shown_next = json.loads(await asyncio.wait_for(live.recv(), 5))
    await live.close()
    assert [shown["id"], shown_next["id"]] == [first.json()["id"], unkeyed.json()["id"]]
    listed = (await http.get(url)).json()
    assert [m["id"] for m in listed] == [first.json()["id"], unkeyed.json()["id"]]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "markers", {"text": "after the clash"}),
        ("PUT", "client-view", {"show_numbers": True}),
    ],
)
async def test_an_input_recorded_behind_the_runtime_is_refused_once_then_taken_up(
    service, method: str, path: str, body: dict[str, object]
) -> None:
    """Another instance recording the next input (scale-out) makes this one's runtime stale:
    the clashing request gets 409, and the retry is computed from the rebuilt recording."""
    session = await service.new_session()
    runtimes, store = service.services.runtimes, service.services.store
    runtime = await runtimes.get(session.id)
    await store.controls.add(
        session.id,
        input_no=runtime.next_input_no,
        t_s=1.0,
        kind="client_view",
        body={"show_numbers": False},
        author_id=None,
        now_s=time.time(),
    )
    url = f"/api/sessions/{session.id}/{path}"

    clash = await session.therapist.http.request(method, url, json=body)
    retry = await session.therapist.http.request(method, url, json=body)

    assert clash.status_code == 409, clash.text
    assert retry.status_code in (200, 201), retry.text
    rebuilt = await runtimes.get(session.id)
    assert rebuilt is not runtime
    assert rebuilt.next_input_no == runtime.next_input_no + 2


async def test_the_recording_pages_through_every_input(service) -> None:
    session = await service.new_session()
    t0 = time.time()
    await stream(
        service,
        session.collector_tokens["client"],
        [link_event(0, t0, "streaming"), *(batch(i, t0 + i) for i in range(1, 12))],
    )
    http = session.therapist.http
    items, after = [], 0
    while after is not None:
        page = (
            await http.get(
                f"/api/sessions/{session.id}/recording", params={"after": after, "limit": 5}
            )
        ).json()
        items += page["items"]
        after = page["next_after"]
    assert [i["message"]["seq"] for i in items] == list(range(12))
    assert [i["input_no"] for i in items] == list(range(1, 13))
    assert items[1]["message"]["notifications"][0]["received_at_s"] == t0 + 1
    assert {i["participant_id"] for i in items} == {session.participant_ids["client"]}
    events = (await http.get(f"/api/sessions/{session.id}/events")).json()
    assert events == {"markers": [], "pacer_changes": [], "cues_shown": []}


async def test_reads_exports_and_refusals_are_audited(service) -> None:
    session = await service.new_session()
    reviewer = await service.link(session, "reviewer")
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        bearer = {"Authorization": f"Bearer {reviewer}"}
        assert (await http.get(f"/api/sessions/{session.id}/recording", headers=bearer)).is_success
        assert (await http.get(f"/api/sessions/{session.id}")).status_code == 401
    await session.therapist.http.get(f"/api/sessions/{session.id}")
    trail = (await session.therapist.http.get(f"/api/sessions/{session.id}/audit")).json()
    actions = [(e["action"], e["role"], e["outcome"]) for e in reversed(trail)]
    assert actions == [
        ("recording.export", "reviewer", "ok"),
        ("session.read", "none", "denied"),
        ("session.read", "therapist", "ok"),
    ]
    assert trail[-1]["actor"].startswith("link:")
    assert trail[0]["actor"] == f"therapist:{session.therapist.id}"


async def test_erasing_a_client_removes_their_sessions_and_closes_viewers(service) -> None:
    session = await service.new_session()
    kept = await service.new_session(session.therapist)
    await stream(service, session.collector_tokens["client"], [batch(0, time.time())])
    http = session.therapist.http
    live = await watch(service, session.id, headers=session.therapist.ws_headers)
    assert json.loads(await live.recv())["type"] == "session"
    erased = await http.delete(f"/api/clients/{session.client_id}")
    assert erased.json() == {"client_id": session.client_id, "sessions_deleted": 1}
    await asyncio.wait_for(live.wait_closed(), 5)
    assert live.close_code == 4404
    assert (await http.get(f"/api/sessions/{session.id}")).status_code == 404
    assert (await http.get(f"/api/clients/{session.client_id}")).status_code == 404
    assert (await http.get(f"/api/sessions/{kept.id}")).status_code == 200
    assert await service.services.store.recording.collector_inputs(session.id) == []
    trail = await service.services.store.audit.entries()
    assert ("client.delete", f"client:{session.client_id}") in {
        (e.action, e.resource) for e in trail
    }


async def test_view_urls_redirect_to_their_page(service) -> None:
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        for view in ("therapist", "client", "replay"):
            response = await http.get(f"/view/{view}")
            assert (response.status_code, response.headers["location"]) == (307, f"/{view}.html")
            page = await http.get(f"/{view}.html")
            assert page.status_code == 200
            assert '<script type="module"' in page.text


async def test_a_view_missing_from_the_build_says_so(settings, tmp_path) -> None:
    dashboard = tmp_path / "dashboard"
    dashboard.mkdir()
    (dashboard / "therapist.html").write_text("<!doctype html><title>console</title>")
    async for running_service in running(settings.model_copy(update={"dashboard_dir": dashboard})):
        async with httpx.AsyncClient(base_url=running_service.base_url) as http:
            therapist = await http.get("/view/therapist")
            missing = await http.get("/view/client")
        assert therapist.status_code == 307
        assert missing.status_code == 404
        assert "client view is not part of this build" in missing.text


async def test_the_openapi_document_is_complete(service) -> None:
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        document = (await http.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("tags"), where
            responses = operation["responses"]
            ok = [code for code in responses if code.startswith(("2", "3"))]
            assert ok, where
            if path.startswith(("/api/sessions", "/api/clients")):
                assert {"401", "403"} <= set(responses), where
                assert responses["401"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"
                }
            for code in ok:
                if code not in {"204", "303", "307"}:
                    assert "schema" in responses[code]["content"]["application/json"], where
