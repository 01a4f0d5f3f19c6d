"""Pure HRV engine: artefact screening, rolling metrics and the calm index (docs/hrv.md)."""

from attune.hrv.artefacts import ArtefactKind
from attune.hrv.calm import CalmBand, CalmBaseline, CalmConfig, CalmReading, CalmState
from attune.hrv.engine import (
    EngineConfig,
    EngineOutput,
    MetricsSnapshot,
    ParticipantEngine,
    ScreenedBeat,
    SlowMetrics,
)
from attune.hrv.quality import Gate, QualityGates

__all__ = [
    "ArtefactKind",
    "CalmBand",
    "CalmBaseline",
    "CalmConfig",
    "CalmReading",
    "CalmState",
    "EngineConfig",
    "EngineOutput",
    "Gate",
    "MetricsSnapshot",
    "ParticipantEngine",
    "QualityGates",
    "ScreenedBeat",
    "SlowMetrics",
]
