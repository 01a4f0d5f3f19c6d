"""Happy paths through real Bleak: scanning, one and two straps, both battery modes and both
notification paths (StartNotify and AcquireNotify with fd passing)."""

from __future__ import annotations

import pytest

from attune.collector.ble import scan_straps
from attune.collector.collector import CollectorConfig
from attune.collector.strap_link import LinkSettings
from attune.testing.audit import audit
from attune.testing.bluez import StrapConfig
from tests.ble.helpers import (
    batteries,
    check_streamed_and_stopped,
    eventually,
    fast_config,
    start_run,
)

TICKR = StrapConfig(name="TICKR 6E21", address="C7:3B:11:6E:21:04", seed=2, rssi_dbm=-80)


async def test_scan_lists_heart_rate_straps_strongest_first(bluez) -> None:
    bluez.add_strap(StrapConfig())
    bluez.add_strap(TICKR)
    found = await scan_straps(0.2)
    assert [(s.name, s.address) for s in found] == [
        ("Polar H10 8C4CAD2B", "A0:9E:1A:8C:4C:AD"),
        ("TICKR 6E21", "C7:3B:11:6E:21:04"),
    ]
    assert all(-90 < s.rssi_dbm < -50 for s in found)


@pytest.mark.parametrize("battery_mode", ["gatt", "plugin"])
@pytest.mark.parametrize("notify", ["start", "acquire"])
async def test_happy_path(bluez, service, clock, tmp_path, *, battery_mode, notify) -> None:
    strap = bluez.add_strap(
        StrapConfig(battery_mode=battery_mode, battery_pct=81, body_location=2, tag_serial=True)
    )
    config = fast_config()
    config = CollectorConfig(
        link=LinkSettings(policy=config.link.policy, notify=notify),
        uplink_backoff=config.uplink_backoff,
    )
    run = await start_run(service, ["H10"], tmp_path / "outbox.sqlite3", clock, config)
    await run.streaming(notifications=5)
    strap.set_battery(64)
    await eventually(lambda: run.link().stats.battery_pct == 64, "the new battery level")
    await run.streaming(notifications=3)

    recorded = await check_streamed_and_stopped(run)
    assert batteries(recorded) == [81, 64]
    report = audit(strap.ledger, recorded)
    assert report.recorded_beats > 5
    assert report.sent_not_recorded == 0
    assert report.lost_outside_gaps == 0
    assert report.duplicate_beats == 0
    (participant,) = [
        p
        for p in await service.call(service.services.store.sessions.participants(run.session_id))
        if p.id == run.participant_ids["therapist"]
    ]
    assert (participant.sensor_name, participant.sensor_address) == (
        "Polar H10 8C4CAD2B",
        "A0:9E:1A:8C:4C:AD",
    )
    assert run.link().stats.contact is True
    # Body Sensor Location 2 is the wrist (Heart Rate Service 1.0 §3.2), sent in hello.
    assert run.collector.uplinks[0].sensor.body_location == "wrist"


async def test_two_straps_at_once_connect_one_after_the_other(
    bluez, service, clock, tmp_path
) -> None:
    straps = [bluez.add_strap(StrapConfig(tag_serial=True)), bluez.add_strap(TICKR)]
    run = await start_run(service, ["Polar", "C7:3B:11:6E:21:04"], tmp_path / "o.sqlite3", clock)
    await run.streaming(0, notifications=5)
    await run.streaming(1, notifications=5)

    for index, strap in enumerate(straps):
        recorded = await check_streamed_and_stopped(run, index)
        if strap.config.tag_serial:
            assert audit(strap.ledger, recorded).lost_outside_gaps == 0
    # BlueZ refuses a second LE connect while one is pending; the collector never tried.
    assert bluez.refused_concurrent_connects == 0
    assert [s.connects for s in straps] == [1, 1]
    assert [link.seen.address for link in run.collector.links] == [s.config.address for s in straps]


async def test_two_selectors_matching_one_name_take_different_straps(
    bluez, service, clock, tmp_path
) -> None:
    bluez.add_strap(StrapConfig(name="Polar H10 AAAA0001", address="A0:9E:1A:00:00:01"))
    bluez.add_strap(StrapConfig(name="Polar H10 AAAA0002", address="A0:9E:1A:00:00:02", seed=3))
    run = await start_run(service, ["Polar", "Polar"], tmp_path / "o.sqlite3", clock)
    await run.streaming(0)
    await run.streaming(1)
    addresses = {link.seen.address for link in run.collector.links}
    await run.stop()
    assert addresses == {"A0:9E:1A:00:00:01", "A0:9E:1A:00:00:02"}
