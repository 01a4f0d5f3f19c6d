"""Runs the dashboard's pure-module tests with Node's built-in runner (`node --test`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def test_dashboard_modules_under_node() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("ATTUNE_REQUIRE_BROWSER") == "1":
            pytest.fail("ATTUNE_REQUIRE_BROWSER=1 but Node.js is missing (apt-get install nodejs)")
        pytest.skip("Node.js not installed (apt-get install nodejs)")
    files = sorted(str(p) for p in HERE.glob("*.test.js"))
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
