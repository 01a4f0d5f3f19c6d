"""Faults injected at the virtual strap, seen through real Bleak: every drop-out ends in a
reconnect with the gap recorded, and no beat goes missing without a gap saying so."""

from __future__ import annotations

from attune.errors import PayloadError
from attune.sensor.hrm import parse_hrm
from attune.testing.audit import audit
from attune.testing.bluez import StrapConfig
from tests.ble.helpers import (
    check_streamed_and_stopped,
    eventually,
    fast_config,
    link_reasons,
    link_states,
    start_run,
)

TAGGED = StrapConfig(tag_serial=True)


def assert_states_contain(states: list[str], expected: list[str]) -> None:
    """``expected`` appears in ``states`` as a contiguous run."""
    n = len(expected)
    assert any(states[i : i + n] == expected for i in range(len(states))), states


async def test_drop_and_reconnect_records_the_gap(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=5)
    strap.drop_link()
    await eventually(lambda: strap.connects == 2, "the reconnect")
    await run.streaming(notifications=5)

    recorded = await check_streamed_and_stopped(run)
    states = link_states(recorded)
    assert_states_contain(states, ["streaming", "lost", "backoff", "scanning", "connecting"])
    assert states.count("streaming") == 2
    report = audit(strap.ledger, recorded)
    # One gap before the first beat (the link was still coming up), one for the drop.
    assert report.gaps.get("link_lost") == 2
    assert report.lost_outside_gaps == 0
    assert report.sent_not_recorded == 0
    assert report.duplicate_beats == 0


async def test_out_of_range_and_back(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=3)
    strap.go_out_of_range()
    await eventually(lambda: run.link().state.value == "scanning", "the link to be lost")
    await clock.sleep(10)
    assert strap.connects == 1  # nothing to connect to while away
    strap.come_back()
    await eventually(lambda: strap.connects == 2, "the reconnect")
    await run.streaming(notifications=3)

    recorded = await check_streamed_and_stopped(run)
    report = audit(strap.ledger, recorded)
    assert report.lost_in_gaps >= 10  # ~10 s of beats while away
    assert report.lost_outside_gaps == 0
    assert report.duplicate_beats == 0


async def test_contact_lost_is_a_gap_not_a_link_loss(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=3)
    strap.set_contact(False)
    await eventually(lambda: run.link().stats.contact is False, "contact loss to arrive")
    await run.streaming(notifications=5)
    strap.set_contact(True)
    await eventually(lambda: run.link().stats.contact is True, "contact to return")
    await run.streaming(notifications=5)

    recorded = await check_streamed_and_stopped(run)
    assert "lost" not in link_states(recorded)
    report = audit(strap.ledger, recorded)
    assert report.gaps.get("contact_lost") == 1
    assert report.gaps.get("link_lost") == 1  # only the one before the first beat
    assert report.lost_outside_gaps == 0


async def test_malformed_payloads_are_counted_and_not_fatal(
    bluez, service, clock, tmp_path
) -> None:
    strap = bluez.add_strap(TAGGED)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=3)
    bad = [b"", b"\x10\x48", b"\x10\x48\x00", b"\x01\x48"]
    for payload in bad:
        try:
            parse_hrm(payload)
        except PayloadError:
            continue
        raise AssertionError(f"{payload.hex()} should be malformed")
    strap.inject_raw(*bad)
    await eventually(lambda: run.link().stats.malformed == len(bad), "the bad payloads")
    await run.streaming(notifications=5)

    recorded = await check_streamed_and_stopped(run)
    assert link_states(recorded).count("streaming") == 1
    report = audit(strap.ledger, recorded)
    assert report.malformed_injected == len(bad)
    assert report.rejected_recorded == len(bad)
    assert report.lost_outside_gaps == 0


async def test_strap_absent_at_start_then_present(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(StrapConfig(in_range=False, tag_serial=True))
    config = fast_config(not_found_notice_s=4.0)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock, config)
    await eventually(lambda: run.link().last_error is not None, "the not-found notice")
    assert run.link().last_error.code == "strap_not_found"
    assert "advertising" in run.link().last_error.advice
    strap.come_back()
    await run.streaming(notifications=3)

    recorded = await check_streamed_and_stopped(run)
    assert link_reasons(recorded, "scanning")[1] == "strap not found after 4 s of scanning"
    assert audit(strap.ledger, recorded).lost_outside_gaps == 0


async def test_silence_watchdog_reconnects_a_mute_link(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=3)
    strap.stall()  # connected, but the firmware stopped notifying
    await eventually(lambda: strap.connects == 2, "the watchdog's reconnect")
    await run.streaming(notifications=3)

    recorded = await check_streamed_and_stopped(run)
    (reason,) = link_reasons(recorded, "lost")
    assert "silence watchdog" in reason
    assert audit(strap.ledger, recorded).lost_outside_gaps == 0


async def test_failed_connect_backs_off_and_retries(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    strap.fail_next_connect("le-connection-timeout")
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=3)

    recorded = await check_streamed_and_stopped(run)
    assert link_states(recorded)[:5] == [
        "scanning",
        "connecting",
        "backoff",
        "scanning",
        "connecting",
    ]
    assert "le-connection-timeout" in link_reasons(recorded, "backoff")[0]
    assert run.link().last_error.code == "strap_unreachable"


async def test_abort_by_local_is_retried_inside_bleak(bluez, service, clock, tmp_path) -> None:
    # BlueZ flips Connected True -> False on this error and Bleak retries on its own.
    strap = bluez.add_strap(TAGGED)
    strap.fail_next_connect("le-connection-abort-by-local")
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await run.streaming(notifications=3)
    await check_streamed_and_stopped(run)
    assert bluez.calls[("org.bluez.Device1", "Connect")] == 2
    assert "backoff" not in [r.state.value for _, r in run.reports]


async def test_backoff_grows_while_connects_keep_failing(bluez, service, clock, tmp_path) -> None:
    strap = bluez.add_strap(TAGGED)
    strap.occupy("refusing")  # advertises, but another phone holds its only connection
    run = await start_run(service, ["H10"], tmp_path / "o.sqlite3", clock)
    await eventually(lambda: run.link().machine.attempt >= 3, "three failed connects")
    assert run.link().last_error.code == "strap_busy"
    strap.release()
    await run.streaming(notifications=3)
    recorded = await check_streamed_and_stopped(run)
    waits = [
        float(r.split("retrying in ")[1].split()[0]) for r in link_reasons(recorded, "backoff")
    ]
    caps = [min(4.0, 0.5 * 2**n) for n in range(len(waits))]
    assert all(0 <= w <= cap for w, cap in zip(waits, caps, strict=True))
