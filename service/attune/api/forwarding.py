"""Work only a session's owner may do, runnable from any instance (scale-out).

A marker or a co-regulation control changes a session's live state, which exists on one
instance: the holder of the session's lease (attune.api.ownership). Such work is an
``OwnerAction``: a registered name, typed arguments and a typed result, both plain JSON
once dumped. ``SessionRuntimes.on_owner`` runs it here when this instance computes (or can
take) the session; otherwise ``Peers.forward`` sends the name and arguments to the owner
(attune.api.cluster), which answers with the result or with the error it raised.

The answer's codec lives here, pure: an error travels as its kind (the class name) and
message and is raised again on the asking instance as the same class, so a route answers
the same status whichever instance the proxy picked. Kinds outside ``ERROR_KINDS`` (a bug
on the owner) come back as a bare ``AttuneError``, which no handler maps: a 500, as the bug
would have given locally.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from pydantic import BaseModel, JsonValue

from attune.errors import (
    AttuneError,
    AuthError,
    ConfigError,
    ConflictError,
    DataError,
    ForbiddenError,
    NotFoundError,
    OwnedElsewhereError,
)

if TYPE_CHECKING:
    from attune.api.runtime import SessionRuntimes

log = structlog.get_logger(__name__)
A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

# The errors an owner's answer carries by kind: those of attune.errors that take just a
# message (ProtocolError, PayloadError and CollectorError carry more and are not raised by
# owner actions).
ERROR_KINDS: dict[str, type[AttuneError]] = {
    cls.__name__: cls
    for cls in (
        AuthError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        OwnedElsewhereError,
        ConfigError,
        DataError,
    )
}
INTERNAL = "internal"  # the kind of anything else the owner raised


@dataclass(frozen=True, slots=True)
class OwnerAction(Generic[A, R]):
    """Work on one session that must run where the session is computed. ``name`` is what
    travels between instances; ``run`` is only ever called on the owner."""

    name: str
    args: type[A]
    result: type[R]
    run: Callable[[SessionRuntimes, str, A], Awaitable[R]]


AnyAction = OwnerAction[Any, Any]


def actions(*registered: AnyAction) -> dict[str, AnyAction]:
    """The registry an owner looks names up in; a name must be unique."""
    by_name: dict[str, AnyAction] = {}
    for action in registered:
        if action.name in by_name:
            raise ConfigError(f"two owner actions are named {action.name!r}")
        by_name[action.name] = action
    return by_name


def result_answer(result: BaseModel) -> str:
    """The owner's answer for a result."""
    return json.dumps({"result": result.model_dump(mode="json")})


def error_answer(exc: BaseException) -> str:
    """The owner's answer for an error it raised."""
    kind = type(exc).__name__ if isinstance(exc, AttuneError) else INTERNAL
    if kind not in ERROR_KINDS:
        kind = INTERNAL
    return json.dumps({"error": {"kind": kind, "message": str(exc)}})


async def run_here(
    registry: Mapping[str, AnyAction],
    runtimes: SessionRuntimes,
    session_id: str,
    name: str,
    args: object,
) -> str:
    """Run a forwarded action on this instance, the owner (never forwarded on: if it lost
    the session meanwhile, the asker hears OwnedElsewhereError), and answer it."""
    action = registry.get(name)
    if action is None:  # asked by an instance of another version
        return error_answer(AttuneError(f"no owner action is named {name!r}"))
    try:
        result = await action.run(runtimes, session_id, action.args.model_validate(args))
    except Exception as exc:
        if not isinstance(exc, AttuneError):
            log.exception("owner_action_failed", action=name, session=session_id)
        return error_answer(exc)
    return result_answer(result)


def read_answer(text: str) -> JsonValue:
    """An owner's answer: its result (JSON), or its error raised here as the same class."""
    try:
        answer = json.loads(text)
        if "result" in answer:
            result: JsonValue = answer["result"]
            return result
        kind, message = str(answer["error"]["kind"]), str(answer["error"]["message"])
    except (ValueError, TypeError, KeyError) as exc:
        raise AttuneError(f"an owner's answer that cannot be read: {text[:200]!r}") from exc
    raise ERROR_KINDS.get(kind, AttuneError)(message)
