"""Offline summaries: a whole recording, and its 5 minute segments for replay (Task Force 1996
short-term analysis; hrv-science.md §1.1).

Offline, replay and re-analysis screen artefacts with the centred (non-causal) L&T form
(``artefacts.screen_centred``); the live engine's causal flags are a separate set. Statistics
restart after gaps longer than ``LONG_GAP_S``, as live.

- time domain and Poincaré: ``time_domain`` over the accepted intervals, no difference spanning
  a flagged beat or a gap;
- frequency domain: the spec Welch with one segment over each run between long gaps (the
  reference's "fullwindow"); runs shorter than ``MIN_SPECTRAL_RUN_S`` are left out and, when a
  recording has several runs, band powers are their duration-weighted mean;
- DFA alpha1 (4-16 beats) and the Baevsky stress index over all accepted intervals.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from attune.hrv.artefacts import ArtefactKind, screen_centred
from attune.hrv.nonlinear import baevsky, dfa_alpha1
from attune.hrv.series import RrSeries
from attune.hrv.spectral import FrequencyDomain, frequency_domain
from attune.hrv.time_domain import TimeDomain, ln_or_none, time_domain

LONG_GAP_S = 10.0  # statistics restart after longer gaps (hrv-science.md §2.1 step 3)
MIN_SPECTRAL_RUN_S = 120.0  # LF needs about 2 min (hrv-science.md §1.1)
SEGMENT_S = 300.0  # Task Force short-term length


@dataclass(frozen=True, slots=True)
class ArtefactCounts:
    """Flagged intervals by kind."""

    ectopic: int
    missed: int
    extra: int
    long: int
    short: int

    @property
    def total(self) -> int:
        return self.ectopic + self.missed + self.extra + self.long + self.short


@dataclass(frozen=True, slots=True)
class Summary:
    """Metrics of one stretch of a recording."""

    start_s: float
    end_s: float
    n_beats: int
    n_gaps: int
    artefacts: ArtefactCounts
    time: TimeDomain
    frequency: FrequencyDomain | None
    dfa_alpha1: float | None
    stress_index: float | None

    @property
    def artefact_pct(self) -> float:
        return 100.0 * self.artefacts.total / self.n_beats if self.n_beats else 0.0


def screen(series: RrSeries) -> list[ArtefactKind | None]:
    """Centred L&T flags of a recording."""
    return screen_centred(series.rr_ms, series.after_gap, long_gap=series.gap_before_s > LONG_GAP_S)


def _frequency(series: RrSeries, accepted: np.ndarray) -> FrequencyDomain | None:
    """Band powers of the runs between long gaps, duration-weighted when there are several."""
    breaks = np.flatnonzero(series.gap_before_s > LONG_GAP_S)
    bounds = [0, *(int(b) for b in breaks), len(series)]
    runs = []
    for a, b in itertools.pairwise(bounds):
        ok = accepted[a:b]
        t, nn = series.t_s[a:b][ok], series.rr_ms[a:b][ok]
        if t.size >= 4 and t[-1] - t[0] >= MIN_SPECTRAL_RUN_S:  # noqa: PLR2004
            result = frequency_domain(t, nn)
            if result is not None:
                runs.append(result)
    if len(runs) <= 1:
        return runs[0] if runs else None
    weights = np.array([r.window_s for r in runs])
    vlf, lf, hf = (
        float(weights @ np.array([getattr(r, name) for r in runs])) / float(weights.sum())
        for name in ("vlf_ms2", "lf_ms2", "hf_ms2")
    )
    total = lf + hf
    return FrequencyDomain(
        window_s=float(weights.sum()),
        vlf_ms2=vlf,
        lf_ms2=lf,
        hf_ms2=hf,
        lf_hf=lf / hf if hf > 0 else None,
        lf_nu=100 * lf / total if total > 0 else None,
        hf_nu=100 * hf / total if total > 0 else None,
        ln_hf=ln_or_none(hf),
        hf_peak_hz=max(runs, key=lambda r: r.window_s).hf_peak_hz,
    )


def summarize(series: RrSeries, flags: list[ArtefactKind | None] | None = None) -> Summary:
    """Whole-series summary; ``flags`` default to the centred screen, pass all-None flags to
    analyse the series as it is."""
    kinds = screen(series) if flags is None else flags
    accepted = np.array([k is None for k in kinds], dtype=np.bool_)
    counts = ArtefactCounts(*(sum(k is kind for k in kinds) for kind in ArtefactKind))
    nn = series.rr_ms[accepted]
    index = baevsky(nn)
    n = len(series)
    return Summary(
        start_s=float(series.t_s[0] - series.rr_ms[0] / 1000.0) if n else 0.0,
        end_s=float(series.t_s[-1]) if n else 0.0,
        n_beats=n,
        n_gaps=int(np.count_nonzero(series.after_gap[1:])) if n else 0,
        artefacts=counts,
        time=time_domain(series.rr_ms, accepted, series.after_gap),
        frequency=_frequency(series, accepted),
        dfa_alpha1=dfa_alpha1(nn),
        stress_index=index.stress_index if index else None,
    )


def segment_summaries(series: RrSeries, segment_s: float = SEGMENT_S) -> list[Summary]:
    """Summaries of consecutive ``segment_s`` blocks of session time (block k holds the beats
    ending in [k, k+1) x segment_s), screened once over the whole recording; empty blocks are
    skipped."""
    flags = screen(series)
    block = np.floor(series.t_s / segment_s).astype(np.int64)
    out = []
    for k in np.unique(block):
        idx = np.flatnonzero(block == k)
        part = RrSeries(series.t_s[idx], series.rr_ms[idx], series.gap_before_s[idx].copy())
        part.gap_before_s[0] = 0.0  # the block's first difference is not taken anyway
        summary = summarize(part, [flags[i] for i in idx])
        out.append(
            Summary(
                start_s=float(k * segment_s),
                end_s=float((k + 1) * segment_s),
                n_beats=summary.n_beats,
                n_gaps=summary.n_gaps,
                artefacts=summary.artefacts,
                time=summary.time,
                frequency=summary.frequency,
                dfa_alpha1=summary.dfa_alpha1,
                stress_index=summary.stress_index,
            )
        )
    return out
