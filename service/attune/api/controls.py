"""What a therapist does to a live session: markers and the co-regulation controls (the
breathing pacer, the resonance-frequency assessment, what the client view shows), and what
they read back of its live state.

Each is an owner action (attune.api.forwarding): it runs on the instance that computes the
session, whichever instance the request reached, so its answer is the same everywhere. Each
change is committed as a session input (so replay reproduces it) and published live
(docs/protocol.md). The arguments carry the asking instance's clock and the author, so a
forwarded change is recorded as the asker would have recorded it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, JsonValue

from attune.api.forwarding import AnyAction, OwnerAction, actions
from attune.api.live_messages import resonance_message, session_pacer
from attune.api.models import ClientViewOut, MarkerOut, PacerOut, ResonanceOut
from attune.api.stream import CLIENT_VIEW, PACER_SET, PACER_STOP, RESONANCE_CANCEL, RESONANCE_START
from attune.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from attune.api.runtime import SessionRuntime, SessionRuntimes


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Look(_Args):
    """Read the session's live state; no arguments."""


class Change(_Args):
    """A change by ``author_id`` (None: the service itself) at wall time ``now_s``."""

    author_id: str | None
    now_s: float


class MarkerArgs(Change):
    t_s: float
    text: str
    idempotency_key: str | None = None


class PacerArgs(Change):
    breaths_per_min: float
    exhale_ratio: float
    source: str


class StopArgs(Change):
    source: str


class ClientViewArgs(Change):
    show_numbers: bool


def pacer_out(runtime: SessionRuntime) -> PacerOut:
    pacer = session_pacer(runtime.stream.pipeline.coreg.pacer_setting)
    return PacerOut(running=False) if pacer is None else PacerOut(running=True, **dict(pacer))


def resonance_out(runtime: SessionRuntime) -> ResonanceOut:
    status = runtime.stream.pipeline.coreg.resonance
    if status is None:
        raise NotFoundError("no resonance assessment was started in this session")
    message = resonance_message(status, 0)
    return ResonanceOut.model_validate(message.model_dump(exclude={"v", "seq", "type"}))


async def _add_marker(runtimes: SessionRuntimes, session_id: str, args: MarkerArgs) -> MarkerOut:
    marker = await runtimes.add_marker(
        session_id,
        t_s=args.t_s,
        text=args.text,
        author_id=args.author_id,
        now_s=args.now_s,
        idempotency_key=args.idempotency_key,
    )
    return MarkerOut.model_validate(marker)


async def _get_pacer(runtimes: SessionRuntimes, session_id: str, args: Look) -> PacerOut:
    del args
    return pacer_out(await runtimes.get(session_id))


async def _set_pacer(runtimes: SessionRuntimes, session_id: str, args: PacerArgs) -> PacerOut:
    """Start the pacer, or change it from the end of the current breath."""
    body: dict[str, JsonValue] = {
        "breaths_per_min": args.breaths_per_min,
        "exhale_ratio": args.exhale_ratio,
        "source": args.source,
    }
    runtime = await runtimes.control(
        session_id, PACER_SET, body, author_id=args.author_id, now_s=args.now_s
    )
    return pacer_out(runtime)


async def _start_pacer(runtimes: SessionRuntimes, session_id: str, args: PacerArgs) -> PacerOut:
    """``_set_pacer`` just after the session started: the start's refresh reaches the owner
    beside this request, not surely before it, so read the started session first (its
    session time zero) rather than set the pacer against the unstarted one."""
    await runtimes.reload(session_id)
    return await _set_pacer(runtimes, session_id, args)


async def _stop_pacer(runtimes: SessionRuntimes, session_id: str, args: StopArgs) -> PacerOut:
    """Stop the pacer at once; nothing is recorded if it is not running."""
    runtime = await runtimes.get(session_id)
    if runtime.stream.pipeline.coreg.pacer_setting is None:
        return PacerOut(running=False)
    runtime = await runtimes.control(
        session_id,
        PACER_STOP,
        {"source": args.source},
        author_id=args.author_id,
        now_s=args.now_s,
    )
    return pacer_out(runtime)


async def _get_resonance(runtimes: SessionRuntimes, session_id: str, args: Look) -> ResonanceOut:
    del args
    return resonance_out(await runtimes.get(session_id))


def _can_assess(runtime: SessionRuntime) -> None:
    if runtime.stream.pipeline.coreg.assessing:
        raise ConflictError("a resonance assessment is already running")
    if not any(p.role == "client" for p in runtime.participants.values()):
        raise ConflictError("the session has no client participant to assess")


async def _start_resonance(
    runtimes: SessionRuntimes, session_id: str, args: Change
) -> ResonanceOut:
    runtime = await runtimes.control(
        session_id,
        RESONANCE_START,
        {},
        author_id=args.author_id,
        now_s=args.now_s,
        check=_can_assess,
    )
    return resonance_out(runtime)


def _assessing(runtime: SessionRuntime) -> None:
    if not runtime.stream.pipeline.coreg.assessing:
        raise ConflictError("no resonance assessment is running")


async def _cancel_resonance(
    runtimes: SessionRuntimes, session_id: str, args: Change
) -> ResonanceOut:
    runtime = await runtimes.control(
        session_id,
        RESONANCE_CANCEL,
        {},
        author_id=args.author_id,
        now_s=args.now_s,
        check=_assessing,
    )
    return resonance_out(runtime)


async def _set_client_view(
    runtimes: SessionRuntimes, session_id: str, args: ClientViewArgs
) -> ClientViewOut:
    await runtimes.store.sessions.set_show_numbers(session_id, args.show_numbers)
    runtime = await runtimes.control(
        session_id,
        CLIENT_VIEW,
        {"show_numbers": args.show_numbers},
        author_id=args.author_id,
        now_s=args.now_s,
    )
    runtime.show_numbers = args.show_numbers
    return ClientViewOut(show_numbers=args.show_numbers)


ADD_MARKER = OwnerAction("marker.add", MarkerArgs, MarkerOut, _add_marker)
GET_PACER = OwnerAction("pacer.get", Look, PacerOut, _get_pacer)
SET_PACER = OwnerAction("pacer.set", PacerArgs, PacerOut, _set_pacer)
START_PACER = OwnerAction("pacer.start", PacerArgs, PacerOut, _start_pacer)
STOP_PACER = OwnerAction("pacer.stop", StopArgs, PacerOut, _stop_pacer)
GET_RESONANCE = OwnerAction("resonance.get", Look, ResonanceOut, _get_resonance)
START_RESONANCE = OwnerAction("resonance.start", Change, ResonanceOut, _start_resonance)
CANCEL_RESONANCE = OwnerAction("resonance.cancel", Change, ResonanceOut, _cancel_resonance)
SET_CLIENT_VIEW = OwnerAction("client_view.set", ClientViewArgs, ClientViewOut, _set_client_view)

# What an owner runs for another instance (attune.api.cluster), by name.
ACTIONS: dict[str, AnyAction] = actions(
    ADD_MARKER,
    GET_PACER,
    SET_PACER,
    START_PACER,
    STOP_PACER,
    GET_RESONANCE,
    START_RESONANCE,
    CANCEL_RESONANCE,
    SET_CLIENT_VIEW,
)
