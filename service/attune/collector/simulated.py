"""Simulated straps for the demo: a pure RR simulator paced in real time, feeding the same
uplink a BLE collector uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from attune.collector.uplink import Uplink
from attune.pipeline.events import LinkState
from attune.sim.strap import StrapPacketizer


@dataclass(slots=True)
class SimulatedStrap:
    """Sends one notification per ``packetizer.period_s`` of wall time through ``uplink``."""

    packetizer: StrapPacketizer
    uplink: Uplink
    clock: Callable[[], float]
    battery_pct: int = 90

    async def run(self) -> None:
        """Stream until cancelled."""
        start_s = self.clock()
        self.uplink.send_link(start_s, LinkState.STREAMING)
        self.uplink.send_battery(start_s, self.battery_pct)
        while True:
            notification = self.packetizer.next_notification()
            await asyncio.sleep(max(0.0, start_s + notification.t_s - self.clock()))
            self.uplink.send_notification(self.clock(), notification.payload)
