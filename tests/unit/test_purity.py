"""The pure core imports no I/O machinery (DESIGN.md, "Layers and rooms")."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_PACKAGES = [
    "attune.sensor",
    "attune.hrv",
    "attune.sim",
    "attune.sim.feed",
    "attune.pipeline",
    "attune.dyad",
    "attune.dyad.session",
    "attune.cues",
    "attune.collector.link",  # the link state machine; its driver is collector.strap_link
]
FORBIDDEN = [
    "asyncio",
    "fastapi",
    "starlette",
    "bleak",
    "dbus_fast",
    "sqlite3",
    "sqlalchemy",
    "websockets",
    "uvicorn",
    "redis",
    "pydantic",
]


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_package_imports_no_io(package: str) -> None:
    code = f"import sys, {package}\nprint(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{package} pulled in {out}"
