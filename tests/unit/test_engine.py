"""The per-participant engine: causal screening with its 2-beat delay, the rolling time domain
on every beat, slow metrics on their cadence, quality gates, gaps, determinism, and its place
in the session pipeline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.errors import ConfigError
from attune.hrv.artefacts import ArtefactKind
from attune.hrv.calm import CalmBaseline, CalmReading, CalmState
from attune.hrv.engine import EngineConfig, ParticipantEngine, ScreenedBeat
from attune.hrv.quality import Gate
from attune.hrv.time_domain import time_domain
from attune.pipeline import BeatEvent, CalmEvent, MetricsEvent, QualityEvent, SessionPipeline
from attune.sensor.hrm import HeartRateMeasurement, encode_hrm
from attune.sensor.timeline import Beat, Gap, GapCause
from tests.conftest import load_rr_ms
from tests.unit.hrv_support import Phase, beats_from, run_engine, simulate_rr

CLEAN = simulate_rr([Phase(420, 70.0, rsa_ms=35.0, noise_ms=8.0)], seed=3)


def window_of(run: list[ScreenedBeat], k: int, window_s: float = 60.0) -> list[ScreenedBeat]:
    """The beats the k-th snapshot's window holds: intervals that started within window_s."""
    end = run[k].beat.t_s
    return [s for s in run[: k + 1] if s.beat.t_s - s.beat.rr_ms / 1000 >= end - window_s]


def test_every_snapshot_equals_the_definition_on_its_window() -> None:
    # Real Holter RR with the screen's own flags: the running sums must equal a from-scratch
    # computation (flagged beats out, no difference touching them) on every beat.
    run = run_engine(beats_from(load_rr_ms("pyhrv_nsrdb_long_60min_ms.txt")[:1500])).screened
    assert any(s.artefact is not None for s in run)
    for k in range(0, len(run), 7):
        window = window_of(run, k)
        rr = np.array([s.beat.rr_ms for s in window])
        accepted = np.array([s.artefact is None for s in window])
        gap = np.array([s.beat.after_gap for s in window])
        gap[0] = True  # the difference with the beat before the window is not in it
        expected = time_domain(rr, accepted, gap)
        m = run[k].metrics
        assert m.n_beats == len(window)
        assert m.n_artefacts == np.count_nonzero(~accepted)
        for got, want in (
            (m.mean_nn_ms, expected.mean_nn_ms),
            (m.sdnn_ms, expected.sdnn_ms),
            (m.rmssd_ms, expected.rmssd_ms),
            (m.pnn50_pct, expected.pnn50_pct),
            (m.sd1_ms, expected.sd1_ms),
            (m.sd2_ms, expected.sd2_ms),
        ):
            assert got == (None if want is None else pytest.approx(want, rel=1e-9, abs=1e-12))
        assert m.hr_bpm == pytest.approx(60000 / expected.mean_nn_ms, rel=1e-12)


def test_beats_come_out_two_beats_late_in_order() -> None:
    engine = ParticipantEngine()
    beats = beats_from(CLEAN[:10])
    seen: list[int] = []
    for i, beat in enumerate(beats):
        out = [o for o in engine.add_beat(beat) if isinstance(o, ScreenedBeat)]
        seen += [o.beat.index for o in out]
        assert len(seen) == max(0, i - 1)  # beat i decides beat i - 2
    seen += [o.beat.index for o in engine.flush() if isinstance(o, ScreenedBeat)]
    assert seen == list(range(10))


def test_a_missed_beat_is_flagged_and_left_out_of_the_differences() -> None:
    rr = CLEAN.copy()
    i = 200
    merged = np.concatenate((rr[:i], [rr[i] + rr[i + 1]], rr[i + 2 :]))
    run = run_engine(beats_from(merged)).screened
    assert run[i].artefact is ArtefactKind.MISSED
    assert sum(s.artefact is not None for s in run) == 1
    window = window_of(run, i + 5)
    rr_w = np.array([s.beat.rr_ms for s in window])
    ok = np.array([s.artefact is None for s in window])
    diffs = [rr_w[j] - rr_w[j - 1] for j in range(1, rr_w.size) if ok[j] and ok[j - 1]]
    assert run[i + 5].metrics.rmssd_ms == pytest.approx(np.sqrt(np.mean(np.square(diffs))))
    assert run[i + 5].metrics.n_artefacts == 1


def test_no_difference_spans_a_gap() -> None:
    rr_ms = np.array([800.0, 810, 790, 1200, 1210, 1190])
    run = run_engine(beats_from(rr_ms, gap_before={3}), ParticipantEngine()).screened
    expected = np.sqrt(np.mean(np.array([10, -20, 10, -20]) ** 2.0))
    assert run[-1].metrics.rmssd_ms == pytest.approx(expected)


def test_first_snapshot_has_hr_but_no_rmssd_and_is_provisional() -> None:
    first = run_engine(beats_from([1000.0])).screened[0].metrics
    assert first.hr_bpm == pytest.approx(60.0)
    assert first.rmssd_ms is None
    assert first.provisional
    assert first.quality.time_domain is Gate.WARMING_UP


def test_time_domain_gate_opens_after_30_s_and_closes_on_artefacts() -> None:
    run = run_engine(beats_from(CLEAN[:120])).screened
    opened = next(s for s in run if s.metrics.quality.time_domain is Gate.OK)
    assert opened.metrics.window_s >= 30.0
    assert opened.metrics.n_beats >= 30
    assert not opened.metrics.provisional
    # Every fifth beat out of range (hard range: flagged long) is 20 % of the window > 10 %.
    bad = CLEAN[:160].copy()
    bad[80::5] = 2500.0
    last = run_engine(beats_from(bad)).screened[-1].metrics
    assert last.artefact_pct > 10
    assert last.quality.time_domain is Gate.ARTEFACTS


def test_slow_metrics_arrive_on_their_cadence_and_windows() -> None:
    run = run_engine(beats_from(CLEAN)).screened
    by_time = {s.beat.t_s: s.metrics.slow for s in run}
    computed = sorted({slow.t_s for slow in by_time.values() if slow.t_s is not None})
    # Recomputed at the first beat of every 5 s block of session time.
    assert len({int(t // 5) for t in computed}) == len(computed)
    assert all(t - c < 5.0 for t, slow in by_time.items() if (c := slow.t_s) is not None)

    def first_time(predicate) -> float:
        return min(t for t, slow in by_time.items() if predicate(slow))

    assert first_time(lambda s: s.coherence_ratio is not None) >= 64.0
    assert first_time(lambda s: s.lf_ms2 is not None) >= 120.0
    assert first_time(lambda s: s.dfa_alpha1 is not None) >= 120.0
    end = run[-1].metrics
    assert end.slow.frequency_gate is Gate.OK
    assert end.slow.freq_window_s >= 120.0
    assert end.slow.dfa_gate is Gate.OK
    assert end.slow.stress_index is not None
    assert end.quality.coherence is end.slow.coherence_gate
    # The simulated breathing is 0.25 Hz: 15 breaths/min.
    assert end.slow.breathing_rate_per_min == pytest.approx(15.0, abs=0.5)


def test_a_long_gap_restarts_the_slow_metrics() -> None:
    engine = ParticipantEngine()
    first = run_engine(beats_from(CLEAN), engine)
    assert first.screened[-1].metrics.slow.lf_ms2 is not None
    t_end = first.screened[-1].beat.t_s
    engine.add_gap(Gap(t_end, t_end + 30.0, GapCause.CONTACT_LOST))
    after = beats_from(CLEAN[:20], t_s=t_end + 30.0 + np.cumsum(CLEAN[:20]) / 1000)
    run = run_engine(after, engine).screened
    assert run[0].beat.after_gap
    assert run[-1].metrics.slow.lf_ms2 is None
    assert run[-1].metrics.slow.frequency_gate is Gate.WARMING_UP
    assert run[-1].metrics.slow.coherence_ratio is None


def test_a_short_gap_counts_against_the_spectral_windows() -> None:
    engine = ParticipantEngine()
    run_engine(beats_from(CLEAN), engine)
    t_end = float(np.sum(CLEAN)) / 1000
    engine.add_gap(Gap(t_end, t_end + 8.0, GapCause.NO_RR))
    tail = CLEAN[:40]
    run = run_engine(beats_from(tail, t_s=t_end + 8.0 + np.cumsum(tail) / 1000), engine).screened
    assert run[-1].metrics.slow.coherence_gate is Gate.GAPS  # 8 s of a 64 s window
    assert run[-1].metrics.slow.lf_ms2 is not None  # interpolated over, not restarted


def test_a_replay_reproduces_every_output() -> None:
    beats = beats_from(load_rr_ms("pyhrv_nsrdb_short_5min_ms.txt"))
    first, second = run_engine(beats), run_engine(beats)
    assert first.screened == second.screened
    assert first.calm == second.calm


def test_config_that_cannot_work_is_refused() -> None:
    with pytest.raises(ConfigError):
        EngineConfig(min_window_s=90.0)
    with pytest.raises(ConfigError):
        EngineConfig(freq_min_window_s=30.0)
    with pytest.raises(ConfigError):
        EngineConfig(dfa_min_beats=10)


# --- in the session pipeline ----------------------------------------------------------------


def notifications(rr_ms: np.ndarray, start_s: float = 0.0):
    """One notification per beat, arriving when the beat ends."""
    t = start_s
    for rr in rr_ms:
        t += rr / 1000
        raw = round(rr * 1.024)
        yield t, encode_hrm(HeartRateMeasurement(70, True, None, (raw,), True))


def test_pipeline_emits_screened_beats_with_their_metrics() -> None:
    pipeline = SessionPipeline()
    rr = CLEAN[:100].copy()
    rr[60] = rr[60] + rr[61]  # a missed beat
    rr = np.delete(rr, 61)
    events = []
    for t, payload in notifications(rr):
        events += pipeline.notification("p", t, payload)
    beats = [e for e in events if isinstance(e, BeatEvent)]
    metrics = [e for e in events if isinstance(e, MetricsEvent)]
    assert len(beats) == len(metrics) == len(rr) - 2  # the last two are still pending
    assert [b.beat.index for b in beats] == list(range(len(rr) - 2))
    assert beats[60].artefact is ArtefactKind.MISSED
    pairs = itertools.pairwise(events)
    assert all(isinstance(b, MetricsEvent) for a, b in pairs if isinstance(a, BeatEvent))


def test_losing_contact_decides_pending_beats_and_freezes_the_calm_meter() -> None:
    pipeline = SessionPipeline()
    events = []
    last_t = 0.0
    for t, payload in notifications(CLEAN[:50]):
        events += pipeline.notification("p", t, payload)
        last_t = t
    lost = encode_hrm(HeartRateMeasurement(0, False, None, (), False))
    after = pipeline.notification("p", last_t + 1.0, lost)
    kinds = [type(e) for e in after if not isinstance(e, CalmEvent)]
    assert kinds == [BeatEvent, MetricsEvent, BeatEvent, MetricsEvent, QualityEvent]
    assert [e.beat.index for e in after if isinstance(e, BeatEvent)] == [48, 49]  # the pending
    calm = [e for e in after if isinstance(e, CalmEvent)][-1]
    assert calm.reading.confidence == 0.0
    assert calm.reading.state is CalmState.LEARNING  # frozen before any baseline
    assert isinstance(after[-1], QualityEvent)
    assert after[-1].gap_open is GapCause.CONTACT_LOST


def test_a_stored_baseline_skips_learning() -> None:
    baseline = CalmBaseline(70.0, 2.0, 3.6, 0.2, 180)
    pipeline = SessionPipeline(baselines={"p": baseline})
    readings: list[CalmReading] = []
    for t, payload in notifications(CLEAN[:80]):
        readings += [
            e.reading for e in pipeline.notification("p", t, payload) if isinstance(e, CalmEvent)
        ]
    assert readings
    assert CalmState.LEARNING not in {r.state for r in readings}
    assert any(r.state is CalmState.LIVE and r.calm is not None for r in readings)
    assert pipeline.calm_baseline("p") == baseline


def test_beats_fed_directly_keep_their_identity() -> None:
    beat = Beat(7, 1.0, 1000.0, 1024, 1.0, True)
    engine = ParticipantEngine()
    engine.add_beat(beat)
    out = [o for o in engine.flush() if isinstance(o, ScreenedBeat)]
    assert out[0].beat is beat


def test_the_session_pipeline_replays_to_the_same_events() -> None:
    # The API rebuilds a session's state by feeding its recording again (api/runtime.py).
    rr = load_rr_ms("pyhrv_nsrdb_short_5min_ms.txt")
    runs = []
    for _ in range(2):
        pipeline = SessionPipeline()
        events = []
        for t, payload in notifications(rr):
            events += pipeline.notification("p", t, payload)
        runs.append(events)
    assert runs[0] == runs[1]
    assert any(isinstance(e, CalmEvent) for e in runs[0])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(300, 2000), st.floats(1, 300), st.floats(2000, 5000)),
        min_size=1,
        max_size=400,
    ),
    st.sets(st.integers(1, 399), max_size=5),
)
def test_any_beat_sequence_keeps_order_and_ranges(rr_ms, gaps) -> None:
    """Whatever the strap sends (out-of-range values included), every beat comes out once, in
    order, and every figure stays in its range."""
    run = run_engine(beats_from(rr_ms, gap_before=gaps))
    assert [s.beat.index for s in run.screened] == list(range(len(rr_ms)))
    for s in run.screened:
        m = s.metrics
        assert 0.0 <= m.artefact_pct <= 100.0
        assert m.n_artefacts <= m.n_beats
        assert m.rmssd_ms is None or m.rmssd_ms >= 0
        assert m.hr_bpm is None or 30.0 <= m.hr_bpm <= 200.0  # only in-range beats count
    for r in run.calm:
        assert 0.0 <= r.confidence <= 1.0
        assert r.calm is None or 0.0 <= r.calm <= 100.0
