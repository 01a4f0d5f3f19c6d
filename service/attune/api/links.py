"""The URLs the service hands out: views with a token in the fragment, sign-in, ingest."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from starlette.requests import HTTPConnection

from attune.api.tokens import SIGN_IN_TTL_S, Tokens
from attune.store import LinkRole, LinkRow, Sessions

View = Literal["therapist", "client", "replay"]
# The dashboard page behind each view (dashboard/); /view/<name> redirects to it.
VIEW_PAGES: dict[View, str] = {
    "therapist": "therapist.html",
    "client": "client.html",
    "replay": "replay.html",
}
LINK_VIEWS: dict[str, View] = {"client": "client", "reviewer": "replay"}


def base_url(connection: HTTPConnection) -> str:
    """This service's URL as the caller reached it (proxy headers included)."""
    return str(connection.base_url).rstrip("/")


def view_url(base: str, view: View, session_id: str, token: str | None = None) -> str:
    """A view of one session. The token rides in the fragment, which browsers never send to
    a server, so it stays out of access logs and Referer headers."""
    fragment = {"session": session_id} | ({"token": token} if token else {})
    return f"{base}/view/{view}#{urlencode(fragment)}"


def sign_in_url(base: str, token: str) -> str:
    return f"{base}/api/auth/signin/{token}"


def ingest_url(base: str) -> str:
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ingest"


async def issue_view_link(
    sessions: Sessions,
    tokens: Tokens,
    base: str,
    session_id: str,
    role: LinkRole,
    *,
    now_s: float,
    ttl_s: float,
    created_by: str | None,
) -> tuple[LinkRow, str, str]:
    """Create a revocable client or reviewer link; returns its row, token and URL."""
    row = await sessions.create_link(
        session_id, role, now_s=now_s, ttl_s=ttl_s, created_by=created_by
    )
    token = tokens.link(row.id, row.expires_at_s)
    return row, token, view_url(base, LINK_VIEWS[role], session_id, token)


def issue_sign_in_link(
    tokens: Tokens,
    base: str,
    therapist_id: str,
    *,
    session_id: str | None,
    now_s: float,
    ttl_s: float = SIGN_IN_TTL_S,
) -> str:
    """A one-time sign-in URL that opens the therapist console (on a session, if given)."""
    next_path = "/view/therapist" + (f"#{urlencode({'session': session_id})}" if session_id else "")
    return sign_in_url(base, tokens.sign_in(therapist_id, next_path, now_s=now_s, ttl_s=ttl_s))
