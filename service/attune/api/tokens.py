"""Signed tokens (itsdangerous): view links and one-time sign-in links.

A view-link token names a row of ``view_links`` (which makes it revocable) and carries its
expiry; a sign-in token names a therapist, where to go after signing in, an expiry, and a
random id that may be used once. Expiry is checked against the service's clock, passed in,
so tests move time instead of sleeping. Collector tokens are different: random per
participant and stored as digests (attune.store.sessions).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from attune.errors import AuthError

SIGN_IN_TTL_S = 15 * 60
MAX_TOKEN_CHARS = 2048
_LABELS = {"link": "view link", "signin": "sign-in link"}


@dataclass(frozen=True, slots=True)
class SignIn:
    therapist_id: str
    next_path: str
    jti: str


@dataclass(frozen=True, slots=True)
class Tokens:
    """Issues and reads the service's signed tokens with its secret key."""

    secret_key: str

    def link(self, link_id: str, expires_at_s: float) -> str:
        """The token of a client or reviewer link."""
        return self._serializer("link").dumps({"lid": link_id, "exp": expires_at_s})

    def read_link(self, token: str, *, now_s: float) -> str:
        """The link id in ``token``; AuthError if it is forged or expired."""
        data = self._load("link", token, now_s)
        link_id = data.get("lid")
        if not isinstance(link_id, str):
            raise AuthError("invalid view link")
        return link_id

    def sign_in(
        self, therapist_id: str, next_path: str, *, now_s: float, ttl_s: float = SIGN_IN_TTL_S
    ) -> str:
        """A one-time sign-in token that leads to ``next_path`` (a path on this service)."""
        claims = {
            "uid": therapist_id,
            "next": next_path,
            "jti": secrets.token_hex(16),
            "exp": now_s + ttl_s,
        }
        return self._serializer("signin").dumps(claims)

    def read_sign_in(self, token: str, *, now_s: float) -> SignIn:
        """The claims of a sign-in token (single use is enforced by the caller)."""
        data = self._load("signin", token, now_s)
        uid, next_path, jti = data.get("uid"), data.get("next"), data.get("jti")
        if not (isinstance(uid, str) and isinstance(next_path, str) and isinstance(jti, str)):
            raise AuthError("invalid sign-in link")
        return SignIn(uid, next_path, jti)

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret_key, salt=f"attune.{purpose}.v1")

    def _load(self, purpose: str, token: str, now_s: float) -> dict[str, Any]:
        label = _LABELS[purpose]
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(f"invalid {label}")
        try:
            data = self._serializer(purpose).loads(token)
        except BadSignature as exc:
            raise AuthError(f"invalid {label}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int | float):
            raise AuthError(f"invalid {label}")
        if now_s >= data["exp"]:
            raise AuthError(f"{label} expired")
        return data
