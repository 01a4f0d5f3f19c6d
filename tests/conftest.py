"""Shared fixtures: real RR data, settings for a throwaway data directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from attune.settings import Settings
from attune.store import Store

DATA = Path(__file__).parent / "data"


def load_rr_ms(name: str) -> np.ndarray:
    """One of the RR fixtures in tests/data/rr, in ms."""
    path = DATA / "rr" / name
    if path.suffix == ".csv":
        return np.loadtxt(path, delimiter=",", skiprows=1, usecols=1)
    return np.loadtxt(path)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ble-device",
        action="append",
        default=[],
        metavar="NAME_OR_ADDRESS",
        help="run the hardware tier (tests/ble/test_hardware.py) against this real strap;"
        " repeat for two straps",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test-secret-key", port=0)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """The storage layer on an SQLite file (what is particular to SQLite)."""
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
    yield opened
    await opened.close()
