"""Rolling HR and RMSSD per beat, on real RR data."""

from __future__ import annotations

import numpy as np
import pytest

from attune.hrv.engine import EngineConfig, ParticipantEngine
from attune.sensor.timeline import Beat
from tests.conftest import load_rr_ms


def beats_from(rr_ms: np.ndarray, *, gap_before: set[int] = frozenset()) -> list[Beat]:
    t_s = np.cumsum(rr_ms) / 1000.0
    return [
        Beat(i, float(t), float(rr), round(rr * 1.024), float(t), i == 0 or i in gap_before)
        for i, (t, rr) in enumerate(zip(t_s, rr_ms, strict=True))
    ]


def test_rmssd_over_the_trailing_60_s_matches_the_definition() -> None:
    rr_ms = load_rr_ms("pyhrv_nsrdb_short_5min_ms.txt")
    engine = ParticipantEngine()
    snapshots = [engine.add_beat(b) for b in beats_from(rr_ms)]
    last = snapshots[-1]
    # The window holds every interval that started within 60 s of the last beat.
    t_end = rr_ms.cumsum()
    window = rr_ms[(t_end - rr_ms) >= t_end[-1] - 60_000]
    assert last.n_beats == window.size
    assert last.rmssd_ms == pytest.approx(np.sqrt(np.mean(np.diff(window) ** 2)), rel=1e-12)
    assert last.hr_bpm == pytest.approx(60000 / window.mean(), rel=1e-12)
    assert not last.provisional
    assert snapshots[5].provisional


def test_no_difference_spans_a_gap() -> None:
    rr_ms = np.array([800.0, 810, 790, 1200, 1210, 1190])
    engine = ParticipantEngine(EngineConfig(window_s=60))
    snapshot = None
    for beat in beats_from(rr_ms, gap_before={3}):
        snapshot = engine.add_beat(beat)
    assert snapshot is not None
    expected = np.sqrt(np.mean(np.array([10, -20, 10, -20]) ** 2.0))
    assert snapshot.rmssd_ms == pytest.approx(expected)


def test_first_beat_has_hr_but_no_rmssd() -> None:
    snapshot = ParticipantEngine().add_beat(beats_from(np.array([1000.0]))[0])
    assert snapshot.hr_bpm == pytest.approx(60.0)
    assert snapshot.rmssd_ms is None
