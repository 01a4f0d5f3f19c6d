"""The owner's answer to a forwarded action (attune.api.forwarding): a result comes back as
the same model; an error comes back as the same class with the same message, so the asking
instance's route answers the status the owner's would; anything else is a bare AttuneError
(a 500, as locally)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from attune.api.controls import ACTIONS
from attune.api.forwarding import (
    ERROR_KINDS,
    OwnerAction,
    actions,
    error_answer,
    read_answer,
    result_answer,
    run_here,
)
from attune.api.models import PacerOut
from attune.errors import (
    AttuneError,
    ConfigError,
    ConflictError,
    NotFoundError,
    OwnedElsewhereError,
    ProtocolError,
)

NO_RUNTIMES: Any = None  # the test actions below never touch the runtimes


@pytest.mark.parametrize("cls", list(ERROR_KINDS.values()), ids=list(ERROR_KINDS))
def test_an_owners_error_is_raised_again_as_the_same_class(cls: type[AttuneError]) -> None:
    with pytest.raises(cls) as raised:
        read_answer(error_answer(cls("the reason")))
    assert type(raised.value) is cls  # not a base: OwnedElsewhereError stays itself
    assert str(raised.value) == "the reason"


def test_the_status_classes_are_all_carried() -> None:
    assert {NotFoundError, ConflictError, OwnedElsewhereError, ConfigError} <= set(
        ERROR_KINDS.values()
    )


@pytest.mark.parametrize(
    "exc", [ValueError("a bug"), ProtocolError("a bug", code=1008), AttuneError("a bug")]
)
def test_any_other_error_comes_back_as_a_bare_attune_error(exc: Exception) -> None:
    with pytest.raises(AttuneError) as raised:
        read_answer(error_answer(exc))
    assert type(raised.value) is AttuneError
    assert str(raised.value) == "a bug"


def test_a_result_comes_back_as_the_same_model() -> None:
    pacer = PacerOut(running=True, breaths_per_min=5.5, exhale_ratio=2.0, source="therapist")
    assert PacerOut.model_validate(read_answer(result_answer(pacer))) == pacer


@pytest.mark.parametrize("text", ["", "[]", '{"error": {}}', '{"other": 1}'])
def test_an_unreadable_answer_is_an_attune_error(text: str) -> None:
    with pytest.raises(AttuneError) as raised:
        read_answer(text)
    assert type(raised.value) is AttuneError


class Number(BaseModel):
    n: int


async def double(runtimes: Any, session_id: str, args: Number) -> Number:
    del runtimes, session_id
    if args.n < 0:
        raise ConflictError("negative")
    if args.n == 0:
        raise ZeroDivisionError("zero")
    return Number(n=2 * args.n)


DOUBLE = OwnerAction("double", Number, Number, double)


async def test_the_owner_runs_a_named_action_and_answers_its_result_or_error() -> None:
    registry = actions(DOUBLE)
    answer = await run_here(registry, NO_RUNTIMES, "s", "double", {"n": 21})
    assert Number.model_validate(read_answer(answer)) == Number(n=42)
    with pytest.raises(ConflictError, match="negative"):
        read_answer(await run_here(registry, NO_RUNTIMES, "s", "double", {"n": -1}))
    for name, args in [("double", {"n": 0}), ("double", {"m": 1}), ("triple", {"n": 1})]:
        with pytest.raises(AttuneError) as raised:
            read_answer(await run_here(registry, NO_RUNTIMES, "s", name, args))
        assert type(raised.value) is AttuneError, (name, args)


def test_action_names_are_unique() -> None:
    with pytest.raises(ConfigError):
        actions(DOUBLE, DOUBLE)
    assert all(name == action.name for name, action in ACTIONS.items())
