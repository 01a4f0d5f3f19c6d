"""The virtual strap tier: a private dbus-daemon and a fake ``org.bluez`` driving the real Bleak
BlueZ backend, with the real service on a loopback port. Without dbus-daemon these tests skip
with the reason; with ATTUNE_REQUIRE_BROWSER=1 (CI, which installs it) they fail instead."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from attune.settings import Settings
from attune.testing.bluez import FakeBlueZ, PrivateSystemBus, find_dbus_daemon
from attune.testing.clock import ScaledClock
from attune.testing.service import LoopbackService

# Strap time runs this much faster than real time in the tier (see attune.testing.clock).
TIME_SCALE = 25.0


@pytest.fixture(scope="session")
def system_bus() -> Iterator[PrivateSystemBus]:
    if find_dbus_daemon() is None:
        reason = "dbus-daemon not found (apt-get install dbus)"
        if os.environ.get("ATTUNE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ATTUNE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    with PrivateSystemBus() as bus:
        yield bus


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(TIME_SCALE)


@pytest.fixture
async def bluez(
    system_bus: PrivateSystemBus, clock: ScaledClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeBlueZ]:
    for name, value in system_bus.env().items():
        monkeypatch.setenv(name, value)
    fake = await FakeBlueZ(clock).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def service(settings: Settings, clock: ScaledClock) -> AsyncIterator[LoopbackService]:
    # In a thread of its own, as a separate process would be: the service's pauses do not
    # delay the collector's arrival stamps.
    svc = LoopbackService(settings, clock.now_s, own_thread=True)
    await svc.start()
    yield svc
    await svc.stop()
