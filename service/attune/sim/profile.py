"""Stable traits of a simulated person, with the physiology each one stands for.

The heart-period model (see ``physiology.py``) follows the picture of Lehrer & Gevirtz (2014,
Front Psychol 5:756) and Vaschillo et al. (2002): a mean heart rate set by arousal and a slow
autonomic drive, respiratory sinus arrhythmia (RSA) whose amplitude peaks when breathing at the
baroreflex loop's resonance frequency (about 0.1 Hz, usually 4.5-7 breaths/min), a spontaneous
baroreflex (Mayer) wave near that frequency, and beat-to-beat vagal noise. Arousal raises HR and
withdraws vagal tone, so RSA, the baroreflex wave and beat noise (hence RMSSD) shrink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attune.errors import ConfigError

BAROREFLEX_HZ_RANGE = (0.03, 0.2)


@dataclass(frozen=True, slots=True)
class PersonProfile:
    """Traits of one simulated person; amplitudes are RR (heart period) amplitudes in ms.

    - ``hr_bpm``: heart rate at rest (arousal 0);
    - ``breaths_per_min``: spontaneous breathing rate at rest;
    - ``rsa_ms``: RSA amplitude from the direct vagal path at breathing depth 1 (falls off
      above about 0.2 Hz, like a low-pass);
    - ``resonance_bpm``, ``resonance_ms``, ``resonance_damping``: the baroreflex resonance:
      breathing at ``resonance_bpm`` adds ``resonance_ms`` of RSA in phase with breathing; the
      damping ratio sets how sharply it falls off at other rates;
    - ``baroreflex_ms``, ``baroreflex_hz``: the spontaneous baroreflex wave; its frequency
      defaults to the resonance frequency (the same loop produces both);
    - ``drive_bpm``, ``drive_tau_s``: slow autonomic HR fluctuations (what a partner can follow);
    - ``noise_ms``: beat-to-beat vagal noise (SD);
    - ``arousal_hr_bpm``, ``arousal_vagal_drop``: at full arousal HR rises by
      ``arousal_hr_bpm`` and vagal amplitudes keep only ``1 - arousal_vagal_drop``;
    - ``ectopic_per_beat``: probability of a premature beat with a compensatory pause.
    """

    hr_bpm: float = 68.0
    breaths_per_min: float = 13.0
    rsa_ms: float = 30.0
    resonance_bpm: float = 5.5
    resonance_ms: float = 70.0
    resonance_damping: float = 0.2
    baroreflex_ms: float = 12.0
    baroreflex_hz: float | None = None
    drive_bpm: float = 2.5
    drive_tau_s: float = 5.0
    noise_ms: float = 10.0
    arousal_hr_bpm: float = 22.0
    arousal_vagal_drop: float = 0.7
    ectopic_per_beat: float = 0.001

    def __post_init__(self) -> None:
        checks: tuple[tuple[str, float, float, float], ...] = (
            ("hr_bpm", self.hr_bpm, 35.0, 150.0),
            ("breaths_per_min", self.breaths_per_min, 3.0, 30.0),
            ("rsa_ms", self.rsa_ms, 0.0, 300.0),
            ("resonance_bpm", self.resonance_bpm, 3.0, 10.0),
            ("resonance_ms", self.resonance_ms, 0.0, 300.0),
            ("resonance_damping", self.resonance_damping, 0.05, 2.0),
            ("baroreflex_ms", self.baroreflex_ms, 0.0, 200.0),
            ("drive_bpm", self.drive_bpm, 0.0, 20.0),
            ("drive_tau_s", self.drive_tau_s, 0.5, 120.0),
            ("noise_ms", self.noise_ms, 0.0, 100.0),
            ("arousal_hr_bpm", self.arousal_hr_bpm, 0.0, 60.0),
            ("arousal_vagal_drop", self.arousal_vagal_drop, 0.0, 0.95),
            ("ectopic_per_beat", self.ectopic_per_beat, 0.0, 0.2),
        )
        for name, value, lo, hi in checks:
            if not (math.isfinite(value) and lo <= value <= hi):
                raise ConfigError(f"PersonProfile.{name} must be within {lo}-{hi}, got {value}")
        lo_hz, hi_hz = BAROREFLEX_HZ_RANGE
        if self.baroreflex_hz is not None and not lo_hz <= self.baroreflex_hz <= hi_hz:
            raise ConfigError(
                f"PersonProfile.baroreflex_hz must be within 0.03-0.2 Hz, got {self.baroreflex_hz}"
            )

    @property
    def resonance_hz(self) -> float:
        return self.resonance_bpm / 60.0

    @property
    def mayer_hz(self) -> float:
        """Frequency of the spontaneous baroreflex wave."""
        return self.baroreflex_hz if self.baroreflex_hz is not None else self.resonance_hz

    def rsa_gain(self, breath_hz: npt.ArrayLike) -> npt.NDArray[np.complex128]:
        """Complex RR response (ms per unit breathing depth) to breathing at ``breath_hz``.

        Direct vagal path: ``rsa_ms`` through a first-order low-pass at 0.2 Hz. Baroreflex
        resonance: a second-order band-pass centred on ``resonance_hz``, whose magnitude peaks
        (at 1) exactly there with zero phase, +90 deg below and -90 deg above. The sum peaks
        at the resonance rate because the band-pass's real part equals its squared magnitude.
        """
        f_hz = np.asarray(breath_hz, dtype=np.float64)
        x = f_hz / self.resonance_hz
        two_zeta_x = 2.0 * self.resonance_damping * x
        band_pass = 1j * two_zeta_x / (1.0 - x * x + 1j * two_zeta_x)
        low_pass = 1.0 / (1.0 + 1j * f_hz / 0.2)
        gain: npt.NDArray[np.complex128] = self.rsa_ms * low_pass + self.resonance_ms * band_pass
        return gain


# Two different people for the demo, the tests and the benchmarks. Dyads built from two copies
# of one profile breathe at the same rate and share a baroreflex frequency, which makes chance
# alignment (after a shared pacer, say) far likelier than between real people.
THERAPIST_PROFILE = PersonProfile(
    hr_bpm=64.0, breaths_per_min=11.0, rsa_ms=35.0, resonance_bpm=6.0, noise_ms=10.0
)
CLIENT_PROFILE = PersonProfile(
    hr_bpm=78.0, breaths_per_min=15.0, rsa_ms=25.0, resonance_bpm=5.0, noise_ms=8.0
)
