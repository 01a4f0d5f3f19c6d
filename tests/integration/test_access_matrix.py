"""Every endpoint and websocket against every kind of caller: no credential, a wrong one, the
owning therapist, another therapist, the session's client and reviewer links, and a link for
another session. The table must cover every route the app has."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from attune.api import ingest, live, replay
from attune.api.app import create_app
from attune.api.auth import COOKIE_NAME
from attune.api.routes import ROUTERS

CALLERS = ("none", "wrong", "owner", "other_therapist", "client", "reviewer", "foreign_link")


def row(*statuses: int) -> dict[str, int]:
    return dict(zip(CALLERS, statuses, strict=True))


PUBLIC_200 = row(200, 200, 200, 200, 200, 200, 200)
THERAPIST_ONLY = row(401, 401, 200, 200, 401, 401, 401)  # any signed-in therapist
OWNER_ONLY = row(401, 401, 200, 404, 401, 401, 401)  # a therapist's own client
SESSION_OWNER = row(401, 401, 200, 404, 403, 403, 403)
SESSION_READER = row(401, 401, 200, 404, 403, 200, 403)  # owner and reviewer links


def ok(table: dict[str, int], status: int) -> dict[str, int]:
    """The same table with the owner's success status."""
    return {**table, "owner": status}


# (method, path) -> (body, expected status by caller)
HTTP_MATRIX: dict[tuple[str, str], tuple[object, dict[str, int]]] = {
    ("GET", "/healthz"): (None, PUBLIC_200),
    ("GET", "/view/{view}"): (None, row(307, 307, 307, 307, 307, 307, 307)),
    ("POST", "/api/auth/login"): (
        {"username": "nobody", "password": "wrong password"},
        row(401, 401, 401, 401, 401, 401, 401),
    ),
    ("POST", "/api/auth/logout"): (None, row(204, 204, 204, 204, 204, 204, 204)),
    ("GET", "/api/auth/me"): (None, THERAPIST_ONLY),
    ("GET", "/api/auth/signin/{token}"): (None, row(401, 401, 401, 401, 401, 401, 401)),
    ("POST", "/api/clients"): (
        {"pseudonym": "C-new", "display_name": "New"},
        {**THERAPIST_ONLY, "owner": 201, "other_therapist": 201},
    ),
    ("GET", "/api/clients"): (None, THERAPIST_ONLY),
    ("GET", "/api/clients/{client_id}"): (None, OWNER_ONLY),
    ("DELETE", "/api/clients/{client_id}"): (None, OWNER_ONLY),
    ("GET", "/api/clients/{client_id}/baseline"): (None, OWNER_ONLY),
    ("PUT", "/api/clients/{client_id}/baseline"): ({"value": {"a": 1}}, OWNER_ONLY),
    ("PUT", "/api/clients/{client_id}/resonance"): ({"breaths_per_min": 6}, OWNER_ONLY),
    ("POST", "/api/sessions"): (
        {"client_id": "{client_id}", "title": "T"},
        {**OWNER_ONLY, "owner": 201},
    ),
    ("GET", "/api/sessions"): (None, THERAPIST_ONLY),
    ("GET", "/api/sessions/{session_id}"): (None, SESSION_READER),
    ("POST", "/api/sessions/{session_id}/start"): (None, SESSION_OWNER),
    ("POST", "/api/sessions/{session_id}/stop"): (None, SESSION_OWNER),
    ("PUT", "/api/sessions/{session_id}/notes"): ({"notes": "n"}, SESSION_OWNER),
    ("GET", "/api/sessions/{session_id}/participants"): (None, SESSION_READER),
    ("POST", "/api/sessions/{session_id}/participants"): (
        {"role": "other", "display_name": "O"},
        ok(SESSION_OWNER, 201),
    ),
    ("POST", "/api/sessions/{session_id}/participants/{participant_id}/token"): (
        None,
        SESSION_OWNER,
    ),
    ("GET", "/api/sessions/{session_id}/links"): (None, SESSION_OWNER),
    ("POST", "/api/sessions/{session_id}/links"): ({"role": "client"}, ok(SESSION_OWNER, 201)),
    ("DELETE", "/api/sessions/{session_id}/links/{link_id}"): (None, SESSION_OWNER),
    ("GET", "/api/sessions/{session_id}/markers"): (None, SESSION_READER),
    ("POST", "/api/sessions/{session_id}/markers"): ({"text": "m"}, ok(SESSION_OWNER, 201)),
    ("GET", "/api/sessions/{session_id}/pacer"): (None, SESSION_OWNER),
    ("PUT", "/api/sessions/{session_id}/pacer"): ({"breaths_per_min": 6}, SESSION_OWNER),
    ("DELETE", "/api/sessions/{session_id}/pacer"): (None, SESSION_OWNER),
    # No assessment was started in the fixture's session: nothing to show or cancel.
    ("GET", "/api/sessions/{session_id}/resonance"): (None, ok(SESSION_OWNER, 404)),
    ("POST", "/api/sessions/{session_id}/resonance"): (None, ok(SESSION_OWNER, 201)),
    ("DELETE", "/api/sessions/{session_id}/resonance"): (None, ok(SESSION_OWNER, 409)),
    ("GET", "/api/sessions/{session_id}/client-view"): (None, SESSION_OWNER),
    ("PUT", "/api/sessions/{session_id}/client-view"): ({"show_numbers": True}, SESSION_OWNER),
    ("GET", "/api/sessions/{session_id}/recording"): (None, SESSION_READER),
    ("GET", "/api/sessions/{session_id}/events"): (None, SESSION_READER),
    ("POST", "/api/sessions/{session_id}/analysis"): ({}, SESSION_READER),
    ("GET", "/api/sessions/{session_id}/audit"): (None, SESSION_OWNER),
    ("GET", "/api/sessions/{session_id}/exports/{name}"): (None, SESSION_READER),
}
# Websockets: "accepted", or the HTTP status of a refused handshake, or the error code of a
# refusal after the first message.
WS_MATRIX: dict[str, dict[str, str]] = {
    "/live/{session_id}": dict(
        zip(
            CALLERS,
            (
                "unauthorized",
                "unauthorized",
                "accepted",
                "not_found",
                "accepted",
                "forbidden",
                "forbidden",
            ),
            strict=True,
        )
    ),
    "/replay/{session_id}": dict(
        zip(
            CALLERS,
            (
                "unauthorized",
                "unauthorized",
                "accepted",
                "not_found",
                "forbidden",
                "accepted",
                "forbidden",
            ),
            strict=True,
        )
    ),
    # The ingest socket takes only collector tokens: every view credential is refused.
    "/ingest": dict.fromkeys(CALLERS, "401"),
}


@dataclass
class World:
    values: dict[str, str]  # path parameters
    cookies: dict[str, str | None]  # by caller
    bearers: dict[str, str | None]
    collector_token: str


async def world(service) -> World:
    session = await service.new_session()
    other = await service.new_session()  # another therapist, another session
    http = session.therapist.http
    link = (await http.post(f"/api/sessions/{session.id}/links", json={"role": "client"})).json()
    values = {
        "session_id": session.id,
        "client_id": session.client_id,
        "participant_id": session.participant_ids["client"],
        "link_id": link["id"],
        "view": "therapist",
        "token": "not-a-sign-in-token",
        "name": "beats.csv",
    }
    cookies = dict.fromkeys(CALLERS)
    cookies |= {
        "wrong": "not-a-login",
        "owner": session.therapist.cookie,
        "other_therapist": other.therapist.cookie,
    }
    bearers = dict.fromkeys(CALLERS)
    bearers |= {
        "wrong": "not-a-link",
        "client": await service.link(session, "client"),
        "reviewer": await service.link(session, "reviewer"),
        "foreign_link": await service.link(other, "reviewer"),
    }
    return World(values, cookies, bearers, session.collector_tokens["client"])


def test_the_matrix_covers_every_route(settings) -> None:
    app = create_app(settings)
    http = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    routers = (*ROUTERS, ingest.router, live.router, replay.router)
    sockets = {
        route.path for r in routers for route in r.routes if isinstance(route, APIWebSocketRoute)
    }
    assert http == set(HTTP_MATRIX)
    assert sockets == set(WS_MATRIX)


@pytest.mark.parametrize(("method", "path"), list(HTTP_MATRIX))
async def test_http_access(service, method, path) -> None:
    w = await world(service)
    body, expected = HTTP_MATRIX[method, path]
    url = path.format(**w.values)
    if isinstance(body, dict):
        body = {k: v.format(**w.values) if isinstance(v, str) else v for k, v in body.items()}
    got = {}
    for caller in CALLERS:
        headers = {}
        if w.bearers[caller]:
            headers["Authorization"] = f"Bearer {w.bearers[caller]}"
        async with httpx.AsyncClient(base_url=service.base_url) as http:
            if w.cookies[caller]:
                http.cookies.set(COOKIE_NAME, w.cookies[caller])
            response = await http.request(method, url, json=body, headers=headers)
        got[caller] = response.status_code
        if response.status_code in {200, 201} and caller == "owner" and method == "DELETE":
            w = await world(service)  # the owner's delete took the fixture's data away
            url = path.format(**w.values)
    assert got == expected


async def _ws_outcome(service, path: str, w: World, caller: str) -> str:
    headers = {}
    if w.cookies[caller]:
        headers["Cookie"] = f"{COOKIE_NAME}={w.cookies[caller]}"
    if path == "/ingest" and w.bearers[caller]:
        headers["Authorization"] = f"Bearer {w.bearers[caller]}"
    try:
        async with connect(
            service.ws_url + path.format(**w.values), additional_headers=headers
        ) as ws:
            await ws.send(json.dumps({"type": "auth", "token": w.bearers[caller]}))
            first = json.loads(await ws.recv())
    except InvalidStatus as exc:
        return str(exc.response.status_code)
    return "accepted" if first["type"] == "session" else first["code"]


@pytest.mark.parametrize("path", list(WS_MATRIX))
async def test_websocket_access(service, path) -> None:
    w = await world(service)
    got = {caller: await _ws_outcome(service, path, w, caller) for caller in CALLERS}
    assert got == WS_MATRIX[path]


async def test_the_ingest_socket_takes_its_collector_token(service) -> None:
    w = await world(service)
    headers = {"Authorization": f"Bearer {w.collector_token}"}
    async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "collector": "test"}))
        assert json.loads(await ws.recv())["type"] == "welcome"
