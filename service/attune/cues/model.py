"""The cue policy's inputs and outputs: frozen values at the boundary with the engine, the
pipeline, the wire and the recording."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

CALM_MAX = 100.0


@dataclass(frozen=True, slots=True)
class ParticipantSnapshot:
    """One person's state as the HRV engine reports it at ``t_s``.

    ``calm`` is the engine's calm index (0 aroused - 100 calm) with its ``calm_confidence``
    (0-1, from artefacts and contact); ``signal_ok`` is False while contact is lost or the
    beats have a gap.
    """

    t_s: float
    calm: float
    calm_confidence: float
    hr_bpm: float
    ln_rmssd: float | None
    signal_ok: bool = True

    def __post_init__(self) -> None:
        if not math.isfinite(self.t_s):
            raise ValueError(f"t_s must be finite, got {self.t_s}")
        if not (math.isfinite(self.calm) and 0.0 <= self.calm <= CALM_MAX):
            raise ValueError(f"calm must be within 0-100, got {self.calm}")
        if not (math.isfinite(self.calm_confidence) and 0.0 <= self.calm_confidence <= 1.0):
            raise ValueError(f"calm_confidence must be within 0-1, got {self.calm_confidence}")
        if not (math.isfinite(self.hr_bpm) and self.hr_bpm > 0):
            raise ValueError(f"hr_bpm must be > 0, got {self.hr_bpm}")
        if self.ln_rmssd is not None and not math.isfinite(self.ln_rmssd):
            raise ValueError(f"ln_rmssd must be finite, got {self.ln_rmssd}")


class Audience(enum.StrEnum):
    THERAPIST = "therapist"
    CLIENT = "client"


class CueKind(enum.StrEnum):
    CLIENT_AROUSAL_RISING = "client_arousal_rising"
    THERAPIST_AROUSAL_RISING = "therapist_arousal_rising"
    ATTUNED = "attuned"
    CLIENT_RECOVERING = "client_recovering"
    SIGNAL_LOST = "signal_lost"


@dataclass(frozen=True, slots=True)
class Reason:
    """One value that made a rule fire, e.g. ``Reason("client_slope_per_min", -9.4)``."""

    name: str
    value: float | str | bool


@dataclass(frozen=True, slots=True)
class Cue:
    """A cue to show (and record): who sees it, what it says, and why it fired."""

    t_s: float
    kind: CueKind
    audience: Audience
    text: str
    reason: tuple[Reason, ...]

    def reason_value(self, name: str) -> float | str | bool:
        for r in self.reason:
            if r.name == name:
                return r.value
        raise KeyError(name)
