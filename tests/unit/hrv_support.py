"""Helpers for the HRV tests: beats from RR values, small seeded RR generators, artefact
injection and its scoring (the method of hrv-science.md §2.3)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from attune.hrv.calm import CalmReading
from attune.hrv.engine import ParticipantEngine, ScreenedBeat
from attune.sensor.timeline import Beat

# The real RR fixtures of tests/data/rr, by their key in reference_values.json.
SERIES = {
    "pyhrv_short": "pyhrv_nsrdb_short_5min_ms.txt",
    "pyhrv_long": "pyhrv_nsrdb_long_60min_ms.txt",
    "irurzun000_seg": "irurzun_000_seg5min_ms.txt",
    "aura_test": "aura_hrvanalysis_test_nn_intervals_ms.txt",
}


def beats_from(
    rr_ms: Sequence[float] | np.ndarray,
    *,
    t_s: Sequence[float] | np.ndarray | None = None,
    gap_before: Iterable[int] = (),
) -> list[Beat]:
    """Beats ending at the RR cumulative sum (or ``t_s``); index 0 and ``gap_before`` come
    after a gap."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    times = np.cumsum(rr) / 1000.0 if t_s is None else np.asarray(t_s, dtype=np.float64)
    gaps = set(gap_before)
    return [
        Beat(i, float(t), float(v), round(v * 1.024), float(t), i == 0 or i in gaps)
        for i, (t, v) in enumerate(zip(times, rr, strict=True))
    ]


@dataclass
class Run:
    """What an engine produced for a list of beats."""

    screened: list[ScreenedBeat]
    calm: list[CalmReading]


def run_engine(beats: Iterable[Beat], engine: ParticipantEngine | None = None) -> Run:
    """Feed every beat, then flush; split the outputs by kind."""
    engine = engine or ParticipantEngine()
    outputs = []
    for beat in beats:
        outputs += engine.add_beat(beat)
    outputs += engine.flush()
    return Run(
        [o for o in outputs if isinstance(o, ScreenedBeat)],
        [o for o in outputs if isinstance(o, CalmReading)],
    )


@dataclass(frozen=True)
class Phase:
    """A stretch of a simulated person: heart rate, breathing (RSA) and beat noise."""

    duration_s: float
    hr_bpm: float
    rsa_ms: float = 40.0
    breath_hz: float = 0.25
    noise_ms: float = 10.0


def simulate_rr(phases: Sequence[Phase], seed: int = 0, ramp_s: float = 15.0) -> np.ndarray:
    """RR intervals (ms) through consecutive phases, each reached over ``ramp_s`` (heart rate
    does not jump in one beat); each interval is drawn when the beat starts: mean period + RSA
    sinusoid + Gaussian noise (the picture of hrv-science.md §1.5)."""
    rng = np.random.default_rng(seed)
    rr: list[float] = []
    t = 0.0
    start = 0.0
    breath_phase = 0.0
    previous = phases[0]
    for phase in phases:
        end = start + phase.duration_s
        while t < end:
            w = min(1.0, (t - start) / ramp_s) if ramp_s > 0 else 1.0
            hr = previous.hr_bpm + w * (phase.hr_bpm - previous.hr_bpm)
            rsa = previous.rsa_ms + w * (phase.rsa_ms - previous.rsa_ms)
            noise = previous.noise_ms + w * (phase.noise_ms - previous.noise_ms)
            breath = previous.breath_hz + w * (phase.breath_hz - previous.breath_hz)
            value = 60000.0 / hr + rsa * math.sin(breath_phase) + float(rng.normal(0.0, noise))
            rr.append(value)
            breath_phase += 2 * math.pi * breath * value / 1000.0
            t += value / 1000.0
        start, previous = end, phase
    return np.array(rr)


def sine_rr(mean_ms: float, amplitude_ms: float, freq_hz: float, duration_s: float) -> np.ndarray:
    """RR values sampling A sin(2 pi f t) at the end of each interval (as the spec places them),
    so the resampled series is the sinusoid itself."""
    rr: list[float] = []
    t = 0.0
    while t < duration_s:
        # Solve rr = mean + A sin(2 pi f (t + rr)) by fixed-point iteration (it contracts).
        value = mean_ms
        for _ in range(50):
            value = mean_ms + amplitude_ms * math.sin(2 * math.pi * freq_hz * (t + value / 1000))
        rr.append(value)
        t += value / 1000.0
    return np.array(rr)


@dataclass(frozen=True)
class Injected:
    """A series with artefacts put in: each event's intervals in the new series, and kinds."""

    rr_ms: np.ndarray
    events: list[list[int]]
    kinds: list[str]


def inject(rr_ms: np.ndarray, every: int, seed: int, *, spacing: int = 10) -> Injected:
    """Put a missed, extra or ectopic beat (in turn) about every ``every`` intervals, at least
    ``spacing`` apart, away from the ends:

    - missed: two intervals merged into one (a beat not detected);
    - extra: one interval split at 30-70 % (a spurious beat);
    - ectopic: a beat 25-40 % premature with its compensatory pause.
    """
    rng = np.random.default_rng(seed)
    n = rr_ms.size
    slots = np.arange(20, n - 20, max(every, spacing))
    starts = set((slots + rng.integers(0, max(1, every - spacing), slots.size)).tolist())
    out: list[float] = []
    events: list[list[int]] = []
    kinds: list[str] = []
    i = 0
    k = 0
    while i < n:
        if i in starts and i + 1 < n:
            kind = ("missed", "extra", "ectopic")[k % 3]
            k += 1
            kinds.append(kind)
            if kind == "missed":
                out.append(rr_ms[i] + rr_ms[i + 1])
                events.append([len(out) - 1])
                i += 2
            elif kind == "extra":
                f = rng.uniform(0.3, 0.7)
                out += [rr_ms[i] * f, rr_ms[i] * (1 - f)]
                events.append([len(out) - 2, len(out) - 1])
                i += 1
            else:
                x = rng.uniform(0.25, 0.4)
                out += [rr_ms[i] * (1 - x), rr_ms[i + 1] + rr_ms[i] * x]
                events.append([len(out) - 2, len(out) - 1])
                i += 2
            continue
        out.append(float(rr_ms[i]))
        i += 1
    return Injected(np.array(out), events, kinds)


@dataclass(frozen=True)
class Score:
    sensitivity: float  # events with a flag within +-1 interval
    false_flag_pct: float  # flags not within +-1 interval of any event, per interval


def score(flags: Sequence[object], injected: Injected) -> Score:
    """Detection counted within +-1 interval, as in hrv-science.md §2.3."""
    flagged = np.array([f is not None for f in flags])
    near = np.zeros(flagged.size, dtype=bool)
    detected = 0
    for event in injected.events:
        lo, hi = max(0, min(event) - 1), min(flagged.size - 1, max(event) + 1)
        near[lo : hi + 1] = True
        detected += bool(flagged[lo : hi + 1].any())
    return Score(
        detected / len(injected.events), 100.0 * np.count_nonzero(flagged & ~near) / flagged.size
    )
