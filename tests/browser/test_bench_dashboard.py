"""``attune bench dashboard`` runs end to end on a short session (figures only; no timing
asserted): the console in Chromium received the stream, rendered frames and the heap was
read at both ends."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.usefixtures("browser")  # skips (or fails under CI) without a Chromium
def test_a_short_session_reports_its_figures() -> None:
    command = [sys.executable, "-m", "attune", "bench", "dashboard", "--minutes", "1.5"]
    command += ["--speed", "10", "--warmup-min", "0.5", "--json"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["session_min"] == 1.5
    assert figures["messages"] > 100
    assert all(beats > 30 for beats in figures["beats_shown"])
    assert figures["renders"] > 0
    assert figures["frames"] >= figures["renders"] // 2
    assert figures["render_p95_ms"] >= figures["render_p50_ms"] > 0
    assert figures["heap_warm_mb"] > 0
    assert figures["heap_end_mb"] > 0
