"""``attune bench latency`` runs end to end and reports both scenarios (figures go in reports,
not assertions: only their presence and sanity are checked here)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_latency_benchmark_reports_both_scenarios() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "attune", "bench", "latency", "--duration-s", "10", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    baseline, stalled = report["scenarios"]
    assert (baseline["scenario"], stalled["scenario"]) == (
        "10 dashboards",
        "10 dashboards + 1 stalled",
    )
    for figures in (baseline, stalled):
        assert figures["samples"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert set(report["stalled_over_baseline"]) == {"p50", "p99"}
