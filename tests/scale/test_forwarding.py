"""Two in-process service instances (uvicorn on loopback) share PostgreSQL and Redis, as two
instances behind the round-robin proxy do. Instance A computes the session (it holds the
lease); the therapist's requests reach B, which forwards them to A (attune.api.controls,
attune.api.cluster), so every answer is what A gives:

- a pacer change on B is applied by A (A's live stream carries it), and reading the pacer
  on either instance answers the same; so for the client view;
- a resonance assessment started twice answers 409 on B with A's reason; one never started
  answers 404; the pacer set at a session's start (a client's stored resonance rate) is set
  by A against the started session;
- a marker on B is recorded and published by A;
- an owner that does not answer gives 409 (OwnedElsewhereError) after the reply timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

from attune.api import controls
from attune.api.auth import COOKIE_NAME
from attune.api.cluster import RedisPeers
from attune.api.ownership import RedisLeases
from attune.hub.redis import RedisKeys
from attune.settings import Settings
from tests.integration.conftest import (
    POSTGRES_URL,
    FakeClock,
    RunningService,
    SessionFixture,
    _drop_schema,
    _fresh_schema,
    running,
)
from tests.integration.test_live import watch
from tests.scale.conftest import REDIS_URL

WAIT_S = 10.0  # bound on waiting for a live message; not a timing assertion


@dataclass
class Pair:
    a: RunningService
    b: RunningService
    prefix: str
    clock: FakeClock


@pytest.fixture
async def pair(settings: Settings, redis: Redis, prefix: str) -> AsyncIterator[Pair]:
    """Instances "a" and "b" on one PostgreSQL schema and one Redis prefix, one clock."""
    del redis  # skips the test without Redis
    schema = await _fresh_schema()
    clock = FakeClock()
    shared = {
        "database_url": POSTGRES_URL,
        "database_schema": schema,
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
    }
    try:
        # One after the other: the first migrates the schema.
        async for a in running(settings.model_copy(update={**shared, "instance_id": "a"}), clock):
            update = {**shared, "instance_id": "b"}
            async for b in running(settings.model_copy(update=update), clock):
                yield Pair(a, b, prefix, clock)
    finally:
        await _drop_schema(schema)


def on(service: RunningService, session: SessionFixture) -> httpx.AsyncClient:
    """The session's therapist, signed in, talking to ``service``."""
    http = httpx.AsyncClient(
        base_url=service.base_url, cookies={COOKIE_NAME: session.therapist.cookie}
    )
    service._clients.append(http)
    return http


async def owned_by_a(pair: Pair, session: SessionFixture) -> None:
    """Make A compute the session (a read there takes the free lease)."""
    assert (await on(pair.a, session).get(f"/api/sessions/{session.id}/pacer")).status_code == 200
    assert pair.a.services.runtimes.ownership.owns(session.id)
    assert not pair.b.services.runtimes.ownership.owns(session.id)


async def watch_on_a(pair: Pair, session: SessionFixture) -> ClientConnection:
    """The therapist's live socket on A, subscribed (its ``session`` message read)."""
    live = await watch(pair.a, session.id, headers=session.therapist.ws_headers, after_seq=None)
    await next_of_type(live, "session")
    return live


async def next_of_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if message["type"] == kind:
            return message


async def test_a_pacer_change_on_another_instance_is_applied_by_the_owner(pair: Pair) -> None:
    session = await pair.a.new_session()
    await owned_by_a(pair, session)
    live = await watch_on_a(pair, session)
    on_a, on_b = on(pair.a, session), on(pair.b, session)
    url = f"/api/sessions/{session.id}/pacer"

    put = await on_b.put(url, json={"breaths_per_min": 5.5, "exhale_ratio": 2.0})
    assert put.status_code == 200, put.text
    pacer = await next_of_type(live, "pacer")
    assert (pacer["breaths_per_min"], pacer["exhale_ratio"]) == (5.5, 2.0)
    assert pacer["source"] == "therapist"
    answers = [(await http.get(url)).json() for http in (on_a, on_b)]
    assert answers == [put.json(), put.json()]
    assert put.json()["running"] is True
    assert put.json()["breaths_per_min"] == 5.5

    stopped = await on_b.delete(url)
    assert stopped.json() == {**dict.fromkeys(put.json()), "running": False}
    assert (await next_of_type(live, "pacer"))["change"] == "stopped"
    assert (await on_a.get(url)).json() == stopped.json()
    assert not pair.b.services.runtimes.ownership.owns(session.id)  # B never took it
    await live.close()


async def test_the_client_view_set_on_another_instance_reaches_the_owners_runtime(
    pair: Pair,
) -> None:
    session = await pair.a.new_session()
    await owned_by_a(pair, session)
    url = f"/api/sessions/{session.id}/client-view"
    put = await on(pair.b, session).put(url, json={"show_numbers": True})
    assert put.status_code == 200, put.text
    assert put.json() == {"show_numbers": True}
    assert (await pair.a.services.runtimes.get(session.id)).show_numbers is True
    for service in (pair.a, pair.b):
        assert (await on(service, session).get(url)).json() == {"show_numbers": True}


async def test_resonance_errors_on_another_instance_are_the_owners(pair: Pair) -> None:
    session = await pair.a.new_session()
    await owned_by_a(pair, session)
    on_a, on_b = on(pair.a, session), on(pair.b, session)
    url = f"/api/sessions/{session.id}/resonance"

    missing = await on_b.get(url)
    assert missing.status_code == 404, missing.text
    assert missing.json() == {
        "code": "not_found",
        "detail": "no resonance assessment was started in this session",
    }
    started = await on_a.post(url)
    assert started.status_code == 201, started.text
    again = await on_b.post(url)
    assert again.status_code == 409, again.text
    assert again.json() == {
        "code": "conflict",
        "detail": "a resonance assessment is already running",
    }
    assert (await on_b.get(url)).json() == (await on_a.get(url)).json() == started.json()

    cancelled = await on_b.delete(url)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    not_running = await on_b.delete(url)
    assert not_running.status_code == 409
    assert not_running.json()["detail"] == "no resonance assessment is running"


async def unstarted_session(pair: Pair, resonance_bpm: float) -> SessionFixture:
    """A session not started yet, of a client with a stored resonance rate."""
    therapist = await pair.a.therapist()
    client = await therapist.http.post(
        "/api/clients", json={"pseudonym": "R-1", "display_name": "R"}
    )
    client_id = client.json()["id"]
    await pair.a.services.store.clients.set_resonance(client_id, resonance_bpm, now_s=pair.clock())
    created = await therapist.http.post(
        "/api/sessions", json={"client_id": client_id, "title": "Start"}
    )
    return SessionFixture(created.json()["id"], client_id, therapist, {}, {})


async def test_a_session_started_on_another_instance_gets_its_resonance_pacer_from_the_owner(
    pair: Pair,
) -> None:
    session = await unstarted_session(pair, 5.0)
    await owned_by_a(pair, session)  # A computes it from before its start
    live = await watch_on_a(pair, session)
    pair.clock.now_s += 100.0  # so session time zero moves at the start

    start = await on(pair.b, session).post(f"/api/sessions/{session.id}/start")
    assert start.status_code == 200, start.text
    pacer = await next_of_type(live, "pacer")
    assert (pacer["breaths_per_min"], pacer["source"]) == (5.0, "resonance")
    assert pacer["t_s"] == 0.0  # at the start, in the started session's time
    answer = (await on(pair.b, session).get(f"/api/sessions/{session.id}/pacer")).json()
    assert (answer["running"], answer["breaths_per_min"]) == (True, 5.0)
    await live.close()


async def test_the_pacer_at_the_start_is_set_against_the_started_session(pair: Pair) -> None:
    """The owner may hear of the start (``refresh``) after the forwarded pacer: the action
    reads the started session itself. Here the refresh never comes."""
    session = await unstarted_session(pair, 5.0)
    await owned_by_a(pair, session)
    live = await watch_on_a(pair, session)
    pair.clock.now_s += 100.0
    await pair.a.services.store.sessions.start(session.id, now_s=pair.clock())
    args = controls.PacerArgs(
        breaths_per_min=5.0,
        exhale_ratio=1.5,
        source="resonance",
        author_id=None,
        now_s=pair.clock(),
    )
    await controls.START_PACER.run(pair.a.services.runtimes, session.id, args)
    assert (await next_of_type(live, "pacer"))["t_s"] == 0.0
    await live.close()


async def test_a_marker_on_another_instance_is_recorded_and_published_by_the_owner(
    pair: Pair,
) -> None:
    session = await pair.a.new_session()
    await owned_by_a(pair, session)
    live = await watch_on_a(pair, session)
    on_b = on(pair.b, session)

    added = await on_b.post(f"/api/sessions/{session.id}/markers", json={"text": "sigh"})
    assert added.status_code == 201, added.text
    marker = await next_of_type(live, "marker")
    assert marker["text"] == "sigh"
    listed = (await on_b.get(f"/api/sessions/{session.id}/markers")).json()
    assert listed == [added.json()]
    assert not pair.b.services.runtimes.ownership.owns(session.id)
    await live.close()


async def test_a_marker_retried_after_the_owner_answered_late_is_recorded_once(
    pair: Pair,
) -> None:
    """The owner records a forwarded marker after the asker has given up (409, "try again");
    the therapist's retry carries the same Idempotency-Key and gets that marker back."""
    session = await pair.a.new_session()
    await owned_by_a(pair, session)
    live = await watch_on_a(pair, session)
    peers = pair.b.services.runtimes.peers
    assert isinstance(peers, RedisPeers)
    peers.reply_timeout_s = 0.2
    url, key = f"/api/sessions/{session.id}/markers", {"Idempotency-Key": "marker-key-0001"}
    runtime = await pair.a.services.runtimes.get(session.id)

    async with runtime.lock:  # the owner is busy past the asker's wait
        first = await on(pair.b, session).post(url, json={"text": "sigh"}, headers=key)
    assert first.status_code == 409, first.text
    marker = await next_of_type(live, "marker")  # recorded once the owner got to it
    retried = await on(pair.b, session).post(url, json={"text": "sigh"}, headers=key)
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == marker["id"]
    assert [m.id for m in await pair.a.services.store.recording.markers(session.id)] == [
        marker["id"]
    ]
    await live.close()


async def test_an_owner_that_does_not_answer_gives_owned_elsewhere(
    pair: Pair, redis: Redis
) -> None:
    session = await pair.a.new_session()
    # A lease held by an instance that is not running: nobody answers the forwarded request.
    ghost = RedisLeases(redis, "ghost", RedisKeys(pair.prefix), ttl_s=60.0)
    await ghost.acquire(session.id)
    peers = pair.b.services.runtimes.peers
    assert isinstance(peers, RedisPeers)
    peers.reply_timeout_s = 0.2  # keep the test quick; the wait is what is tested, not its length

    for method, path, body in [
        ("PUT", "pacer", {"breaths_per_min": 6.0, "exhale_ratio": 1.5}),
        ("GET", "resonance", None),
        ("POST", "markers", {"text": "lost"}),
    ]:
        url = f"/api/sessions/{session.id}/{path}"
        answer = await on(pair.b, session).request(method, url, json=body)
        assert answer.status_code == 409, (path, answer.text)
        assert "did not answer" in answer.json()["detail"]
    assert await pair.a.services.store.recording.markers(session.id) == []
    await ghost.release(session.id)


async def test_every_instance_answers_once_the_owner_is_gone(pair: Pair) -> None:
    """No owner: the instance asked takes the lease and answers itself (nothing to forward)."""
    session = await pair.a.new_session()
    answer = await on(pair.b, session).put(
        f"/api/sessions/{session.id}/pacer", json={"breaths_per_min": 6.0, "exhale_ratio": 1.5}
    )
    assert answer.status_code == 200, answer.text
    assert pair.b.services.runtimes.ownership.owns(session.id)
