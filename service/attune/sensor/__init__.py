"""Pure sensor layer: the Heart Rate Measurement codec and beat timeline reconstruction."""

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm, parse_hrm
from attune.sensor.timeline import Beat, BeatTimeline, Gap, GapCause, TimelineUpdate

__all__ = [
    "Beat",
    "BeatTimeline",
    "Gap",
    "GapCause",
    "HeartRateMeasurement",
    "TimelineUpdate",
    "encode_hrm",
    "parse_hrm",
]
