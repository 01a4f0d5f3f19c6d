"""The fast constructor of frozen outputs makes the same objects as the classes themselves."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from attune.hrv.calm import CalmBand, CalmReading, CalmState
from attune.hrv.frozen import builder
from attune.hrv.quality import Gate, QualityGates


def test_a_built_instance_equals_hashes_and_stays_frozen_like_a_constructed_one() -> None:
    args = (12.5, CalmState.LIVE, 61.0, CalmBand.NEUTRAL, 0.8, 1.0)
    built, made = builder(CalmReading)(*args), CalmReading(*args)
    assert type(built) is CalmReading
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert dataclasses.astuple(built) == args
    assert copy.deepcopy(built) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.calm = 0.0  # type: ignore[misc]


def test_fields_can_be_given_by_name() -> None:
    gates = builder(QualityGates)(
        time_domain=Gate.OK,
        frequency=Gate.GAPS,
        coherence=Gate.OK,
        dfa=Gate.WARMING_UP,
        stress=Gate.ARTEFACTS,
    )
    assert gates == QualityGates(Gate.OK, Gate.GAPS, Gate.OK, Gate.WARMING_UP, Gate.ARTEFACTS)


@dataclasses.dataclass(slots=True)
class _Mutable:
    x: int


@dataclasses.dataclass(frozen=True)
class _NoSlots:
    x: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    x: int

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError


@pytest.mark.parametrize("cls", [_Mutable, _NoSlots, _Checked])
def test_only_frozen_slotted_dataclasses_without_post_init_are_accepted(cls: type) -> None:
    with pytest.raises(TypeError):
        builder(cls)
