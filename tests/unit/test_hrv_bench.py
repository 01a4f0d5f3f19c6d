"""``attune bench engine`` runs end to end and reports its figures (it is a benchmark: the
figures themselves are not asserted, only that they are measured and consistent)."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_hrv_analyze import main


def test_the_engine_benchmark_reports_cost_ratio_and_memory(capsys) -> None:
    assert main(["bench", "engine", "--json", "--repeat", "1", "--nk-beats", "2"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["series"] == "pyhrv_nsrdb_long_60min_ms.txt"
    assert figures["n_beats"] == 4684
    assert figures["duration_s"] == pytest.approx(3599.4, abs=0.1)
    engine = figures["engine"]
    assert 0 < engine["p50_us"] <= engine["p99_us"] <= engine["max_us"]
    assert engine["us_per_beat"] > 0  # CPU time
    assert engine["wall_us_per_beat"] > 0
    assert figures["engine_memory_kib"] > 10  # the ring buffers alone are about 22 KiB
    nk = figures["neurokit2"]
    assert nk["beats_timed"] == 2
    assert nk["us_per_beat"] > 0
    assert nk["wall_us_per_beat"] > 0
    assert figures["ratio"] == pytest.approx(nk["us_per_beat"] / engine["us_per_beat"])


def test_a_custom_series_that_cannot_be_read_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "x.txt"
    path.write_text("not rr\nat all\n")
    assert main(["bench", "engine", "--rr", str(path)]) == 2
    assert "expected numbers" in capsys.readouterr().err
