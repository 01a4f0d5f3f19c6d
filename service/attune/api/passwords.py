"""Therapist passwords: Argon2id hashes (argon2-cffi, RFC 9106 parameters).

Hashing is deliberately slow (tens of milliseconds, 64 MiB), so the async helpers run it in a
worker thread and the event loop keeps serving live sessions meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 10


@dataclass(slots=True)
class Passwords:
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    _dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        """Check a password; with no account (``None``) a dummy hash is checked anyway, so a
        wrong username costs as long as a wrong password and does not reveal itself."""
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash_async("attune: no such account")
            await asyncio.to_thread(self.verify, self._dummy_hash, password)
            return False
        return await asyncio.to_thread(self.verify, password_hash, password)
