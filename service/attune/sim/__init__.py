"""Pure, seeded physiological simulation for the demo, the tests and the benchmarks.

``PersonProfile`` holds a person's traits, ``SessionScript`` a session as timed phases,
``DyadSimulator`` turns both into beat streams (plus ground truth), and ``StrapPacketizer``
turns a beat stream into Heart Rate Measurement notifications, contact loss included.
"""

from attune.dyad.state import Role
from attune.sim.physiology import SimBeat
from attune.sim.profile import CLIENT_PROFILE, THERAPIST_PROFILE, PersonProfile
from attune.sim.script import (
    ContactLoss,
    PacedBreathing,
    PersonPhase,
    Phase,
    SessionScript,
    resonance_protocol_script,
    therapy_session,
)
from attune.sim.session import (
    Coupling,
    DyadRecording,
    DyadSimulator,
    PersonTruth,
    resting_beats,
)
from attune.sim.strap import SimulatedNotification, StrapPacketizer

__all__ = [
    "CLIENT_PROFILE",
    "THERAPIST_PROFILE",
    "ContactLoss",
    "Coupling",
    "DyadRecording",
    "DyadSimulator",
    "PacedBreathing",
    "PersonPhase",
    "PersonProfile",
    "PersonTruth",
    "Phase",
    "Role",
    "SessionScript",
    "SimBeat",
    "SimulatedNotification",
    "StrapPacketizer",
    "resonance_protocol_script",
    "resting_beats",
    "therapy_session",
]
