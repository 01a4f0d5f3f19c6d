"""The one exception tree of Attune.

    AttuneError
    ├── PayloadError            a BLE payload that is not a valid Heart Rate Measurement
    ├── ProtocolError           a wire message that breaks protocol v1 (carries a close code)
    ├── AuthError               a missing, wrong, expired or revoked credential
    ├── ForbiddenError            a valid credential that does not allow this (role or scope)
    ├── NotFoundError           a session, participant or client that does not exist
    ├── ConflictError           a request that clashes with stored state (a taken name)
    │   └── OwnedElsewhereError   another service instance computes this session (its lease)
    ├── ConfigError             settings that cannot work
    ├── DataError               input data that cannot be used (an RR file, a stored baseline)
    └── CollectorError          a strap or adapter problem, with advice for the user

Foreign exceptions are translated at the boundary with ``raise ... from exc``; anything else
escaping a pure function is a bug.
"""


class AttuneError(Exception):
    """Base of every error Attune raises on purpose."""


class PayloadError(AttuneError):
    """A Heart Rate Measurement (0x2A37) payload that cannot be decoded."""

    def __init__(self, reason: str, payload: bytes) -> None:
        super().__init__(f"{reason} (payload {payload.hex() or 'empty'})")
        self.reason = reason
        self.payload = payload


class ProtocolError(AttuneError):
    """A wire message that breaks the protocol; ``code`` is the websocket close code to use
    and ``error`` the error code a reply names (docs/protocol.md)."""

    def __init__(self, reason: str, *, code: int = 1008, error: str = "invalid_message") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.error = error


class AuthError(AttuneError):
    """A missing, malformed, expired or revoked credential."""


class ForbiddenError(AttuneError):
    """A valid credential that does not allow the request (wrong role or another session)."""


class NotFoundError(AttuneError):
    """A referenced entity does not exist."""


class ConflictError(AttuneError):
    """A request that clashes with what is stored (a taken name, a reused seq)."""


class OwnedElsewhereError(ConflictError):
    """Another service instance holds this session's lease (scale-out): a collector should
    reconnect, through the load balancer, until it reaches the owner."""


class ConfigError(AttuneError):
    """Settings that cannot work together."""


class DataError(AttuneError):
    """Input data that cannot be used: an unreadable RR file, an implausible stored baseline."""


class CollectorError(AttuneError):
    """A problem with a strap or the Bluetooth adapter, with advice for the user.

    ``code`` names the problem for programs (``attune.collector.problems.Problem``);
    ``fatal`` is True when retrying cannot help until the user acts (permissions, versions).
    """

    def __init__(
        self, message: str, *, advice: str, code: str = "collector", fatal: bool = False
    ) -> None:
        super().__init__(f"{message}. {advice}")
        self.message = message
        self.advice = advice
        self.code = code
        self.fatal = fatal
