"""Scripted sessions as data: a sequence of timed phases, each saying how each person is
(arousal, talking) and how they breathe (spontaneously, or following a shared pacer).

Scripts are plain frozen values so tests, the demo and the benchmarks can build their own, and
the simulator's ground truth can name the phase every sample belongs to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from attune.dyad.state import Role
from attune.errors import ConfigError

MIN_PACED_BPM = 3.0
MAX_PACED_BPM = 12.0
INHALE_FRACTION_RANGE = (0.2, 0.6)


@dataclass(frozen=True, slots=True)
class PacedBreathing:
    """A breathing pacer shared by everyone who follows it in a phase."""

    breaths_per_min: float = 6.0
    inhale_fraction: float = 0.4

    def __post_init__(self) -> None:
        if not (
            math.isfinite(self.breaths_per_min)
            and MIN_PACED_BPM <= self.breaths_per_min <= MAX_PACED_BPM
        ):
            raise ConfigError(
                f"paced breathing rate must be within {MIN_PACED_BPM}-{MAX_PACED_BPM} "
                f"breaths/min, got {self.breaths_per_min}"
            )
        lo, hi = INHALE_FRACTION_RANGE
        if not lo <= self.inhale_fraction <= hi:
            raise ConfigError(f"inhale_fraction must be within 0.2-0.6, got {self.inhale_fraction}")


@dataclass(frozen=True, slots=True)
class PersonPhase:
    """One person's state during a phase.

    ``arousal`` (0 calm - 1 highly aroused) is a target the person moves towards with a time
    constant, so HR ramps rather than jumps. ``talking`` makes breathing irregular and the
    slow HR drive stronger (speech changes breathing, hrv-science.md §3.2). ``paced`` says
    whether the person breathes with the phase's pacer.
    """

    arousal: float = 0.2
    talking: bool = False
    paced: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.arousal) and 0.0 <= self.arousal <= 1.0):
            raise ConfigError(f"arousal must be within 0-1, got {self.arousal}")


@dataclass(frozen=True, slots=True)
class Phase:
    """A timed phase of a session."""

    name: str
    duration_s: float
    therapist: PersonPhase = PersonPhase()
    client: PersonPhase = PersonPhase()
    pacer: PacedBreathing | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a phase needs a name")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ConfigError(f"phase {self.name!r}: duration_s must be > 0")
        if self.pacer is None and (self.therapist.paced or self.client.paced):
            raise ConfigError(f"phase {self.name!r}: someone follows a pacer but none is set")

    def person(self, role: Role) -> PersonPhase:
        return self.therapist if role is Role.THERAPIST else self.client


@dataclass(frozen=True, slots=True)
class ContactLoss:
    """A span during which one person's strap loses skin contact (script time)."""

    role: Role
    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if self.start_s < 0 or not self.duration_s > 0:
            raise ConfigError("a contact loss needs start_s >= 0 and duration_s > 0")

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class SessionScript:
    """Phases in order, and the contact losses that happen during them."""

    phases: tuple[Phase, ...]
    contact_losses: tuple[ContactLoss, ...] = ()

    def __post_init__(self) -> None:
        if not self.phases:
            raise ConfigError("a session script needs at least one phase")
        for loss in self.contact_losses:
            if loss.end_s > self.duration_s:
                raise ConfigError("a contact loss must end within the script")

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def phase_starts_s(self) -> tuple[float, ...]:
        starts, t_s = [], 0.0
        for phase in self.phases:
            starts.append(t_s)
            t_s += phase.duration_s
        return tuple(starts)

    def phase_index_at(self, t_s: float) -> int:
        """Index of the phase at script time ``t_s`` (the last phase continues after the end)."""
        for i, start_s in enumerate(self.phase_starts_s[1:], start=1):
            if t_s < start_s:
                return i - 1
        return len(self.phases) - 1

    def contact_ok(self, role: Role, t_s: float) -> bool:
        """Whether ``role``'s strap has skin contact at script time ``t_s``."""
        return not any(
            loss.role is role and loss.start_s <= t_s < loss.end_s for loss in self.contact_losses
        )


def therapy_session(pacer_bpm: float = 6.0) -> SessionScript:
    """The scripted 20-minute session the demo, tests and benchmarks share.

    Baseline, conversation, a client arousal episode while the therapist stays steady, the
    therapist grounding (slow breathing of their own), shared paced breathing, recovery.
    """
    calm, steady = 0.1, 0.15
    pacer = PacedBreathing(pacer_bpm, 0.4)
    return SessionScript(
        phases=(
            Phase("baseline", 180.0, PersonPhase(calm), PersonPhase(0.3)),
            Phase(
                "conversation",
                300.0,
                PersonPhase(steady, talking=True),
                PersonPhase(0.35, talking=True),
            ),
            Phase(
                "client arousal",
                180.0,
                PersonPhase(steady, talking=True),
                PersonPhase(0.85, talking=True),
            ),
            Phase(
                "grounding",
                120.0,
                PersonPhase(calm, paced=True),
                PersonPhase(0.6),
                pacer=pacer,
            ),
            Phase(
                "paced breathing",
                240.0,
                PersonPhase(calm, paced=True),
                PersonPhase(0.3, paced=True),
                pacer=pacer,
            ),
            Phase("recovery", 180.0, PersonPhase(calm), PersonPhase(0.15)),
        ),
        contact_losses=(ContactLoss(Role.CLIENT, 400.0, 8.0),),
    )


def resonance_protocol_script(
    rates_bpm: tuple[float, ...] = (6.5, 6.0, 5.5, 5.0, 4.5),
    step_s: float = 120.0,
    lead_in_s: float = 60.0,
    inhale_fraction: float = 0.4,
) -> SessionScript:
    """A client following a stepped resonance-frequency protocol (Lehrer et al. 2000), after
    a quiet lead-in; the therapist sits quietly throughout."""
    phases = [Phase("lead-in", lead_in_s, PersonPhase(0.1), PersonPhase(0.2))]
    phases += [
        Phase(
            f"paced {rate:g}/min",
            step_s,
            PersonPhase(0.1),
            PersonPhase(0.15, paced=True),
            pacer=PacedBreathing(rate, inhale_fraction),
        )
        for rate in rates_bpm
    ]
    return SessionScript(tuple(phases))
