"""Feeding simulated sessions through the pure co-regulation rooms (tests and benchmarks).

``live_synchrony`` plays a recording's beats (in time order, with the script's pacer changes)
into ``LiveSynchrony``. ``cue_inputs`` turns a recording into the per-second participant
snapshots the cue policy takes, using ``StandInCalm``: a small calm index after hrv-science.md
§3.2 (robust z-scores of the trailing-60 s lnRMSSD and HR against the person's first minutes,
combined, squashed to 0-100, smoothed). It stands in for the HRV engine's calm index, which is
built on another branch; once merged, benchmarks and tests should take the engine's instead.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from attune.cues.model import ParticipantSnapshot
from attune.dyad.config import SynchronyConfig
from attune.dyad.live import LiveSynchrony
from attune.dyad.state import Role, SynchronyState
from attune.sim.physiology import SimBeat
from attune.sim.script import SessionScript
from attune.sim.session import DyadRecording

WINDOW_S = 60.0
BASELINE_S = (60.0, 180.0)
SMOOTHING_TAU_S = 10.0
MAD_TO_SD = 1.4826
# Floors on the baseline spread: two minutes of overlapping 60-s windows vary little, and a
# tiny spread would turn ordinary fluctuation into extreme z-scores.
MIN_SD_LN_RMSSD = 0.2
MIN_SD_HR_BPM = 4.0
MIN_BEATS = 30


def pacer_changes(script: SessionScript) -> list[tuple[float, float | None]]:
    """(time, breaths/min or None) at every phase start where the pacer changes."""
    changes: list[tuple[float, float | None]] = []
    for start_s, phase in zip(script.phase_starts_s, script.phases, strict=True):
        rate = phase.pacer.breaths_per_min if phase.pacer else None
        if not changes or changes[-1][1] != rate:
            changes.append((start_s, rate))
    return changes


def merged_beats(recording: DyadRecording) -> list[tuple[float, Role, SimBeat]]:
    """Both people's beats in time order."""
    beats = [(b.t_s, role, b) for role in Role for b in recording.beats[role]]
    return sorted(beats, key=lambda item: (item[0], item[1].value))


def live_synchrony(
    recording: DyadRecording, config: SynchronyConfig | None = None
) -> list[SynchronyState]:
    """Every state ``LiveSynchrony`` emits over the recording; ectopic beats are passed as
    unusable, as the engine's artefact screen would flag them."""
    live = LiveSynchrony(config or SynchronyConfig())
    changes = deque(pacer_changes(recording.script))
    states: list[SynchronyState] = []
    for t_s, role, beat in merged_beats(recording):
        while changes and changes[0][0] <= t_s:
            live.set_pacer(*changes.popleft())
        states += live.add_beat(role, t_s, beat.rr_ms, usable=not beat.ectopic)
    return states


@dataclass(slots=True)
class StandInCalm:
    """Calm index from beats (stand-in for the HRV engine's, see the module docstring)."""

    _beats: deque[tuple[float, float]] = field(default_factory=deque)
    _baseline: list[tuple[float, float]] = field(default_factory=list)
    _centre: tuple[float, float, float, float] | None = None
    _smoothed: float | None = None
    _last_t_s: float | None = None

    def add(self, t_s: float, rr_ms: float) -> ParticipantSnapshot | None:
        """Add a clean beat; the snapshot at ``t_s`` once there is a baseline."""
        self._beats.append((t_s, rr_ms))
        while self._beats[0][0] < t_s - WINDOW_S:
            self._beats.popleft()
        rr = np.array([r for _, r in self._beats])
        if rr.size < MIN_BEATS:
            return None
        hr_bpm = 60000.0 / float(rr.mean())
        ln_rmssd = math.log(float(np.sqrt(np.mean(np.diff(rr) ** 2))))
        if self._centre is None:
            if t_s >= BASELINE_S[0]:
                self._baseline.append((ln_rmssd, hr_bpm))
            if t_s < BASELINE_S[1]:
                return None
            ln, hr = np.array(self._baseline).T
            self._centre = (
                float(np.median(ln)),
                max(MAD_TO_SD * float(np.median(np.abs(ln - np.median(ln)))), MIN_SD_LN_RMSSD),
                float(np.median(hr)),
                max(MAD_TO_SD * float(np.median(np.abs(hr - np.median(hr)))), MIN_SD_HR_BPM),
            )
        ln_mid, ln_sd, hr_mid, hr_sd = self._centre
        calm_z = 0.5 * (ln_rmssd - ln_mid) / ln_sd - 0.5 * (hr_bpm - hr_mid) / hr_sd
        calm = 100.0 / (1.0 + math.exp(-calm_z))
        if self._smoothed is None or self._last_t_s is None:
            self._smoothed = calm
        else:
            alpha = 1.0 - math.exp(-(t_s - self._last_t_s) / SMOOTHING_TAU_S)
            self._smoothed += alpha * (calm - self._smoothed)
        self._last_t_s = t_s
        return ParticipantSnapshot(t_s, self._smoothed, 1.0, hr_bpm, ln_rmssd)


def cue_inputs(
    recording: DyadRecording, every_s: float = 1.0
) -> Iterator[tuple[float, dict[Role, ParticipantSnapshot | None]]]:
    """Each ``every_s``: the latest snapshot of each person (signal lost during the script's
    contact losses), computed from the recording's beats with ``StandInCalm``."""
    calm = {role: StandInCalm() for role in Role}
    latest: dict[Role, ParticipantSnapshot | None] = dict.fromkeys(Role)
    beats = deque(merged_beats(recording))
    script = recording.script
    t_s = every_s
    while t_s <= script.duration_s:
        while beats and beats[0][0] <= t_s:
            beat_t_s, role, beat = beats.popleft()
            if beat.ectopic or not script.contact_ok(role, beat_t_s):
                continue
            snap = calm[role].add(beat_t_s, beat.rr_ms)
            latest[role] = snap if snap is not None else latest[role]
        yield (
            t_s,
            {
                role: None
                if snap is None
                else ParticipantSnapshot(
                    snap.t_s,
                    snap.calm,
                    snap.calm_confidence,
                    snap.hr_bpm,
                    snap.ln_rmssd,
                    signal_ok=script.contact_ok(role, t_s),
                )
                for role, snap in latest.items()
            },
        )
        t_s += every_s
