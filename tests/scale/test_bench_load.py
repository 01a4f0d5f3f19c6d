"""``attune bench load`` runs end to end at a small N (figures only; no timing asserted):
every strap connects, everything sent in the window is acknowledged, the dashboards see
beats, and the service's CPU and memory are read."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import asdict

from attune.cli.bench import load


def test_one_small_step_reports_its_figures() -> None:
    command = [sys.executable, "-m", "attune", "bench", "load", "--straps", "20"]
    command += ["--dashboards", "2", "--duration-s", "3", "--ramp-s", "1", "--settle-s", "1"]
    done = subprocess.run(
        [*command, "--json"], check=False, capture_output=True, text=True, timeout=170
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    (step,) = report["steps"]
    assert step["straps"] == 20
    assert step["sent"] > 0
    assert step["acked"] == step["sent"]
    assert step["refused"] == 0
    assert step["latency_samples"] > 0
    assert step["service_cpu_pct"] > 0
    assert step["service_rss_mib"] > 0
    assert report["largest_held_straps"] in (0, 20)


def test_a_step_whose_straps_never_all_connect_is_a_failed_step() -> None:
    args = argparse.Namespace(instances=2, dashboards=10)
    step = load._unconnected(args, 1000, 130.0)
    assert not step.held
    assert step.why_not == "not all connected within 130 s"
    assert (step.straps, step.sent, step.acked) == (1000, 0, 0)
    assert math.isnan(step.latency_p99_ms)
    assert json.loads(json.dumps(asdict(step)))["instances"] == 2  # reported like any step
