"""Pure HRV engine: artefact screening, rolling metrics and the calm index."""

from attune.hrv.engine import EngineConfig, MetricsSnapshot, ParticipantEngine

__all__ = ["EngineConfig", "MetricsSnapshot", "ParticipantEngine"]
