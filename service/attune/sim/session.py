"""Simulated dyads following a session script: per-person beat streams plus ground truth.

Both hearts are stepped together on one 10 Hz grid, so a follower can be fed the leader's slow
autonomic drive with a lag. The coupling acts on that drive (the HR fluctuations synchrony
measures); arousal and breathing follow the script. Used two ways: ``run()`` simulates a whole
script at once (tests, benchmarks), ``beats(role)`` streams beats lazily and can loop the
script for ever (the demo's straps).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from attune.dyad.state import Role
from attune.errors import ConfigError
from attune.sim.physiology import DT_S, BlockInputs, BlockOutput, PersonModel, SimBeat
from attune.sim.profile import PersonProfile
from attune.sim.script import PersonPhase, Phase, SessionScript

FloatArray = npt.NDArray[np.float64]

BLOCK_SAMPLES = 100
TRUTH_EVERY = 10  # ground truth at 1 Hz
MAX_LAG_S = 30.0


@dataclass(frozen=True, slots=True)
class Coupling:
    """The follower's drive mixes in the leader's, ``lag_s`` later, with weight ``strength``
    (0 = independent, 1 = the follower's drive is the leader's)."""

    leader: Role = Role.THERAPIST
    lag_s: float = 3.0
    strength: float = 0.6

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lag_s) and 0.0 <= self.lag_s <= MAX_LAG_S):
            raise ConfigError(f"coupling lag_s must be within 0-30 s, got {self.lag_s}")
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"coupling strength must be within 0-1, got {self.strength}")

    @property
    def follower(self) -> Role:
        return Role.CLIENT if self.leader is Role.THERAPIST else Role.THERAPIST


@dataclass(frozen=True, slots=True)
class PersonTruth:
    """What the simulated person really was, sampled at 1 Hz."""

    t_s: FloatArray
    phase_index: npt.NDArray[np.int64]
    arousal: FloatArray
    breaths_per_min: FloatArray
    paced: npt.NDArray[np.bool_]

    def at(self, t_s: float) -> int:
        """Index of the truth sample nearest to ``t_s``."""
        return int(np.clip(np.searchsorted(self.t_s, t_s), 0, self.t_s.size - 1))


@dataclass(frozen=True, slots=True)
class DyadRecording:
    """A whole simulated session."""

    script: SessionScript
    beats: dict[Role, tuple[SimBeat, ...]]
    truth: dict[Role, PersonTruth]

    def rr_ms(self, role: Role) -> FloatArray:
        return np.array([b.rr_ms for b in self.beats[role]])

    def beat_times_s(self, role: Role) -> FloatArray:
        return np.array([b.t_s for b in self.beats[role]])


@dataclass(slots=True)
class _TruthLog:
    t_s: list[FloatArray] = field(default_factory=list)
    phase_index: list[npt.NDArray[np.int64]] = field(default_factory=list)
    arousal: list[FloatArray] = field(default_factory=list)
    breaths_per_min: list[FloatArray] = field(default_factory=list)
    paced: list[npt.NDArray[np.bool_]] = field(default_factory=list)

    def add(
        self, inputs: BlockInputs, phase_index: npt.NDArray[np.int64], out: BlockOutput
    ) -> None:
        pick = slice(TRUTH_EVERY - 1, None, TRUTH_EVERY)
        self.t_s.append(inputs.t_s[pick])
        self.phase_index.append(phase_index[pick])
        self.arousal.append(out.arousal[pick])
        self.breaths_per_min.append(out.breaths_per_min[pick])
        self.paced.append(~np.isnan(inputs.paced_bpm[pick]))

    def freeze(self, end_s: float) -> PersonTruth:
        t_s = np.concatenate(self.t_s)
        keep = t_s <= end_s + 1e-9
        return PersonTruth(
            t_s[keep],
            np.concatenate(self.phase_index)[keep],
            np.concatenate(self.arousal)[keep],
            np.concatenate(self.breaths_per_min)[keep],
            np.concatenate(self.paced)[keep],
        )


@dataclass(slots=True)
class DyadSimulator:
    """Seeded simulation of a therapist and a client following ``script``.

    ``loop`` repeats the script for ever (for the demo); otherwise streams end with it.
    """

    script: SessionScript
    therapist: PersonProfile = field(default_factory=PersonProfile)
    client: PersonProfile = field(default_factory=PersonProfile)
    coupling: Coupling | None = None
    seed: int = 0
    loop: bool = False
    _models: dict[Role, PersonModel] = field(init=False)
    _queues: dict[Role, deque[SimBeat]] = field(init=False)
    _truth: dict[Role, _TruthLog] = field(init=False)
    _leader_history: FloatArray = field(init=False)
    _next_sample: int = 0

    def __post_init__(self) -> None:
        seeds = np.random.SeedSequence(self.seed).spawn(2)
        self._models = {
            Role.THERAPIST: PersonModel(self.therapist, np.random.default_rng(seeds[0])),
            Role.CLIENT: PersonModel(self.client, np.random.default_rng(seeds[1])),
        }
        for role, model in self._models.items():
            model.arousal = self.script.phases[0].person(role).arousal
        self._queues = {role: deque() for role in Role}
        self._truth = {role: _TruthLog() for role in Role}
        lag_samples = round(self.coupling.lag_s / DT_S) if self.coupling else 0
        self._leader_history = np.zeros(lag_samples)

    @property
    def finished(self) -> bool:
        return not self.loop and self._next_sample * DT_S >= self.script.duration_s

    def script_time_s(self, t_s: float) -> float:
        """Where in the script simulation time ``t_s`` falls (wraps when looping)."""
        return math.fmod(t_s, self.script.duration_s) if self.loop else t_s

    def contact_ok(self, role: Role, t_s: float) -> bool:
        """Whether ``role``'s strap touches the skin at simulation time ``t_s``."""
        return self.script.contact_ok(role, self.script_time_s(t_s))

    def beats(self, role: Role) -> Iterator[SimBeat]:
        """``role``'s beats in time order, simulated as they are consumed."""
        queue = self._queues[role]
        while True:
            while not queue:
                if self.finished:
                    return
                self._advance()
            yield queue.popleft()

    def run(self) -> DyadRecording:
        """Simulate the whole script (not with ``loop``)."""
        if self.loop:
            raise ConfigError("a looping simulation has no end to run to")
        while not self.finished:
            self._advance()
        end_s = self.script.duration_s
        beats = {role: tuple(self._queues[role]) for role in Role}
        truth = {role: self._truth[role].freeze(end_s) for role in Role}
        return DyadRecording(self.script, beats, truth)

    def _advance(self) -> None:
        k = self._next_sample + np.arange(1, BLOCK_SAMPLES + 1)
        self._next_sample += BLOCK_SAMPLES
        t_s = (k * DT_S).astype(np.float64)
        order = (Role.THERAPIST, Role.CLIENT)
        if self.coupling is not None:
            order = (self.coupling.leader, self.coupling.follower)
        leader_drive: FloatArray | None = None
        for role in order:
            inputs, phase_index = self._inputs(role, t_s, leader_drive)
            out = self._models[role].step_block(inputs)
            end_s = math.inf if self.loop else self.script.duration_s
            self._queues[role].extend(b for b in out.beats if b.t_s <= end_s)
            if not self.loop:
                self._truth[role].add(inputs, phase_index, out)
            if self.coupling is not None and role is self.coupling.leader:
                history = np.concatenate((self._leader_history, out.drive))
                leader_drive = history[: out.drive.size]
                self._leader_history = history[out.drive.size :]

    def _inputs(
        self, role: Role, t_s: FloatArray, leader_drive: FloatArray | None
    ) -> tuple[BlockInputs, npt.NDArray[np.int64]]:
        script = self.script
        script_t = np.mod(t_s, script.duration_s) if self.loop else t_s
        starts = np.array(script.phase_starts_s)
        index = np.searchsorted(starts, script_t, side="right") - 1
        people = [phase.person(role) for phase in script.phases]
        arousal = np.array([p.arousal for p in people])[index]
        talking = np.array([p.talking for p in people])[index]
        paced_bpm_by_phase = np.array(
            [
                phase.pacer.breaths_per_min if phase.pacer and person.paced else np.nan
                for phase, person in zip(script.phases, people, strict=True)
            ]
        )
        inhale_by_phase = np.array(
            [ph.pacer.inhale_fraction if ph.pacer else 0.4 for ph in script.phases]
        )
        paced_bpm = paced_bpm_by_phase[index]
        paced_cycles = (script_t - starts[index]) * paced_bpm / 60.0
        inputs = BlockInputs(
            t_s=t_s,
            arousal_target=arousal,
            talking=talking,
            paced_cycles=paced_cycles,
            paced_bpm=paced_bpm,
            inhale_fraction=inhale_by_phase[index],
            partner_drive=leader_drive,
            coupling_strength=self.coupling.strength if self.coupling else 0.0,
        )
        return inputs, index.astype(np.int64)


def resting_beats(profile: PersonProfile, *, seed: int = 0) -> Iterator[SimBeat]:
    """One person sitting quietly, for ever (a single strap: virtual straps, benchmarks)."""
    rest = SessionScript((Phase("rest", 600.0, PersonPhase(), PersonPhase()),))
    return DyadSimulator(rest, therapist=profile, seed=seed, loop=True).beats(Role.THERAPIST)
