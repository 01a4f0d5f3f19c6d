"""Fast construction of frozen slotted dataclasses (the engine's per-beat outputs).

A frozen dataclass's generated ``__init__`` sets each field with ``object.__setattr__``, a
generic call per field: for the 16 fields of a metrics snapshot it cost more than all of the
beat's running-sum arithmetic (about 4 us of the ~20 us median per beat, measured with
``attune bench engine``). ``builder`` makes the instance as a mutable twin class with the
same slots, whose ``__init__`` stores each field directly, and then gives it the frozen class:
CPython allows the ``__class__`` assignment because the two layouts are identical, and the
result is an ordinary frozen instance (equal to, hashed and immutable like, one made by the
class itself; tests/unit/test_hrv_frozen.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A constructor for the frozen, slotted dataclass ``cls``: every field, in order or by
    name (defaults are not applied)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a frozen slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ that a builder would skip")
    fields = [(f.name, f.type) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    twin: Any = dataclasses.make_dataclass(
        f"_{cls.__name__}Builder", fields, slots=True, eq=False, repr=False
    )

    def build(*values: object, **named: object) -> T:
        obj = twin(*values, **named)
        obj.__class__ = cls  # same slots: see the module doc
        return obj  # type: ignore[no-any-return]

    build(*(None for _ in fields))  # fails here, at import, if the layouts ever differ
    return build
