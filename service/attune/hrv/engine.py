"""Per-participant HRV engine: causal artefact screen, rolling metrics, slow metrics, calm index.

Pure and incremental: it is fed beats and gaps (their times included) and never reads a clock,
so replay rebuilds its state exactly by feeding the same input again.

Per beat
    The causal L&T screen (``artefacts``) decides each beat two beats after it arrives; every
    decided beat comes out as a ``ScreenedBeat`` with its flag and a ``MetricsSnapshot``. The
    time-domain metrics of the trailing window (default 60 s, trustworthy from 30 s and 30
    beats: hrv-science.md §0) are kept as running sums over a ring buffer, so a beat costs a
    constant handful of float operations whatever the window. Flagged beats stay in the window
    (they count towards its artefact share) but out of the sums; a difference is summed only
    between two accepted beats with no gap between them.

Every ``slow_interval_s`` (5 s, the HeartMath cadence of §1.6)
    The 4 Hz spline series is extended (``resample.StreamingResampler``) and the slow metrics
    are recomputed: Welch over the trailing ``freq_window_s`` (300 s, 64 s segments with 50 %
    overlap, reported from 120 s: §1.3 window minima) for LF, HF, LF/HF, LFnu and the HF peak;
    the newest 64 s segment for the breathing hint and RSA amplitude (§1.5); the McCraty
    coherence over the last 64 s (§1.6); DFA alpha1 over the last 2 min and at least 120 beats
    (§1.4). The Baevsky stress index is recomputed every 30 s over 300 s (§3.1: slow).

Gaps
    A gap closes the decision window (pending beats are decided without their future). After a
    gap longer than ``reset_after_gap_s`` (10 s, §2.1 step 3) the screen's statistics and the
    spectral series restart; shorter gaps are interpolated over, and count against the spectral
    windows' gap share.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from attune.errors import ConfigError
from attune.hrv.artefacts import KIND_CODES, ArtefactKind, CausalScreen
from attune.hrv.calm import CalmBaseline, CalmConfig, CalmReading, CalmTracker
from attune.hrv.coherence import (
    NO_RESPIRATION,
    WINDOW_S,
    coherence_of,
    respiration,
    short_spectrum,
)
from attune.hrv.frozen import builder
from attune.hrv.nonlinear import baevsky, dfa_alpha1
from attune.hrv.quality import (
    COHERENCE_ARTEFACT_LIMIT,
    DFA_ARTEFACT_LIMIT,
    FREQUENCY_ARTEFACT_LIMIT,
    HF_MIN_HR_BPM,
    STRESS_ARTEFACT_LIMIT,
    TIME_DOMAIN_ARTEFACT_LIMIT,
    Gate,
    QualityGates,
    gate,
)
from attune.hrv.resample import RESAMPLE_HZ, StreamingResampler
from attune.hrv.spectral import SEGMENT_S, FrequencyDomain, WelchCache, bands
from attune.hrv.time_domain import NN50_MS
from attune.sensor.timeline import RR_MIN_MS, Beat, Gap

FloatArray = npt.NDArray[np.float64]

# The spline series is final ``right_knots`` (6) beats behind the newest knot: about 8 s at
# 45 bpm. A Welch segment is looked for that long after it ends (and retried on each slow
# update until it is final).
FINALISE_S = 8.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Windows and cadences; defaults from hrv-science.md (§0 table, §1.3-§1.6, §2.3, §3)."""

    window_s: float = 60.0
    min_window_s: float = 30.0
    min_beats: int = 30
    freq_window_s: float = 300.0
    freq_min_window_s: float = 120.0
    slow_interval_s: float = 5.0
    dfa_window_s: float = 120.0
    dfa_min_beats: int = 120
    stress_window_s: float = 300.0
    stress_min_window_s: float = 120.0
    stress_interval_s: float = 30.0
    reset_after_gap_s: float = 10.0
    calm: CalmConfig = field(default_factory=CalmConfig)

    def __post_init__(self) -> None:
        if not 0 < self.min_window_s <= self.window_s:
            raise ConfigError("need 0 < min_window_s <= window_s")
        if not SEGMENT_S <= self.freq_min_window_s <= self.freq_window_s:
            raise ConfigError(f"need {SEGMENT_S} s <= freq_min_window_s <= freq_window_s")
        if self.dfa_min_beats <= 16:  # noqa: PLR2004 - the largest DFA alpha1 scale
            raise ConfigError("DFA alpha1 needs more than 16 beats (scales 4-16)")
        if self.slow_interval_s <= 0 or self.stress_interval_s <= 0:
            raise ConfigError("update intervals must be positive")

    @property
    def longest_window_s(self) -> float:
        return max(self.window_s, self.freq_window_s, self.dfa_window_s, self.stress_window_s)


@dataclass(frozen=True, slots=True)
class SlowMetrics:
    """Metrics recomputed on their own cadence; None until their window is long enough."""

    t_s: float | None = None  # when they were computed
    freq_window_s: float = 0.0
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    lf_hf: float | None = None
    lf_nu: float | None = None
    hf_peak_hz: float | None = None
    coherence_ratio: float | None = None
    coherence_peak_fraction: float | None = None
    coherence_peak_hz: float | None = None
    breathing_rate_per_min: float | None = None
    breathing_confidence: float = 0.0
    rsa_amplitude_ms: float | None = None
    dfa_alpha1: float | None = None
    stress_index: float | None = None
    frequency_gate: Gate = Gate.WARMING_UP
    coherence_gate: Gate = Gate.WARMING_UP
    dfa_gate: Gate = Gate.WARMING_UP
    stress_gate: Gate = Gate.WARMING_UP


NO_SLOW_METRICS = SlowMetrics()


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Metrics after one decided beat.

    ``provisional`` is True while the time-domain window holds less than ``min_window_s`` of
    screened beats or fewer than ``min_beats`` of them (warming up); ``quality`` says, per metric
    group, whether the values can be trusted (``attune.hrv.quality``).
    """

    t_s: float
    hr_bpm: float | None
    rmssd_ms: float | None
    n_beats: int
    window_s: float
    provisional: bool
    mean_nn_ms: float | None
    sdnn_ms: float | None
    ln_rmssd: float | None
    pnn50_pct: float | None
    sd1_ms: float | None
    sd2_ms: float | None
    n_artefacts: int
    artefact_pct: float
    slow: SlowMetrics
    quality: QualityGates


@dataclass(frozen=True, slots=True)
class ScreenedBeat:
    """A beat with its artefact verdict (None: normal) and the metrics once it counted."""

    beat: Beat
    artefact: ArtefactKind | None
    metrics: MetricsSnapshot


EngineOutput = ScreenedBeat | CalmReading

# Fast constructors for the outputs made on every beat or slow update (``frozen``).
_snapshot_of = builder(MetricsSnapshot)
_screened_of = builder(ScreenedBeat)
_slow_of = builder(SlowMetrics)
_gates_of = builder(QualityGates)
# Enum members read on every beat, bound once: in Python 3.11 ``Gate.OK`` goes through
# ``EnumType.__getattr__``'s hook, several times the cost of a global.
_OK, _WARMING_UP, _ARTEFACTS = Gate.OK, Gate.WARMING_UP, Gate.ARTEFACTS


def _ring_capacity(config: EngineConfig) -> int:
    """Power of two holding the longest window at the shortest in-range interval."""
    beats = math.ceil(config.longest_window_s * 1000.0 / RR_MIN_MS) + 8
    return 1 << (beats - 1).bit_length()


class ParticipantEngine:
    """The HRV engine of one participant (see the module doc)."""

    def __init__(
        self, config: EngineConfig | None = None, baseline: CalmBaseline | None = None
    ) -> None:
        self.config = config or EngineConfig()
        self._screen = CausalScreen()
        self._pending: deque[Beat] = deque()
        capacity = _ring_capacity(self.config)
        self._mask = capacity - 1
        # Rings in ``array.array``: the per-beat path reads and writes single items, which
        # costs a fraction of numpy's scalar indexing; the slow metrics see the same memory
        # through numpy views made when needed (held views would cost 1 KiB an engine).
        self._t = array("d", [0.0]) * capacity
        self._rr = array("d", [0.0]) * capacity
        self._code = array("b", [0]) * capacity
        self._pair = array("b", [0]) * capacity
        self._flags_through = array("i", [0]) * capacity  # flagged beats up to a seq
        self._flag_total = 0
        self._seq = 0  # decided beats so far
        self._run_start = 0  # seq of the first beat after the last long gap
        self._run_start_s = math.nan  # when that beat's interval began
        self._ref_ms = 0.0  # shift of the running sums, for their numerical accuracy
        self._first = 0  # seq of the oldest beat in the time-domain window
        self._n_all = self._n_flag = self._n_nn = self._n_pair = self._nn50 = 0
        self._span_ms = self._sx = self._sxx = 0.0
        self._sd = self._sdd = self._sp = self._spp = 0.0
        self._fast_first = self._fast_n = 0  # the calm index's short HR window
        self._fast_sum_ms = 0.0
        # The 4 Hz series is only held until the Welch cache has transformed it: the segment
        # being filled, the one before it (50 % overlap) and the finalisation margin.
        self._resampler = StreamingResampler(3 * SEGMENT_S)
        segments = math.ceil(2 * self.config.freq_window_s / SEGMENT_S) - 1  # 50 % overlap
        self._welch = WelchCache(int(SEGMENT_S * RESAMPLE_HZ), RESAMPLE_HZ, segments)
        self._gaps: deque[tuple[float, float]] = deque()
        self._slow = NO_SLOW_METRICS
        self._freq: tuple[FrequencyDomain, float, float] | None = None
        self._next_slow_s = -math.inf
        self._next_resample_s = -math.inf
        self._next_stress_s = -math.inf
        self._stress: float | None = None
        self._stress_gate = Gate.WARMING_UP
        self._quality = QualityGates(*(Gate.WARMING_UP,) * 5)
        self._calm = CalmTracker(self.config.calm, baseline)

    @property
    def calm_baseline(self) -> CalmBaseline | None:
        """The baseline in use: passed in, or learnt in this session once ready (to store)."""
        return self._calm.baseline

    # --- input ----------------------------------------------------------------------------

    def add_beat(self, beat: Beat) -> list[EngineOutput]:
        """One beat from the timeline; returns what became final (normally the beat two back)."""
        out: list[EngineOutput] = []
        if beat.after_gap and self._pending:
            out += self._decided(self._screen.flush())
        self._pending.append(beat)
        out += self._decided(self._screen.push(beat.rr_ms, contiguous=not beat.after_gap))
        return out

    def add_gap(self, gap: Gap) -> list[EngineOutput]:
        """A closed gap: decide what is pending; restart the statistics after a long one."""
        out = self._decided(self._screen.flush())
        if gap.end_s - gap.start_s > self.config.reset_after_gap_s:
            self._screen.reset()
            self._resampler.reset()
            self._welch.reset()
            self._gaps.clear()
            self._run_start = self._seq
            self._slow = NO_SLOW_METRICS
            self._freq = None
            self._stress, self._stress_gate = None, Gate.WARMING_UP
            self._next_slow_s = self._next_resample_s = self._next_stress_s = -math.inf
        else:
            self._gaps.append((gap.start_s, gap.end_s))
        return out

    def flush(self) -> list[EngineOutput]:
        """Decide the pending beats now (the end of a recording)."""
        return self._decided(self._screen.flush())

    def signal_lost(self, t_s: float) -> list[EngineOutput]:
        """Contact or link lost at ``t_s``: decide what is pending and freeze the calm meter."""
        out = self._decided(self._screen.flush())
        out.append(self._calm.freeze(t_s))
        return out

    # --- per decided beat -----------------------------------------------------------------

    def _decided(self, verdicts: list[ArtefactKind | None]) -> list[EngineOutput]:
        out: list[EngineOutput] = []
        for verdict in verdicts:
            beat = self._pending.popleft()
            snapshot = self._count(beat, KIND_CODES[verdict])
            out.append(_screened_of(beat, verdict, snapshot))
            fast_hr = 60000.0 * self._fast_n / self._fast_sum_ms if self._fast_n else None
            reading = self._calm.update(
                beat.t_s,
                fast_hr,
                snapshot.ln_rmssd,
                usable=snapshot.quality.time_domain is _OK,
                artefact_share=snapshot.artefact_pct / 100.0,
                coverage=(self._n_nn * self._ref_ms + self._sx) / 1000.0 / self.config.window_s,
            )
            if reading is not None:
                out.append(reading)
        return out

    def _count(self, beat: Beat, code: int) -> MetricsSnapshot:
        seq, mask = self._seq, self._mask
        t_s, rr = beat.t_s, beat.rr_ms
        if seq == 0:
            self._ref_ms = rr
        if seq == self._run_start:
            self._run_start_s = t_s - rr / 1000.0
        prev = (seq - 1) & mask
        accepted = code == 0
        pair = accepted and not beat.after_gap and seq > self._first and self._code[prev] == 0
        i = seq & mask
        self._flag_total += not accepted
        self._t[i], self._rr[i], self._code[i], self._pair[i] = t_s, rr, code, pair
        self._flags_through[i] = self._flag_total
        self._seq = seq + 1
        self._n_all += 1
        self._span_ms += rr
        if accepted:
            x = rr - self._ref_ms
            self._n_nn += 1
            self._sx += x
            self._sxx += x * x
            self._fast_n += 1
            self._fast_sum_ms += rr
            self._resampler.add_knot(t_s, rr)
        else:
            self._n_flag += 1
        if pair:
            self._add_pair(rr, self._rr[prev], 1)
        self._evict(t_s - self.config.window_s)
        self._evict_fast(t_s - self.config.calm.hr_window_s)
        if t_s >= self._next_slow_s:
            self._update_slow(t_s)
        return self._snapshot(t_s)

    def _add_pair(self, rr: float, prev_rr: float, sign: int) -> None:
        d = rr - prev_rr
        p = rr + prev_rr - 2 * self._ref_ms
        self._n_pair += sign
        self._sd += sign * d
        self._sdd += sign * d * d
        self._sp += sign * p
        self._spp += sign * p * p
        if abs(d) > NN50_MS:
            self._nn50 += sign

    def _evict(self, horizon_s: float) -> None:
        """Drop beats whose interval started before the window (the window holds every
        interval that started within ``window_s`` of the newest beat)."""
        mask, t, rr = self._mask, self._t, self._rr
        while self._first < self._seq - 1:
            j = self._first & mask
            rr_j = rr[j]
            if t[j] - rr_j / 1000.0 >= horizon_s:
                return
            self._n_all -= 1
            self._span_ms -= rr_j
            if self._code[j] == 0:
                x = rr_j - self._ref_ms
                self._n_nn -= 1
                self._sx -= x
                self._sxx -= x * x
            else:
                self._n_flag -= 1
            k = (self._first + 1) & mask
            if self._pair[k]:
                self._pair[k] = False
                self._add_pair(rr[k], rr_j, -1)
            self._first += 1

    def _evict_fast(self, horizon_s: float) -> None:
        """The calm index's short heart-rate window (``CalmConfig.hr_window_s``)."""
        mask, t, rr = self._mask, self._t, self._rr
        while self._fast_first < self._seq - 1:
            j = self._fast_first & mask
            rr_j = rr[j]
            if t[j] - rr_j / 1000.0 >= horizon_s:
                return
            if self._code[j] == 0:
                self._fast_n -= 1
                self._fast_sum_ms -= rr_j
            self._fast_first += 1

    def _snapshot(self, t_s: float) -> MetricsSnapshot:
        n, n_pair, config = self._n_nn, self._n_pair, self.config
        mean_nn = self._ref_ms + self._sx / n if n else None
        # Running-sum variances, floored at 0 against rounding (conditionals: cheaper than max()).
        sdnn = sd1 = sd2 = None
        if n > 1:
            var = (self._sxx - self._sx * self._sx / n) / (n - 1)
            sdnn = math.sqrt(var if var > 0.0 else 0.0)  # noqa: FURB136
        rmssd = math.sqrt(self._sdd / n_pair) if n_pair else None
        if n_pair > 1:
            var = (self._sdd - self._sd * self._sd / n_pair) / (n_pair - 1) / 2
            sd1 = math.sqrt(var if var > 0.0 else 0.0)  # noqa: FURB136
            var = (self._spp - self._sp * self._sp / n_pair) / (n_pair - 1) / 2
            sd2 = math.sqrt(var if var > 0.0 else 0.0)  # noqa: FURB136
        nn_span_s = (n * self._ref_ms + self._sx) / 1000.0
        warm = n >= config.min_beats and nn_span_s >= config.min_window_s
        share = self._n_flag / self._n_all
        if not warm:
            td_gate = _WARMING_UP
        else:
            td_gate = _ARTEFACTS if share > TIME_DOMAIN_ARTEFACT_LIMIT else _OK
        quality = self._quality
        if quality.time_domain is not td_gate:
            quality = self._quality = _gates_of(
                td_gate, quality.frequency, quality.coherence, quality.dfa, quality.stress
            )
        return _snapshot_of(
            t_s,
            60000.0 / mean_nn if mean_nn else None,  # hr_bpm
            rmssd,
            self._n_all,  # n_beats
            self._span_ms / 1000.0,  # window_s
            not warm,  # provisional
            mean_nn,
            sdnn,
            math.log(rmssd) if rmssd else None,  # ln_rmssd
            100.0 * self._nn50 / n_pair if n_pair else None,  # pnn50_pct
            sd1,
            sd2,
            self._n_flag,  # n_artefacts
            100.0 * share,  # artefact_pct
            self._slow,
            quality,
        )

    # --- slow metrics ---------------------------------------------------------------------

    def _first_after(self, start_s: float) -> int:
        """Seq of the first held beat of the current run that ends after ``start_s``."""
        lo, hi = max(self._run_start, self._seq - self._mask), self._seq
        t, mask = self._t, self._mask
        while lo < hi:
            mid = (lo + hi) // 2
            if t[mid & mask] > start_s:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _share(self, first: int) -> float:
        """Share of flagged beats from seq ``first`` to the newest."""
        n = self._seq - first
        if n <= 0:
            return 0.0
        before = self._flags_through[(first - 1) & self._mask] if first > 0 else 0
        return (self._flag_total - before) / n

    def _held(self, first: int) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """Times, intervals and acceptance of the beats from seq ``first`` to the newest."""
        idx = np.arange(first, self._seq) & self._mask
        t, rr = np.frombuffer(self._t), np.frombuffer(self._rr)
        return t[idx], rr[idx], np.frombuffer(self._code, dtype=np.int8)[idx] == 0

    def _gap_share(self, start_s: float, end_s: float) -> float:
        covered = sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self._gaps)
        return covered / (end_s - start_s)

    def _update_slow(self, t_s: float) -> None:
        config = self.config
        interval = config.slow_interval_s
        self._next_slow_s = (math.floor(t_s / interval) + 1) * interval
        horizon = t_s - config.longest_window_s
        while self._gaps and self._gaps[0][1] < horizon:
            self._gaps.popleft()
        hr_bpm = 60000.0 / (self._ref_ms + self._sx / self._n_nn) if self._n_nn else 0.0

        # LF/HF from the cached Welch segments of the trailing window (``WelchCache``): the
        # spline series is only extended when the next segment can be complete.
        if t_s >= self._next_resample_s:
            self._resampler.update()
            if self._welch.update(self._resampler):
                since_k = self._resampler.final_k - round(config.freq_window_s * RESAMPLE_HZ)
                estimate = self._welch.estimate(since_k)
                self._freq = None
                if estimate is not None and estimate[3] - estimate[2] >= config.freq_min_window_s:
                    freqs, psd, start_s, end_s = estimate
                    self._freq = (bands(freqs, psd, end_s - start_s), start_s, end_s)
            next_end = self._welch.next_end_s(self._resampler)
            self._next_resample_s = t_s if next_end is None else next_end + FINALISE_S
        freq = self._freq[0] if self._freq else None
        freq_gate = Gate.WARMING_UP
        if self._freq is not None:
            _, start_s, end_s = self._freq
            freq_gate = gate(
                ready=True,
                artefact_share=self._share(self._first_after(start_s)),
                limit=FREQUENCY_ARTEFACT_LIMIT,
                gap_share=self._gap_share(start_s, end_s),
            )
            if freq_gate is Gate.OK and hr_bpm < HF_MIN_HR_BPM:
                freq_gate = Gate.LOW_HR

        # The beats for DFA (2 min, at least 120 screened) and the 64 s spectrum.
        floor = max(self._run_start, self._seq - self._mask)
        recent = self._first_after(t_s - max(config.dfa_window_s, WINDOW_S + 3.0))
        t, rr, ok = self._held(max(floor, min(recent, self._seq - 2 * config.dfa_min_beats)))
        accepted = np.flatnonzero(ok)
        knots_t, nn = t[accepted], rr[accepted]

        density = short_spectrum(knots_t, nn, t_s)
        coh = coherence_of(density) if density is not None else None
        breath = NO_RESPIRATION
        if density is not None:
            breath = respiration(knots_t, nn, t_s, density, hr_bpm)
        coh_gate = gate(
            ready=coh is not None,
            artefact_share=self._share(self._first_after(t_s - WINDOW_S)),
            limit=COHERENCE_ARTEFACT_LIMIT,
            gap_share=self._gap_share(t_s - WINDOW_S, t_s),
        )

        in_window = nn.size - int(np.searchsorted(knots_t, t_s - config.dfa_window_s, "right"))
        n_dfa = max(in_window, config.dfa_min_beats)
        long_enough = t_s - self._run_start_s >= config.dfa_window_s
        alpha1 = dfa_alpha1(nn[-n_dfa:]) if long_enough and nn.size >= n_dfa else None
        dfa_share = 0.0
        if alpha1 is not None:
            dfa_share = self._share(self._seq - (t.size - int(accepted[-n_dfa])))
        dfa_gate = gate(
            ready=alpha1 is not None, artefact_share=dfa_share, limit=DFA_ARTEFACT_LIMIT
        )

        if t_s >= self._next_stress_s:
            self._update_stress(t_s)

        self._slow = _slow_of(
            t_s=t_s,
            freq_window_s=freq.window_s if freq else 0.0,
            lf_ms2=freq.lf_ms2 if freq else None,
            hf_ms2=freq.hf_ms2 if freq else None,
            lf_hf=freq.lf_hf if freq else None,
            lf_nu=freq.lf_nu if freq else None,
            hf_peak_hz=freq.hf_peak_hz if freq else None,
            coherence_ratio=coh.ratio if coh else None,
            coherence_peak_fraction=coh.peak_fraction if coh else None,
            coherence_peak_hz=coh.peak_hz if coh else None,
            breathing_rate_per_min=breath.rate_per_min,
            breathing_confidence=breath.confidence,
            rsa_amplitude_ms=breath.rsa_amplitude_ms,
            dfa_alpha1=alpha1,
            stress_index=self._stress,
            frequency_gate=freq_gate,
            coherence_gate=coh_gate,
            dfa_gate=dfa_gate,
            stress_gate=self._stress_gate,
        )
        self._quality = _gates_of(
            self._quality.time_domain, freq_gate, coh_gate, dfa_gate, self._stress_gate
        )

    def _update_stress(self, t_s: float) -> None:
        """Baevsky SI over the trailing ``stress_window_s``, on its slower cadence."""
        config = self.config
        step = config.stress_interval_s
        self._next_stress_s = (math.floor(t_s / step) + 1) * step
        first = self._first_after(t_s - config.stress_window_s)
        _, rr, ok = self._held(first)
        ready = float(rr.sum()) / 1000.0 >= config.stress_min_window_s
        index = baevsky(rr[ok]) if ready else None
        self._stress = index.stress_index if index else None
        self._stress_gate = gate(
            ready=index is not None, artefact_share=self._share(first), limit=STRESS_ARTEFACT_LIMIT
        )
