"""Pure therapist-client synchrony: windowed cross-correlation of HR with segment-shuffle
surrogates, live (``LiveSynchrony``) and for a whole session (``session_synchrony``)."""

from attune.dyad.config import SynchronyConfig
from attune.dyad.live import LiveSynchrony
from attune.dyad.state import Leader, Role, SynchronyState, SynchronyStatus

__all__ = [
    "Leader",
    "LiveSynchrony",
    "Role",
    "SynchronyConfig",
    "SynchronyState",
    "SynchronyStatus",
]
