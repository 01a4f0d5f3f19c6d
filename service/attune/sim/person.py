"""RR intervals of one simulated person: baseline HR modulated by breathing (RSA) and the
0.1 Hz baroreflex wave, plus beat-to-beat noise (Lehrer & Gevirtz 2014 for the RSA picture)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class PersonProfile:
    """Stable traits of a simulated person."""

    hr_bpm: float = 70.0
    breaths_per_min: float = 12.0
    rsa_ms: float = 40.0
    baroreflex_ms: float = 15.0
    noise_ms: float = 12.0


@dataclass(slots=True)
class RrSimulator:
    """Generates successive RR intervals (ms); the phase of each rhythm advances with time."""

    profile: PersonProfile
    seed: int = 0
    t_s: float = 0.0
    _rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def next_rr_ms(self) -> float:
        """The next RR interval; advances the simulator's clock by it."""
        p = self.profile
        base_ms = 60000.0 / p.hr_bpm
        breath = math.sin(2 * math.pi * p.breaths_per_min / 60.0 * self.t_s)
        mayer = math.sin(2 * math.pi * 0.1 * self.t_s + 1.0)
        rr_ms = base_ms + p.rsa_ms * breath + p.baroreflex_ms * mayer
        rr_ms += float(self._rng.normal(0.0, p.noise_ms))
        self.t_s += rr_ms / 1000.0
        return rr_ms
