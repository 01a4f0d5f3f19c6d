"""Ids and secrets: random ids for rows, random tokens stored only as digests."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    """A random row id (uuid4 as 32 hex digits)."""
    return uuid.uuid4().hex


def new_token() -> str:
    """A random bearer token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    """Tokens are stored as SHA-256 digests; a leaked database leaks no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
