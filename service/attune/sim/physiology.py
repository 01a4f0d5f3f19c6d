"""One person's heart, stepped on a 10 Hz grid in blocks, emitting beats.

The instantaneous heart period m(t) (ms) is

    m = 60000 / (hr_bpm + arousal_hr_bpm * a + drive_bpm * d)
        + v(a) * (depth * |G(f_b)| * cos(theta + arg G(f_b)) + baro(t))

with a the (smoothed) arousal, d the slow autonomic drive (unit-variance Ornstein-Uhlenbeck,
optionally mixed with a partner's drive: that is how one person follows another), v the vagal
factor 1 - arousal_vagal_drop * a, G the RSA gain of ``PersonProfile.rsa_gain`` at the breathing
frequency f_b, theta the breathing phase (0 = start of inhale) and baro a narrow-band baroreflex
wave (a sine whose phase diffuses). RR = m at the breathing peak of inhale is shortest, so HR
peaks at the end of inhale, in phase with lung volume at resonance (Vaschillo et al. 2002).

Beats come from integral pulse frequency modulation: a beat fires when the integral of 1/m
reaches a threshold 1 + eps with eps ~ N(0, noise/m), which gives independent beat-to-beat
noise of about ``noise_ms`` (the vagal part of RMSSD). An ectopic beat fires early (55-75 % of
the interval) and the next sinus beat is the one after, so the two intervals sum to two normal
ones: the full compensatory pause of a ventricular premature beat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from attune.sim.profile import PersonProfile

FloatArray = npt.NDArray[np.float64]

DT_S = 0.1
AROUSAL_TAU_S = 25.0
BREATH_JITTER_BPM = 1.0
BREATH_JITTER_TAU_S = 20.0
TALK_JITTER_BPM = 3.0
TALK_JITTER_TAU_S = 4.0
TALK_DRIVE_GAIN = 1.5
AROUSAL_BREATH_BPM = 6.0
PACED_DEPTH = 1.3
# Phase diffusion of the baroreflex wave (rad / sqrt(s)): a line width of about 0.01 Hz, so
# the wave is narrow-band noise, not a tone two strangers could share by accident.
BARO_PHASE_DIFFUSION = 0.35


@dataclass(frozen=True, slots=True)
class SimBeat:
    """One simulated RR interval ending at ``t_s`` (simulation time)."""

    t_s: float
    rr_ms: float
    ectopic: bool = False


@dataclass(frozen=True, slots=True)
class BlockInputs:
    """What the script asks of one person over one block of grid samples."""

    t_s: FloatArray  # sample times
    arousal_target: FloatArray
    talking: npt.NDArray[np.bool_]
    paced_cycles: FloatArray  # pacer cycles since its start (NaN when breathing spontaneously)
    paced_bpm: FloatArray  # NaN when breathing spontaneously
    inhale_fraction: FloatArray
    partner_drive: FloatArray | None = None  # the leader's drive, already delayed
    coupling_strength: float = 0.0


@dataclass(frozen=True, slots=True)
class BlockOutput:
    drive: FloatArray  # this person's drive d (what a follower follows)
    arousal: FloatArray
    breaths_per_min: FloatArray
    beats: tuple[SimBeat, ...]


def ar1(y0: float, alpha: float, inputs: FloatArray) -> FloatArray:
    """y_n = alpha * y_(n-1) + inputs_n, vectorised over a block (alpha**-n stays small for
    the block lengths and time constants used here)."""
    n = np.arange(1, inputs.size + 1)
    powers = alpha**n
    return powers * (y0 + np.cumsum(inputs / powers))


def _warp(cycle_fraction: FloatArray, inhale_fraction: FloatArray) -> FloatArray:
    """Breathing phase theta (0..2 pi) with the inhale taking ``inhale_fraction`` of a cycle."""
    inhale = cycle_fraction < inhale_fraction
    return np.where(
        inhale,
        math.pi * cycle_fraction / inhale_fraction,
        math.pi + math.pi * (cycle_fraction - inhale_fraction) / (1.0 - inhale_fraction),
    )


@dataclass(slots=True)
class PersonModel:
    """The state of one simulated heart between blocks."""

    profile: PersonProfile
    rng: np.random.Generator
    arousal: float = 0.2
    _own_drive: float = field(init=False)
    _breath_jitter: float = 0.0
    _breath_cycles: float = 0.0
    _baro_phase: float = field(init=False)
    _beat_phase: float = 0.0
    _threshold: float = 1.0
    _last_beat_s: float | None = None

    def __post_init__(self) -> None:
        self._own_drive = float(self.rng.normal())
        self._baro_phase = float(self.rng.uniform(0.0, 2.0 * math.pi))
        self._breath_cycles = float(self.rng.uniform())

    def step_block(self, inputs: BlockInputs) -> BlockOutput:
        """Advance over the block's samples and return what happened."""
        p, rng, n = self.profile, self.rng, inputs.t_s.size

        a_alpha = math.exp(-DT_S / AROUSAL_TAU_S)
        arousal = ar1(self.arousal, a_alpha, (1.0 - a_alpha) * inputs.arousal_target)
        self.arousal = float(arousal[-1])
        vagal = 1.0 - p.arousal_vagal_drop * arousal

        d_alpha = math.exp(-DT_S / p.drive_tau_s)
        innovations = math.sqrt(1.0 - d_alpha**2) * rng.standard_normal(n)
        own = ar1(self._own_drive, d_alpha, innovations)
        self._own_drive = float(own[-1])
        drive = own
        if inputs.partner_drive is not None:
            s = inputs.coupling_strength
            drive = math.sqrt(1.0 - s * s) * own + s * inputs.partner_drive
        drive_gain = np.where(inputs.talking, TALK_DRIVE_GAIN, 1.0)

        breaths_per_min, theta, depth = self._breathing(inputs, arousal)

        baro_steps = BARO_PHASE_DIFFUSION * math.sqrt(DT_S) * rng.standard_normal(n)
        baro_phase = self._baro_phase + np.cumsum(baro_steps)
        self._baro_phase = float(baro_phase[-1])
        baro = p.baroreflex_ms * np.sin(2.0 * math.pi * p.mayer_hz * inputs.t_s + baro_phase)

        gains = p.rsa_gain(breaths_per_min / 60.0)
        rsa = depth * np.abs(gains) * np.cos(theta + np.angle(gains))
        hr_bpm = p.hr_bpm + p.arousal_hr_bpm * arousal + p.drive_bpm * drive_gain * drive
        period_ms = 60000.0 / np.maximum(hr_bpm, 30.0) + vagal * (rsa + baro)
        noise_ms = p.noise_ms * vagal
        beats = self._beats(inputs.t_s, period_ms, noise_ms)
        return BlockOutput(drive, arousal, breaths_per_min, beats)

    def _breathing(
        self, inputs: BlockInputs, arousal: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        p, n = self.profile, inputs.t_s.size
        talking = inputs.talking
        alpha_rest = math.exp(-DT_S / BREATH_JITTER_TAU_S)
        alpha_talk = math.exp(-DT_S / TALK_JITTER_TAU_S)
        # One OU process whose time constant and spread follow speech: one sample at a time is
        # cheap enough at 10 Hz and keeps the process continuous across phase changes.
        jitter = np.empty(n)
        shocks = self.rng.standard_normal(n)
        j = self._breath_jitter
        for i in range(n):
            alpha, sd = (
                (alpha_talk, TALK_JITTER_BPM) if talking[i] else (alpha_rest, BREATH_JITTER_BPM)
            )
            j = alpha * j + sd * math.sqrt(1.0 - alpha * alpha) * shocks[i]
            jitter[i] = j
        self._breath_jitter = j
        spontaneous_bpm = np.clip(
            p.breaths_per_min + AROUSAL_BREATH_BPM * arousal + jitter, 4.0, 30.0
        )
        paced = ~np.isnan(inputs.paced_bpm)
        breaths_per_min = np.where(paced, inputs.paced_bpm, spontaneous_bpm)

        cycles = self._breath_cycles + np.cumsum(spontaneous_bpm / 60.0 * DT_S)
        cycles = np.where(paced, inputs.paced_cycles, cycles)
        # Spontaneous breathing carries on from wherever the pacer left off.
        self._breath_cycles = float(cycles[-1])
        fraction = np.mod(cycles, 1.0)
        inhale_fraction = np.where(paced, inputs.inhale_fraction, 0.4)
        theta = _warp(fraction, inhale_fraction)
        depth = np.where(paced, PACED_DEPTH, 1.0 - 0.3 * arousal)
        return breaths_per_min, theta, depth

    def _beats(
        self, t_s: FloatArray, period_ms: FloatArray, noise_ms: FloatArray
    ) -> tuple[SimBeat, ...]:
        # Integral pulse frequency modulation on the grid; crossing times interpolated.
        phase_end = self._beat_phase + np.cumsum(DT_S * 1000.0 / period_ms)
        phase_start = np.concatenate(([self._beat_phase], phase_end[:-1]))
        beats: list[SimBeat] = []
        i = int(np.searchsorted(phase_end, self._threshold))
        while i < t_s.size:
            frac = (self._threshold - phase_start[i]) / (phase_end[i] - phase_start[i])
            beat_s = float(t_s[i] - DT_S + frac * DT_S)
            self._emit(beat_s, beats)
            sd = float(noise_ms[i] / period_ms[i])
            self._threshold += 1.0 + float(self.rng.normal(0.0, sd))
            i = int(np.searchsorted(phase_end, self._threshold))
        self._beat_phase = float(phase_end[-1])
        # Keep the accumulated numbers small: shift both by the same whole number.
        shift = math.floor(self._beat_phase)
        self._beat_phase -= shift
        self._threshold -= shift
        return tuple(beats)

    def _emit(self, beat_s: float, beats: list[SimBeat]) -> None:
        last = self._last_beat_s
        self._last_beat_s = beat_s
        if last is None:
            return
        if self.rng.uniform() < self.profile.ectopic_per_beat:
            # A premature beat, after which the sinus beat due at beat_s falls in the
            # refractory period: the next interval runs on to the following sinus beat.
            early_s = last + float(self.rng.uniform(0.55, 0.75)) * (beat_s - last)
            beats.append(SimBeat(early_s, (early_s - last) * 1000.0, ectopic=True))
            self._last_beat_s = early_s
            return
        beats.append(SimBeat(beat_s, (beat_s - last) * 1000.0))
