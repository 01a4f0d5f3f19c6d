"""Signed, expiring view tokens for one session and one role (itsdangerous timed signatures).

A view token lets a browser watch a session live; it is not a login. Collector tokens are
different: random per participant and stored as digests (attune.store.recording).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from attune.errors import AuthError

ViewRole = Literal["therapist", "client", "reviewer"]
VIEW_ROLES: tuple[ViewRole, ...] = ("therapist", "client", "reviewer")
DEFAULT_VIEW_TOKEN_TTL_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class ViewGrant:
    session_id: str
    role: ViewRole


@dataclass(frozen=True, slots=True)
class ViewTokens:
    """Issues and verifies view tokens with the service's secret key."""

    secret_key: str
    ttl_s: int = DEFAULT_VIEW_TOKEN_TTL_S

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt="attune.view.v1")

    def issue(self, session_id: str, role: ViewRole) -> str:
        return self._serializer().dumps({"sid": session_id, "role": role})

    def verify(self, token: str, session_id: str) -> ViewGrant:
        """The grant in ``token``; AuthError if it is forged, expired or for another session."""
        try:
            data = self._serializer().loads(token, max_age=self.ttl_s)
        except SignatureExpired as exc:
            raise AuthError("view link expired") from exc
        except BadSignature as exc:
            raise AuthError("invalid view token") from exc
        if not isinstance(data, dict) or data.get("role") not in VIEW_ROLES:
            raise AuthError("invalid view token")
        if data.get("sid") != session_id:
            raise AuthError("view token is for another session")
        return ViewGrant(session_id, cast("ViewRole", data["role"]))
