"""Therapist sign-in: passwords (Argon2id), the login cookie, one-time sign-in links, logout,
link expiry, and refusing other sites' writes."""

from __future__ import annotations

import httpx
import pytest

from attune.api.auth import COOKIE_NAME
from attune.api.tokens import SIGN_IN_TTL_S
from tests.integration.conftest import PASSWORD


async def test_a_wrong_password_or_user_gets_the_same_401(service) -> None:
    therapist = await service.therapist("ana")
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        for username, password in (("ana", "wrong password"), ("nobody", PASSWORD)):
            response = await http.post(
                "/api/auth/login", json={"username": username, "password": password}
            )
            assert response.status_code == 401
            assert response.json() == {
                "code": "unauthenticated",
                "detail": "wrong username or password",
            }
            assert response.headers["www-authenticate"] == "Bearer"
            assert COOKIE_NAME not in response.cookies
    assert (await therapist.http.get("/api/auth/me")).json()["username"] == "ana"
    hashed = (await service.services.store.accounts.credentials("ana"))[1]
    assert hashed.startswith("$argon2id$")


async def test_the_login_cookie_is_httponly_lax_and_secure_only_over_https(service) -> None:
    await service.therapist("ana")
    body = {"username": "ana", "password": PASSWORD}
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        plain = await http.post("/api/auth/login", json=body)
        proxied = await http.post(
            "/api/auth/login", json=body, headers={"X-Forwarded-Proto": "https"}
        )
    for response, secure in ((plain, False), (proxied, True)):
        attributes = [a.strip().lower() for a in response.headers["set-cookie"].split(";")]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert ("secure" in attributes) is secure


async def test_logout_ends_the_login_session(service) -> None:
    therapist = await service.therapist()
    cookie = therapist.cookie
    assert (await therapist.http.post("/api/auth/logout")).status_code == 204
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        http.cookies.set(COOKIE_NAME, cookie)
        assert (await http.get("/api/auth/me")).status_code == 401


async def test_a_login_expires(clocked_service, clock) -> None:
    therapist = await clocked_service.therapist()
    assert (await therapist.http.get("/api/auth/me")).status_code == 200
    clock.now_s += clocked_service.services.settings.login_ttl_s + 1
    assert (await therapist.http.get("/api/auth/me")).status_code == 401


async def sign_in_token(service, therapist_id: str, next_path: str) -> str:
    svc = service.services
    return svc.tokens.sign_in(therapist_id, next_path, now_s=svc.clock())


async def test_a_sign_in_link_signs_in_once_and_goes_on(service) -> None:
    therapist = await service.therapist()
    token = await sign_in_token(service, therapist.id, "/view/therapist#session=abc")
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        first = await http.get(f"/api/auth/signin/{token}")
        assert first.status_code == 303
        assert first.headers["location"] == "/view/therapist#session=abc"
        assert (await http.get("/api/auth/me")).json()["id"] == therapist.id
    async with httpx.AsyncClient(base_url=service.base_url) as http:
        second = await http.get(f"/api/auth/signin/{token}")
        assert second.status_code == 401
        assert "already used" in second.json()["detail"]
        assert (await http.get("/api/auth/me")).status_code == 401


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("forged", "invalid sign-in link"),
        ("expired", "sign-in link expired"),
        ("elsewhere", "invalid sign-in link"),
        ("view link", "invalid sign-in link"),
    ],
)
async def test_bad_sign_in_links_are_refused(clocked_service, clock, case, detail) -> None:
    therapist = await clocked_service.therapist()
    svc = clocked_service.services
    token = {
        "forged": "eyJ1aWQiOiJ4In0.forged",
        "expired": await sign_in_token(clocked_service, therapist.id, "/"),
        "elsewhere": svc.tokens.sign_in(therapist.id, "//evil.example/", now_s=clock.now_s),
        "view link": svc.tokens.link("some-link", clock.now_s + 60),
    }[case]
    if case == "expired":
        clock.now_s += SIGN_IN_TTL_S
    async with httpx.AsyncClient(base_url=clocked_service.base_url) as http:
        response = await http.get(f"/api/auth/signin/{token}")
    assert response.status_code == 401
    assert response.json()["detail"] == detail


async def test_a_client_link_expires(clocked_service, clock) -> None:
    session = await clocked_service.new_session()
    token = await clocked_service.link(session, "client")
    assert token
    svc = clocked_service.services
    clock.now_s += svc.settings.client_link_ttl_s + 1
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=clocked_service.base_url) as http:
        response = await http.get(f"/api/sessions/{session.id}", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "view link expired"


async def test_writes_from_another_origin_are_refused(service) -> None:
    session = await service.new_session()
    response = await session.therapist.http.post(
        f"/api/sessions/{session.id}/markers",
        json={"text": "forged"},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "cross-origin request refused"
    same_site = await session.therapist.http.post(
        f"/api/sessions/{session.id}/markers",
        json={"text": "mine"},
        headers={"Origin": service.base_url},
    )
    assert same_site.status_code == 201
    markers = (await session.therapist.http.get(f"/api/sessions/{session.id}/markers")).json()
    assert [m["text"] for m in markers] == ["mine"]
