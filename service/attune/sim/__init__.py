"""Pure, seeded physiological simulation for the demo, the tests and the benchmarks."""

from attune.sim.person import PersonProfile, RrSimulator
from attune.sim.strap import SimulatedNotification, StrapPacketizer

__all__ = ["PersonProfile", "RrSimulator", "SimulatedNotification", "StrapPacketizer"]
