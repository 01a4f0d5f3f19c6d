"""A simulated 20-minute therapy session (tests/export/simulated.py), recorded once per module
and run through the pipeline into the record every export reads; the real service and
Chromium fixtures of the integration and browser tiers."""

from __future__ import annotations

import time

import pytest

from attune.export.overview import SessionOverview, overview
from attune.export.record import SessionRecord, StoredSession, build_record
from tests.browser.conftest import browser
from tests.export.simulated import SimulatedSession, simulate, stored_session
from tests.integration.conftest import service

__all__ = ["browser", "service"]  # fixtures shared with the other tiers


@pytest.fixture(scope="module")
def sim() -> SimulatedSession:
    return simulate()


@pytest.fixture(scope="module")
def stored(sim) -> StoredSession:
    return stored_session(sim)


@pytest.fixture(scope="module")
def record(stored) -> SessionRecord:
    return build_record(stored, exported_at_s=time.time())


@pytest.fixture(scope="module")
def view(record) -> SessionOverview:
    return overview(record)
