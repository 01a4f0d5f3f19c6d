"""Cue rules as clinics tune them: a TOML file (stdlib ``tomllib``) over the shipped defaults.

``default_cues.toml`` in this package holds every setting; a clinic's file lists only what it
changes, e.g.::

    [rules.client_arousal_rising]
    slope_on_per_min = -10.0
    text = "Client activation rising: slow down, longer out-breath, pause."

Every value is checked (type, range, hysteresis the right way round, short texts); unknown
rules or keys are refused, so a typo cannot silently leave a default in force. Errors name the
file and the key: ``cues.toml: rules.attuned.calm_off: must be <= calm_on (60), got 70``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from attune.cues.model import Audience
from attune.errors import ConfigError

MAX_TEXT_CHARS = 160


class _InvalidError(ValueError):
    """A value a setting cannot take (turned into ConfigError with its key by the loader)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _range(key: str, value: float, lo: float, hi: float) -> None:
    if not (math.isfinite(value) and lo <= value <= hi):
        raise _InvalidError(key, f"must be within {lo:g}-{hi:g}, got {value:g}")


@dataclass(frozen=True, slots=True)
class General:
    trend_window_s: float
    min_calm_confidence: float
    stale_after_s: float

    def __post_init__(self) -> None:
        _range("trend_window_s", self.trend_window_s, 10.0, 300.0)
        _range("min_calm_confidence", self.min_calm_confidence, 0.0, 1.0)
        _range("stale_after_s", self.stale_after_s, 1.0, 120.0)


@dataclass(frozen=True, slots=True)
class Rule:
    """What every rule has: on/off, who sees it, what it says, how long the condition must
    hold before it fires, and the least time between two cues of the kind."""

    enabled: bool
    audience: Audience
    text: str
    hold_s: float
    min_interval_s: float

    def __post_init__(self) -> None:
        if not self.text.strip() or len(self.text) > MAX_TEXT_CHARS:
            raise _InvalidError(
                "text", f"must be 1-{MAX_TEXT_CHARS} characters, got {len(self.text)}"
            )
        _range("hold_s", self.hold_s, 0.0, 600.0)
        _range("min_interval_s", self.min_interval_s, 0.0, 3600.0)


@dataclass(frozen=True, slots=True)
class FallingCalmRule(Rule):
    """Fires when calm is below ``calm_below`` and falls at least as fast as
    ``slope_on_per_min`` (negative); re-arms once it falls slower than ``slope_off_per_min``
    (hysteresis: off >= on)."""

    calm_below: float
    slope_on_per_min: float
    slope_off_per_min: float

    def __post_init__(self) -> None:
        super(FallingCalmRule, self).__post_init__()
        _range("calm_below", self.calm_below, 0.0, 100.0)
        _range("slope_on_per_min", self.slope_on_per_min, -100.0, 0.0)
        _range("slope_off_per_min", self.slope_off_per_min, self.slope_on_per_min, 100.0)


@dataclass(frozen=True, slots=True)
class ClientArousalRule(FallingCalmRule):
    """...and only while the therapist is steady: calm at least ``therapist_min_calm`` and
    not falling faster than ``therapist_max_fall_per_min``."""

    therapist_min_calm: float
    therapist_max_fall_per_min: float

    def __post_init__(self) -> None:
        super(ClientArousalRule, self).__post_init__()
        _range("therapist_min_calm", self.therapist_min_calm, 0.0, 100.0)
        _range("therapist_max_fall_per_min", self.therapist_max_fall_per_min, 0.0, 100.0)


@dataclass(frozen=True, slots=True)
class AttunedRule(Rule):
    """Both calm >= ``calm_on`` and synchrony in step; ends below ``calm_off`` or out of step."""

    calm_on: float
    calm_off: float

    def __post_init__(self) -> None:
        super(AttunedRule, self).__post_init__()
        _range("calm_on", self.calm_on, 0.0, 100.0)
        _range("calm_off", self.calm_off, 0.0, self.calm_on)


@dataclass(frozen=True, slots=True)
class RecoveringRule(Rule):
    """The client's calm rising at ``slope_on_per_min`` or faster after being at or below
    ``low_calm`` within ``lookback_s``; re-arms once it rises slower than ``slope_off``."""

    slope_on_per_min: float
    slope_off_per_min: float
    low_calm: float
    lookback_s: float

    def __post_init__(self) -> None:
        super(RecoveringRule, self).__post_init__()
        _range("slope_on_per_min", self.slope_on_per_min, 0.0, 100.0)
        _range("slope_off_per_min", self.slope_off_per_min, -100.0, self.slope_on_per_min)
        _range("low_calm", self.low_calm, 0.0, 100.0)
        _range("lookback_s", self.lookback_s, 10.0, 1800.0)


@dataclass(frozen=True, slots=True)
class CueConfig:
    general: General
    client_arousal_rising: ClientArousalRule
    therapist_arousal_rising: FallingCalmRule
    attuned: AttunedRule
    client_recovering: RecoveringRule
    signal_lost: Rule


RULES: dict[str, type[Rule]] = {
    "client_arousal_rising": ClientArousalRule,
    "therapist_arousal_rising": FallingCalmRule,
    "attuned": AttunedRule,
    "client_recovering": RecoveringRule,
    "signal_lost": Rule,
}


def parse_cue_config(
    text: str, source: str = "<cue config>", base: CueConfig | None = None
) -> CueConfig:
    """Read cue settings from TOML ``text``. With ``base`` every key is optional and overrides
    the base's value; without it (the shipped defaults) every key must be present."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    _only(data, {"general", "rules"}, "", source)
    general_table = _table(data.get("general", {}), "general", source)
    rules_table = _table(data.get("rules", {}), "rules", source)
    _only(rules_table, set(RULES), "rules.", source)
    general = _build(General, general_table, base.general if base else None, "general", source)
    rules = {
        name: _build(
            cls,
            _table(rules_table.get(name, {}), f"rules.{name}", source),
            getattr(base, name) if base else None,
            f"rules.{name}",
            source,
        )
        for name, cls in RULES.items()
    }
    return CueConfig(general, **rules)


@cache
def default_cue_config() -> CueConfig:
    """The settings shipped with Attune (``default_cues.toml``)."""
    text = resources.files("attune.cues").joinpath("default_cues.toml").read_text("utf-8")
    return parse_cue_config(text, "default_cues.toml")


def load_cue_config(path: Path | None = None) -> CueConfig:
    """The defaults, overridden by the clinic's file at ``path`` if given."""
    if path is None:
        return default_cue_config()
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read cue settings {path}: {exc.strerror or exc}") from exc
    return parse_cue_config(text, str(path), default_cue_config())


def _table(value: object, key: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {key}: must be a table")
    return value


def _only(table: dict[str, Any], allowed: set[str], prefix: str, source: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {prefix}{unknown[0]} (known: {', '.join(sorted(allowed))})"
        )


_T = typing.TypeVar("_T")


def _build(cls: type[_T], table: dict[str, Any], base: _T | None, key: str, source: str) -> _T:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    _only(table, set(names), f"{key}.", source)
    values: dict[str, Any] = {}
    for name in names:
        if name in table:
            values[name] = _coerce(table[name], hints[name], f"{key}.{name}", source)
        elif base is not None:
            values[name] = getattr(base, name)
        else:
            raise ConfigError(f"{source}: {key}.{name}: missing")
    try:
        return cls(**values)
    except _InvalidError as exc:
        raise ConfigError(f"{source}: {key}.{exc}") from exc


def _coerce(value: object, kind: object, key: str, source: str) -> object:
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is Audience and isinstance(value, str):
        try:
            return Audience(value)
        except ValueError:
            pass
        raise ConfigError(
            f"{source}: {key}: must be one of {', '.join(a.value for a in Audience)}, got {value!r}"
        )
    expected = {float: "a number", bool: "true or false", str: "a string"}.get(kind, str(kind))  # type: ignore[call-overload]
    raise ConfigError(f"{source}: {key}: must be {expected}, got {value!r}")
