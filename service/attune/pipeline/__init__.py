"""The pure session pipeline: recorded input in, live events out.

decode -> beat timeline -> artefact screen, rolling metrics and calm index, per participant.
Live ingest and replay feed the same recorded inputs through this code, so a replay reproduces
what was shown live.
"""

from attune.pipeline.events import (
    BatteryEvent,
    BeatEvent,
    CalmEvent,
    GapEvent,
    LinkEvent,
    LinkState,
    MetricsEvent,
    PayloadRejected,
    PipelineEvent,
    QualityEvent,
)
from attune.pipeline.session import SessionPipeline

__all__ = [
    "BatteryEvent",
    "BeatEvent",
    "CalmEvent",
    "GapEvent",
    "LinkEvent",
    "LinkState",
    "MetricsEvent",
    "PayloadRejected",
    "PipelineEvent",
    "QualityEvent",
    "SessionPipeline",
]
