"""The Lab Streaming Layer outlet end to end on this machine: the real service, two simulated
straps on the ingest websocket, ``LslBridge`` on the live hub, and pylsl inlets resolving the
streams by source id. Skipped, saying why, only where liblsl cannot load (ATTUNE_REQUIRE_LSL=1
makes that a failure)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from attune.api.analysis import run_stream
from attune.api.stream import live_order
from attune.errors import ConfigError
from attune.export.lsl import LslBridge, load_pylsl
from attune.export.lsl_streams import HRV_FIELDS, lsl_timestamp, samples, source_id
from attune.hrv.engine import EngineConfig
from attune.protocol.live import BatteryMessage, BeatMessage, MarkerMessage, MetricsMessage
from attune.store import Store
from tests.export.simulated import record_through_service, short_script, simulate

try:
    pylsl = load_pylsl()
except ConfigError as exc:
    if os.environ.get("ATTUNE_REQUIRE_LSL") == "1":
        raise
    pytest.skip(f"liblsl cannot load here: {exc}", allow_module_level=True)

RESOLVE_S = 10.0


async def inlet(source: str):
    """An open inlet on the stream with this source id (bounded waits)."""
    found = await asyncio.to_thread(pylsl.resolve_byprop, "source_id", source, 1, RESOLVE_S)
    assert found, f"no LSL stream {source} within {RESOLVE_S} s"
    opened = pylsl.StreamInlet(found[0], max_buflen=600)
    await asyncio.to_thread(opened.open_stream, RESOLVE_S)
    return opened


async def pull(opened, count: int) -> tuple[list, list[float]]:
    """At least ``count`` samples, or what arrived before 60 pulls of 0.5 s found no more."""
    values: list = []
    stamps: list[float] = []
    idle = 0
    while len(values) < count and idle < 60:
        chunk, times = await asyncio.to_thread(opened.pull_chunk, 0.5)
        values += chunk
        stamps += times
        idle = 0 if chunk else idle + 1
    return values, stamps


async def test_an_inlet_receives_what_the_outlet_sends(service) -> None:
    svc = service.services
    bridge = asyncio.create_task(LslBridge(svc.store, svc.hub, poll_s=0.2).run())
    try:
        session = await service.new_session()
        client = session.participant_ids["client"]
        rr = await inlet(source_id(session.id, client, "rr"))
        hrv = await inlet(source_id(session.id, client, "hrv"))
        markers = await inlet(source_id(session.id, None, "markers"))
        info = rr.info()
        assert (info.type(), info.desc().child_value("role")) == ("RR", "client")
        channel, labels = info.desc().child("channels").child("channel"), []
        while not channel.empty():
            labels.append((channel.child_value("label"), channel.child_value("unit")))
            channel = channel.next_sibling()
        assert labels == [("rr", "ms"), ("artefact", "0/1"), ("after_gap", "0/1")]
        started = (await session.therapist.http.get(f"/api/sessions/{session.id}")).json()
        sim = simulate(short_script(), t0_s=started["started_at_s"])
        await record_through_service(service, session, sim)
        # What the live hub carried: the same stream the console got, from the recording.
        shown = run_stream(
            live_order(await svc.store.recording.inputs(session.id)),
            started["started_at_s"],
            EngineConfig(),
        )
        beats = [m for m in shown if isinstance(m, BeatMessage) and m.participant == client]
        metrics = [m for m in shown if isinstance(m, MetricsMessage) and m.participant == client]
        got, stamps = await pull(rr, len(beats))
        assert np.array(got)[:, 0].tolist() == [float(np.float32(b.rr_ms)) for b in beats]
        assert [row[1:] for row in got] == [
            [float(b.artefact is not None), float(b.after_gap)] for b in beats
        ]
        # Each beat is stamped with its R-wave time on the LSL clock, not its publication.
        assert np.diff(stamps) == pytest.approx(np.diff([b.t_s for b in beats]), abs=2e-3)
        got_hrv, _ = await pull(hrv, len(metrics))
        assert len(got_hrv) == len(metrics)
        rmssd = [m.rmssd_ms for m in metrics]
        column = [n for n, _ in HRV_FIELDS].index("rmssd_ms")
        assert [row[column] for row in got_hrv] == pytest.approx(
            [np.nan if v is None else v for v in rmssd], rel=1e-6, nan_ok=True
        )
        expected_markers = [m for m in shown if isinstance(m, MarkerMessage)]
        got_markers, _ = await pull(markers, len(sim.markers) + 2)
        texts = [row[0] for row in got_markers]
        assert [t for t in texts if t.startswith("marker: ")] == [
            f"marker: {m.text}" for m in expected_markers
        ]
        assert "link client streaming" in texts
        # The late batch was not fed live: its beats are missing, a gap the clock notices.
        assert any(t.startswith("gap client clock_mismatch ") for t in texts)
    finally:
        bridge.cancel()
        await asyncio.gather(bridge, return_exceptions=True)


async def test_source_ids_are_stable_across_a_restart_of_the_bridge(service) -> None:
    svc = service.services
    session = await service.new_session()
    therapist = session.participant_ids["therapist"]
    sources = []
    for _ in range(2):
        bridge = asyncio.create_task(LslBridge(svc.store, svc.hub, poll_s=0.2).run())
        try:
            opened = await inlet(source_id(session.id, therapist, "hr"))
            sources.append(opened.info().source_id())
        finally:
            bridge.cancel()
            await asyncio.gather(bridge, return_exceptions=True)
    assert sources == [f"attune.{session.id}.{therapist}.hr"] * 2


def test_sample_times_map_session_time_onto_the_lsl_clock() -> None:
    # Session started at wall 1000 s; now is wall 1010 s = LSL 50 s: t_s 7 happened 3 s ago.
    assert lsl_timestamp(7.0, 1000.0, 1010.0, 50.0) == 47.0


def test_beats_and_markers_become_samples_and_battery_readings_do_not() -> None:
    beat = BeatMessage(seq=1, t_s=3.0, participant="p", rr_ms=800.0, hr_bpm=75.0, after_gap=True)
    made = samples("s", beat, {"p": "client"})
    assert [(s.source_id, s.values) for s in made] == [
        ("attune.s.p.hr", (75.0,)),
        ("attune.s.p.rr", (800.0, 0.0, 1.0)),
    ]
    marker = MarkerMessage(seq=2, t_s=4.0, id="m", text="calm now")
    assert [s.values for s in samples("s", marker, {})] == [("marker: calm now",)]
    battery = BatteryMessage(seq=3, t_s=5.0, participant="p", level_pct=80)
    assert samples("s", battery, {"p": "client"}) == []


def test_attune_serve_lsl_publishes_a_running_session(tmp_path) -> None:
    """The command line wiring: ``attune serve --lsl`` in a subprocess finds a session started
    in its database and offers its streams."""

    async def started_session() -> str:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'attune.sqlite3'}")
        try:
            therapist = await store.accounts.add_therapist("t", "T", "-", now_s=time.time())
            client = await store.clients.create(therapist.id, "C-1", "C", now_s=time.time())
            session = await store.sessions.create(
                "S", now_s=time.time(), client_id=client.id, therapist_id=therapist.id
            )
            await store.sessions.start(session.id, now_s=time.time())
            return session.id
        finally:
            await store.close()

    session_id = asyncio.run(started_session())
    command = [sys.executable, "-m", "attune", "serve", "--port", "0", "--data-dir", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--lsl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ATTUNE_SECRET_KEY": "lsl-test"},
    )
    try:
        found = []
        for _ in range(6):  # the service starts in seconds, slower on a loaded machine
            found = pylsl.resolve_byprop(
                "source_id", source_id(session_id, None, "markers"), 1, RESOLVE_S
            )
            if found or process.poll() is not None:
                break
        assert [f.type() for f in found] == ["Markers"]
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"publishing live sessions to Lab Streaming Layer" in out
