"""The calm index: 0-100, against the person's own baseline (hrv-science.md §3.2).

Formula (docs/hrv.md repeats it for users of the numbers):

1. Features, on screened beats: HR = 60000 / mean(NN) over the trailing ``hr_window_s``
   (10 s) and lnRMSSD = ln(RMSSD in ms) over the trailing 60 s time-domain window, counted
   only while that window's gate is "ok". §3.2 item 1 names a 60 s HR; we take HR over 10 s
   (two or three breaths, so RSA mostly averages out) because item 4 wants HR to be the fast
   cue, 10-20 s behind a change, and a 60 s mean alone would delay it by 30 s.
2. Baseline: median and scale of each feature, scale = 1.4826 * MAD (the robust SD), sampled
   once a second over the first ``baseline_s`` (default 180 s: the 3-5 min of quiet sitting of
   §3.2) of the session after the window first becomes usable, or a ``CalmBaseline`` stored
   from earlier sessions. The features are sampled once a second throughout (they come from a
   60 s window).
   Samples of overlapping 60 s windows are strongly correlated, so their MAD underestimates
   the spread between independent windows; floors on the scales (2 bpm, 0.1 ln units, i.e. a
   10 % RMSSD change) keep small fluctuations from reading as large swings.
3. Robust z-scores, each clipped to +-4: z_ln = (lnRMSSD - median) / scale,
   z_hr = (HR - median) / scale.
4. Composite: calm_z = 0.5 z_ln - 0.5 z_hr (vagal up and heart rate down are calm).
5. Smoothing: an EWMA in time over the once-a-second samples,
   calm_z_s += (1 - exp(-dt / tau)) (calm_z - calm_z_s), tau = 10 s
   (the 5-10 s of §3.2, at the slow end because the 60 s window already averages).
6. Display: calm = 100 / (1 + exp(-calm_z_s)), so the baseline reads 50, +-1 z reads 73/27 and
   +-2 z reads 88/12. Bands aroused / neutral / calm split at -0.5 and +0.5 z with a hysteresis
   of 0.25 z: a band is left only once calm_z_s is 0.25 z past the boundary.
7. Confidence 0-1 = (1 - artefact share / 10 %) x (the window's share of screened beats' time);
   0 when frozen.

Latency (§3.2 item 4): a 60 s window delays vagal changes by about 30 s; with the EWMA the
index moves within 10-20 s of an HR change and 30-45 s of an RMSSD change. The reading is
published at most once a second. When the signal is lost (contact, a gap) or the window fails
its gate, the meter freezes at its last value with confidence 0 (§2.3 "Quality gates").
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from attune.errors import DataError
from attune.hrv.frozen import builder

MAD_TO_SD = 1.4826  # consistent estimator of the SD for normal data
ARTEFACT_LIMIT = 0.10  # the time-domain gate (§2.3): above 10 % the window is not trusted


@dataclass(frozen=True, slots=True)
class CalmConfig:
    """Settings of the calm index; defaults from hrv-science.md §3.2 (see the module doc)."""

    baseline_s: float = 180.0
    hr_window_s: float = 10.0
    tau_s: float = 10.0
    band_z: float = 0.5
    hysteresis_z: float = 0.25
    z_clip: float = 4.0
    hr_scale_floor_bpm: float = 2.0
    ln_rmssd_scale_floor: float = 0.1
    emit_interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class CalmBaseline:
    """A person's resting reference: what the service stores and passes to later sessions."""

    hr_bpm: float
    hr_scale_bpm: float
    ln_rmssd: float
    ln_rmssd_scale: float
    n_samples: int

    def __post_init__(self) -> None:
        values = (self.hr_bpm, self.hr_scale_bpm, self.ln_rmssd, self.ln_rmssd_scale)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise DataError(f"calm baseline values must be finite numbers, got {values}")
        if not 20 <= self.hr_bpm <= 250:  # noqa: PLR2004 - beyond any resting heart
            raise DataError(f"calm baseline heart rate {self.hr_bpm} bpm is not plausible")
        if self.hr_scale_bpm <= 0 or self.ln_rmssd_scale <= 0:
            raise DataError("calm baseline scales must be positive")
        if not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise DataError(f"calm baseline needs at least one sample, got {self.n_samples}")

    @classmethod
    def from_samples(
        cls, hr_bpm: npt.ArrayLike, ln_rmssd: npt.ArrayLike, *, config: CalmConfig
    ) -> CalmBaseline:
        """Median and floored robust scale of once-a-second samples."""
        hr, ln = np.asarray(hr_bpm, dtype=np.float64), np.asarray(ln_rmssd, dtype=np.float64)
        hr_med, ln_med = float(np.median(hr)), float(np.median(ln))
        hr_mad = MAD_TO_SD * float(np.median(np.abs(hr - hr_med)))
        ln_mad = MAD_TO_SD * float(np.median(np.abs(ln - ln_med)))
        return cls(
            hr_bpm=hr_med,
            hr_scale_bpm=max(hr_mad, config.hr_scale_floor_bpm),
            ln_rmssd=ln_med,
            ln_rmssd_scale=max(ln_mad, config.ln_rmssd_scale_floor),
            n_samples=int(hr.size),
        )


class CalmBand(enum.StrEnum):
    AROUSED = "aroused"
    NEUTRAL = "neutral"
    CALM = "calm"


class CalmState(enum.StrEnum):
    LEARNING = "learning"  # collecting the session's baseline
    WARMING_UP = "warming_up"  # a baseline is known but there is no usable window yet
    LIVE = "live"
    FROZEN = "frozen"  # signal lost or the window failed its gate: last value held


@dataclass(frozen=True, slots=True)
class CalmReading:
    """One update of the calm meter."""

    t_s: float
    state: CalmState
    calm: float | None  # 0-100, None until the baseline is known
    band: CalmBand | None
    confidence: float  # 0-1
    baseline_progress: float  # 0-1, share of the baseline collected


_reading_of = builder(CalmReading)  # positional and fast (``attune.hrv.frozen``)
# Read about once a second per participant: bound once (in Python 3.11 an enum member lookup
# goes through ``EnumType.__getattr__``'s hook) and clamped without min()/max() (their
# generic call costs more than the arithmetic around them).
_LIVE = CalmState.LIVE
_CALM, _AROUSED, _NEUTRAL = CalmBand.CALM, CalmBand.AROUSED, CalmBand.NEUTRAL


def _clamp(value: float, lo: float, hi: float) -> float:
    """``min(hi, max(lo, value))`` for the finite values of the formula."""
    return lo if value < lo else hi if value > hi else value  # noqa: FURB136


@dataclass(slots=True)
class CalmTracker:
    """Turns per-beat features into calm readings.

    The features are sampled once per ``emit_interval_s`` (they come from a 60 s window and
    move slowly) and whenever their usability flips; each sample yields a reading, so the
    meter is published at most once a second and at once when it freezes or thaws.
    """

    config: CalmConfig = field(default_factory=CalmConfig)
    baseline: CalmBaseline | None = None
    _samples: npt.NDArray[np.float64] | None = None  # (2, n): HR and lnRMSSD while learning
    _n_samples: int = 0
    _learn_start_s: float | None = None
    _z: float | None = None
    _z_t_s: float = 0.0
    _band: CalmBand | None = None
    _usable: bool = False
    _next_s: float = -math.inf

    def update(
        self,
        t_s: float,
        hr_bpm: float | None,
        ln_rmssd: float | None,
        *,
        usable: bool,
        artefact_share: float,
        coverage: float,
    ) -> CalmReading | None:
        """Feed one beat's features; returns a reading when one is due."""
        usable = usable and hr_bpm is not None and ln_rmssd is not None
        if usable is self._usable and t_s < self._next_s:
            return None
        self._usable = usable
        interval = self.config.emit_interval_s
        self._next_s = (math.floor(t_s / interval) + 1) * interval  # one per second of time
        if not usable or hr_bpm is None or ln_rmssd is None:
            return self._reading(t_s, self._held_state(), 0.0)
        if self.baseline is None:
            self._learn(t_s, hr_bpm, ln_rmssd)
            if self.baseline is None:
                return self._reading(t_s, CalmState.LEARNING, 0.0)
        self._smooth(t_s, self._composite(hr_bpm, ln_rmssd, self.baseline))
        quality = _clamp(1.0 - artefact_share / ARTEFACT_LIMIT, 0.0, math.inf) * _clamp(
            coverage, 0.0, 1.0
        )
        return self._reading(t_s, _LIVE, quality)

    def freeze(self, t_s: float) -> CalmReading:
        """The signal is lost: hold the last value, confidence 0."""
        self._usable = False
        return self._reading(t_s, self._held_state(), 0.0)

    def _held_state(self) -> CalmState:
        if self.baseline is None:
            return CalmState.LEARNING
        return CalmState.WARMING_UP if self._z is None else CalmState.FROZEN

    def _learn(self, t_s: float, hr_bpm: float, ln_rmssd: float) -> None:
        """Collect samples for ``baseline_s`` of usable signal, at most one per interval."""
        if self._samples is None:
            capacity = math.ceil(self.config.baseline_s / self.config.emit_interval_s) + 1
            self._samples = np.empty((2, capacity))
            self._learn_start_s = t_s
        if self._n_samples < self._samples.shape[1]:
            self._samples[:, self._n_samples] = hr_bpm, ln_rmssd
            self._n_samples += 1
        if self._progress(t_s) >= 1.0:
            samples = self._samples[:, : self._n_samples]
            self.baseline = CalmBaseline.from_samples(*samples, config=self.config)
            self._samples = None

    def _progress(self, t_s: float) -> float:
        if self.baseline is not None:
            return 1.0
        if self._learn_start_s is None:
            return 0.0
        return min(1.0, (t_s - self._learn_start_s) / self.config.baseline_s)

    def _composite(self, hr_bpm: float, ln_rmssd: float, b: CalmBaseline) -> float:
        clip = self.config.z_clip
        z_ln = _clamp((ln_rmssd - b.ln_rmssd) / b.ln_rmssd_scale, -clip, clip)
        z_hr = _clamp((hr_bpm - b.hr_bpm) / b.hr_scale_bpm, -clip, clip)
        return 0.5 * z_ln - 0.5 * z_hr

    def _smooth(self, t_s: float, z: float) -> None:
        if self._z is None:
            self._z = z
        else:
            weight = 1.0 - math.exp(-_clamp(t_s - self._z_t_s, 0.0, math.inf) / self.config.tau_s)
            self._z += weight * (z - self._z)
        self._z_t_s = t_s
        self._band = self._next_band(self._z)

    def _next_band(self, z: float) -> CalmBand:
        """Bands split at +-band_z; the current band is left, and a new one entered, only
        ``hysteresis_z`` past the boundary."""
        edge, margin, current = self.config.band_z, self.config.hysteresis_z, self._band
        if current is None:
            margin = 0.0
        calm_edge = edge - margin if current is _CALM else edge + margin
        aroused_edge = -edge + margin if current is _AROUSED else -edge - margin
        if z > calm_edge:
            return _CALM
        if z < aroused_edge:
            return _AROUSED
        return _NEUTRAL

    def _reading(self, t_s: float, state: CalmState, confidence: float) -> CalmReading:
        calm = None if self._z is None else 100.0 / (1.0 + math.exp(-self._z))
        return _reading_of(t_s, state, calm, self._band, confidence, self._progress(t_s))
