"""Therapist sign-in: password login, one-time sign-in links, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.responses import Response

from attune.api.auth import (
    COOKIE_NAME,
    TherapistDep,
    TherapistPrincipal,
    audit,
    check_origin,
    clear_login_cookie,
    set_login_cookie,
)
from attune.api.deps import ServicesDep
from attune.api.errors import responses
from attune.api.models import LoginIn, TherapistOut
from attune.api.tokens import MAX_TOKEN_CHARS
from attune.errors import AuthError, NotFoundError

router = APIRouter(prefix="/api/auth", tags=["auth"], dependencies=[Depends(check_origin)])


@router.post("/login", responses=responses(401, 403))
async def login(
    body: LoginIn, request: Request, response: Response, svc: ServicesDep
) -> TherapistOut:
    """Sign in with a password; sets the HttpOnly login cookie."""
    found = await svc.store.accounts.credentials(body.username)
    ok = await svc.passwords.verify_async(found[1] if found else None, body.password)
    if found is None or not ok:
        await audit(svc, request, None, "auth.login", resource="user", outcome="denied")
        raise AuthError("wrong username or password")
    therapist = found[0]
    token = await svc.store.accounts.open_login(
        therapist.id, now_s=svc.clock(), ttl_s=svc.settings.login_ttl_s
    )
    set_login_cookie(response, request, svc, token)
    await audit(svc, request, TherapistPrincipal(therapist), "auth.login", resource="user")
    return TherapistOut.model_validate(therapist)


@router.post("/logout", status_code=204, responses=responses(403))
async def logout(svc: ServicesDep, request: Request) -> Response:
    """End the login session (if any) and clear the cookie. Needs no credential: logging out
    without a session is a no-op."""
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        await svc.store.accounts.close_login(cookie, now_s=svc.clock())
    response = Response(status_code=204)
    clear_login_cookie(response)
    return response


@router.get("/me", responses=responses(401))
async def me(principal: TherapistDep) -> TherapistOut:
    """The signed-in therapist."""
    return TherapistOut.model_validate(principal.therapist)


@router.get(
    "/signin/{token}",
    response_class=RedirectResponse,
    status_code=303,
    responses=responses(401),
)
async def sign_in(
    token: Annotated[str, Path(max_length=MAX_TOKEN_CHARS)], request: Request, svc: ServicesDep
) -> RedirectResponse:
    """Use a one-time sign-in link (``attune user link``, ``attune demo``): sets the login
    cookie and goes on to the page the link names."""
    now_s = svc.clock()
    claims = svc.tokens.read_sign_in(token, now_s=now_s)
    if not claims.next_path.startswith("/") or claims.next_path.startswith("//"):
        raise AuthError("invalid sign-in link")
    try:
        therapist = await svc.store.accounts.therapist(claims.therapist_id)
    except NotFoundError as exc:
        raise AuthError("this sign-in link's account no longer exists") from exc
    if not await svc.store.accounts.use_once(claims.jti, now_s=now_s):
        raise AuthError("this sign-in link was already used; ask for a new one")
    login_token = await svc.store.accounts.open_login(
        therapist.id, now_s=now_s, ttl_s=svc.settings.login_ttl_s
    )
    response = RedirectResponse(claims.next_path, status_code=303)
    set_login_cookie(response, request, svc, login_token)
    await audit(svc, request, TherapistPrincipal(therapist), "auth.signin_link", resource="user")
    return response
