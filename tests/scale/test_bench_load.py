"""``attune bench load`` runs end to end at a small N (figures only; no timing asserted):
every strap connects, everything sent in the window is acknowledged, the dashboards see
beats, and the service's CPU and memory are read."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from attune.cli.bench import load


def test_one_small_step_reports_its_figures() -> None:
    command = [sys.executable, "-m", "attune", "bench", "load", "--straps", "20"]
    command += ["--dashboards", "2", "--duration-s", "3", "--ramp-s", "1", "--settle-s", "1"]
    command += ["--history-s", "30"]
    done = subprocess.run(
        [*command, "--json"], check=False, capture_output=True, text=True, timeout=170
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    (step,) = report["steps"]
    assert step["straps"] == 20
    assert step["history_s"] == 30
    assert step["sent"] > 0
    assert step["acked"] == step["sent"]
    assert step["refused"] == 0
    assert step["latency_samples"] > 0
    assert step["service_cpu_pct"] > 0
    assert step["service_rss_mib"] > 0
    assert report["largest_held_straps"] in (0, 20)
    (level,) = report["levels"]
    assert (level["straps"], level["runs"]) == (20, 1)
    assert level["held"] == step["held"]
    assert level["latency_p99_ms_median"] == step["latency_p99_ms"]


def test_a_step_whose_straps_never_all_connect_is_a_failed_step() -> None:
    args = argparse.Namespace(instances=2, dashboards=10, history_s=480.0)
    step = load._unconnected(args, 1000, 130.0)
    assert not step.held
    assert step.why_not == "not all connected and caught up within 130 s"
    assert (step.straps, step.sent, step.acked) == (1000, 0, 0)
    assert math.isnan(step.latency_p99_ms)
    assert json.loads(json.dumps(asdict(step)))["instances"] == 2  # reported like any step


def _run_of(straps: int, *, held: bool, p99_ms: float, cpu_ms: float) -> load.Step:
    args = argparse.Namespace(instances=1, dashboards=10, history_s=480.0)
    step = load._unconnected(args, straps, 1.0)
    return replace(step, held=held, latency_p99_ms=p99_ms, cpu_ms_per_strap_s=cpu_ms)


def test_a_level_holds_when_most_of_its_runs_held_and_reports_their_medians() -> None:
    runs = [
        _run_of(400, held=False, p99_ms=106.0, cpu_ms=0.9),
        _run_of(800, held=False, p99_ms=300.0, cpu_ms=1.1),
        _run_of(400, held=True, p99_ms=60.0, cpu_ms=0.7),
        _run_of(400, held=True, p99_ms=80.0, cpu_ms=0.8),
        _run_of(800, held=True, p99_ms=90.0, cpu_ms=1.0),
    ]
    four, eight = load.levels(runs)
    assert (four.straps, four.runs, four.held_runs, four.held) == (400, 3, 2, True)
    assert (four.latency_p99_ms_median, four.cpu_ms_per_strap_s_median) == (80.0, 0.8)
    # One of two is no majority.
    assert (eight.straps, eight.runs, eight.held_runs, eight.held) == (800, 2, 1, False)
    assert eight.latency_p99_ms_median == 195.0


def test_the_report_line_counts_the_runs_that_held_whatever_the_verdict() -> None:
    runs = [
        _run_of(1000, held=False, p99_ms=1129.0, cpu_ms=0.93),
        _run_of(1000, held=True, p99_ms=54.0, cpu_ms=0.80),
        _run_of(1000, held=False, p99_ms=265.0, cpu_ms=0.94),
    ]
    (level,) = load.levels(runs)
    line = load.level_line(level)
    assert "fails: held in 1 of 3 runs" in line
    assert "p99=  265.0 ms" in line


def test_a_level_whose_runs_measured_nothing_has_no_median() -> None:
    args = argparse.Namespace(instances=1, dashboards=10, history_s=480.0)
    (level,) = load.levels([load._unconnected(args, 1000, 130.0)])
    assert not level.held
    assert math.isnan(level.latency_p99_ms_median)
    assert math.isnan(level.cpu_ms_per_strap_s_median)


def test_runs_stop_once_the_majority_is_settled() -> None:
    assert load.settled(1, 0, 1)
    assert load.settled(0, 1, 1)
    assert not load.settled(1, 0, 3)
    assert not load.settled(1, 1, 3)
    assert load.settled(2, 0, 3)
    assert load.settled(0, 2, 3)
    assert load.settled(0, 1, 2)  # two of two can no longer hold
    assert not load.settled(1, 0, 2)


def test_sessions_start_at_spread_out_moments_before_their_backlog() -> None:
    starts = load.session_starts(1000.0, 480.0, 200)
    assert max(starts) == 520.0  # room for the whole backlog
    assert min(starts) > 520.0 - load.STAGGER_S
    # Their 5 s grids (the slow metrics') fall due evenly: each second of five holds a fifth.
    per_second = [0] * 5
    for start_s in starts:
        per_second[math.floor(start_s % 5.0)] += 1
    assert per_second == [40] * 5
    assert load.session_starts(1000.0, 0.0, 1) == [1000.0]


def test_a_repeat_below_one_is_refused() -> None:
    command = [sys.executable, "-m", "attune", "bench", "load", "--repeat", "0"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --repeat: must be at least 1" in done.stderr


def _children(pid: int, word: str) -> list[int]:
    """Processes whose parent is ``pid`` and whose command line holds ``word``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
            if parent == pid and word.encode() in cmdline:
                found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_run_and_the_servers_it_started() -> None:
    command = [sys.executable, "-m", "attune", "bench", "load", "--straps", "4"]
    command += ["--dashboards", "1", "--duration-s", "600", "--history-s", "0"]
    bench = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        servers: list[int] = []
        for _ in range(1200):  # the server starts within a minute
            servers = _children(bench.pid, "serve")
            if servers or bench.poll() is not None:
                break
            time.sleep(0.05)
        assert servers, "the bench started no server"
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert not [pid for pid in servers if _running(pid)]
