"""Real Chromium through Playwright's async API (the sync API runs its own event loop, which
cannot share a process with pytest-asyncio). Without a Chromium the browser tests skip with
the reason; with ATTUNE_REQUIRE_BROWSER=1 (CI) a missing browser is a failure instead."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from attune.settings import Settings
from attune.testing.chromium import CHROMIUM_ARGS, find_chromium
from attune.testing.clock import ScaledClock
from attune.testing.dashboard import DashboardRig


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = find_chromium()
    if chromium is None:
        reason = "no Chromium on PATH and ATTUNE_CHROMIUM unset (apt-get install chromium)"
        if os.environ.get("ATTUNE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ATTUNE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
        yield launched
        await launched.close()


@pytest.fixture
async def rig(tmp_path, request: pytest.FixtureRequest) -> AsyncIterator[DashboardRig]:
    """A loopback service with a running session and two simulated straps, at 4x real time
    unless the test passes another scale (``@pytest.mark.parametrize("rig", [1.0],
    indirect=True)``)."""
    settings = Settings(data_dir=tmp_path, secret_key="test-secret-key", port=0)
    scale = getattr(request, "param", 4.0)
    started = DashboardRig(settings, clock=ScaledClock(scale))
    await started.start()
    yield started
    await started.stop()
