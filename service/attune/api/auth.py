"""Who is asking, and may they: principals, session access, cookies, Origin checks, audit.

Credentials, by role (docs/security.md):

- therapist: a login session in the ``attune_session`` cookie (HttpOnly, SameSite=Lax, Secure
  over https), opened with a password or a one-time sign-in link; sees only their own
  clients and sessions (another therapist's session is simply not found);
- client and reviewer: a signed, expiring, revocable link token for one session, sent as
  ``Authorization: Bearer`` (REST) or in the socket's first message (never in a URL);
- collector: a random per-participant token, on the ingest socket only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Path
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from attune.api.deps import Services, ServicesDep
from attune.errors import AuthError, ForbiddenError, NotFoundError
from attune.store import AuditEntry, LinkRow, SessionRow, TherapistRow
from attune.store.audit import Outcome

COOKIE_NAME = "attune_session"
ViewRole = Literal["therapist", "client", "reviewer"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_cookie_scheme = APIKeyCookie(
    name=COOKIE_NAME, auto_error=False, description="A therapist's login session."
)
_bearer_scheme = HTTPBearer(
    auto_error=False, description="A client or reviewer link token for one session."
)
CookieToken = Annotated[str | None, Depends(_cookie_scheme)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]
SessionIdPath = Annotated[str, Path(max_length=64, description="A session id.")]


@dataclass(frozen=True, slots=True)
class TherapistPrincipal:
    therapist: TherapistRow

    @property
    def role(self) -> ViewRole:
        return "therapist"

    @property
    def actor(self) -> str:
        return f"therapist:{self.therapist.id}"


@dataclass(frozen=True, slots=True)
class LinkPrincipal:
    link: LinkRow

    @property
    def role(self) -> ViewRole:
        return self.link.role

    @property
    def actor(self) -> str:
        return f"link:{self.link.id}"


Principal = TherapistPrincipal | LinkPrincipal


@dataclass(frozen=True, slots=True)
class SessionAccess:
    """An authorised principal and the session it may use."""

    session: SessionRow
    principal: Principal

    @property
    def therapist_id(self) -> str | None:
        principal = self.principal
        return principal.therapist.id if isinstance(principal, TherapistPrincipal) else None


async def therapist_from_cookie(svc: Services, cookie: str | None) -> TherapistPrincipal | None:
    if not cookie:
        return None
    therapist = await svc.store.accounts.login(cookie, now_s=svc.clock())
    return None if therapist is None else TherapistPrincipal(therapist)


async def link_principal(svc: Services, token: str) -> LinkPrincipal:
    """The link behind a token; AuthError if it is forged, expired, revoked or gone."""
    now_s = svc.clock()
    link = await svc.store.sessions.link(svc.tokens.read_link(token, now_s=now_s))
    if link is None or not link.usable(now_s):
        raise AuthError("this link was revoked or has expired")
    return LinkPrincipal(link)


async def authorize_session(
    svc: Services,
    session_id: str,
    *,
    link_token: str | None,
    cookie: str | None,
    roles: frozenset[ViewRole],
) -> SessionAccess:
    """Check a link token (if given) or the login cookie against one session and the roles
    allowed. AuthError: no valid credential; ForbiddenError: wrong role or another session's
    link; NotFoundError: no such session, or not the therapist's own."""
    if link_token is not None:
        principal = await link_principal(svc, link_token)
        if principal.link.session_id != session_id:
            raise ForbiddenError("this link is for another session")
        if principal.role not in roles:
            raise ForbiddenError(f"a {principal.role} link does not allow this")
        return SessionAccess(await svc.store.sessions.get(session_id), principal)
    therapist = await therapist_from_cookie(svc, cookie)
    if therapist is None:
        raise AuthError("sign in, or open the link you were given")
    session = await svc.store.sessions.get(session_id)
    if session.therapist_id != therapist.therapist.id:
        raise NotFoundError(f"no session {session_id}")
    if "therapist" not in roles:
        raise ForbiddenError("therapists do not use this")
    return SessionAccess(session, therapist)


async def audit(
    svc: Services,
    connection: HTTPConnection,
    principal: Principal | None,
    action: str,
    *,
    session_id: str | None = None,
    resource: str | None = None,
    outcome: Outcome = "ok",
) -> None:
    """Append an audit entry for a read, export or change (ids only)."""
    await svc.store.audit.append(
        AuditEntry(
            at_s=svc.clock(),
            actor=principal.actor if principal else "anonymous",
            role=principal.role if principal else "none",
            action=action,
            resource=resource or (f"session:{session_id}" if session_id else "-"),
            session_id=session_id,
            outcome=outcome,
            ip=connection.client.host if connection.client else None,
            user_agent=connection.headers.get("user-agent"),
        )
    )


# FastAPI dependencies


async def require_therapist(svc: ServicesDep, cookie: CookieToken) -> TherapistPrincipal:
    """A signed-in therapist, or 401."""
    principal = await therapist_from_cookie(svc, cookie)
    if principal is None:
        raise AuthError("sign in first")
    return principal


TherapistDep = Annotated[TherapistPrincipal, Depends(require_therapist)]


def session_access(
    *roles: ViewRole, action: str | None = None
) -> Callable[..., Awaitable[SessionAccess]]:
    """A dependency authorising the path's session for ``roles``; denials are audited, and
    so is the request itself when ``action`` names it (reads and exports of personal data)."""
    allowed = frozenset(roles)

    async def dependency(
        session_id: SessionIdPath,
        request: Request,
        svc: ServicesDep,
        cookie: CookieToken,
        bearer: BearerCredentials,
    ) -> SessionAccess:
        token = bearer.credentials if bearer is not None else None
        try:
            access = await authorize_session(
                svc, session_id, link_token=token, cookie=cookie, roles=allowed
            )
        except (AuthError, ForbiddenError, NotFoundError):
            name = action or f"{request.method} {request.scope['route'].path}"
            await audit(svc, request, None, name, session_id=session_id, outcome="denied")
            raise
        if action is not None:
            await audit(svc, request, access.principal, action, session_id=session_id)
        return access

    return dependency


def allowed_origin(connection: HTTPConnection, svc: Services) -> bool:
    """True for a page served by this host or an allowed origin, or when no Origin was sent
    (not a browser; browsers always send one on websockets and cross-site writes)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    if origin in svc.settings.allowed_origins:
        return True
    return urlsplit(origin).netloc == connection.headers.get("host")


async def check_origin(request: Request, svc: ServicesDep) -> None:
    """Refuse writes from another site's page (defence in depth beside SameSite=Lax)."""
    if request.method not in SAFE_METHODS and not allowed_origin(request, svc):
        raise ForbiddenError("cross-origin request refused")


def set_login_cookie(response: Response, request: Request, svc: Services, token: str) -> None:
    secure = svc.settings.cookie_secure
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(svc.settings.login_ttl_s),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" if secure is None else secure,
    )


def clear_login_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
