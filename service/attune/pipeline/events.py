"""What the session pipeline emits; the API turns these into live wire messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from attune.cues.model import Cue
from attune.cues.pacer import PacerEvent
from attune.cues.resonance import StepMeasurement
from attune.dyad.state import SynchronyState
from attune.hrv.artefacts import ArtefactKind
from attune.hrv.calm import CalmReading
from attune.hrv.engine import MetricsSnapshot
from attune.sensor.timeline import Beat, Gap, GapCause


class LinkState(enum.StrEnum):
    """States of a collector's link to its strap (collector link state machine)."""

    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    LOST = "lost"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class BeatEvent:
    """A beat once the artefact screen decided it (two beats after it arrived)."""

    participant_id: str
    beat: Beat
    artefact: ArtefactKind | None = None


@dataclass(frozen=True, slots=True)
class MetricsEvent:
    participant_id: str
    snapshot: MetricsSnapshot


@dataclass(frozen=True, slots=True)
class CalmEvent:
    """The calm meter moved (at most once a second) or changed state."""

    participant_id: str
    reading: CalmReading


@dataclass(frozen=True, slots=True)
class GapEvent:
    participant_id: str
    gap: Gap


@dataclass(frozen=True, slots=True)
class QualityEvent:
    """Signal quality changed: skin contact, or a gap opened or closed."""

    participant_id: str
    t_s: float
    contact: bool | None
    gap_open: GapCause | None


@dataclass(frozen=True, slots=True)
class LinkEvent:
    participant_id: str
    t_s: float
    state: LinkState
    reason: str | None


@dataclass(frozen=True, slots=True)
class BatteryEvent:
    participant_id: str
    t_s: float
    level_pct: int


@dataclass(frozen=True, slots=True)
class PayloadRejected:
    """A notification that could not be decoded; recorded and counted, never fatal."""

    participant_id: str
    t_s: float
    reason: str
    rejected_total: int


@dataclass(frozen=True, slots=True)
class SynchronyEvent:
    """Therapist-client synchrony after one window step."""

    state: SynchronyState


@dataclass(frozen=True, slots=True)
class CueEvent:
    """A cue to show (and record as shown)."""

    cue: Cue


@dataclass(frozen=True, slots=True)
class PacerChanged:
    """The pacer started, changed or stopped."""

    event: PacerEvent


class AssessmentState(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ResonanceStatus:
    """Where a resonance assessment stands: the current step (index from 0) and its rate,
    the steps measured so far and, once finished, the picked rate (None: none measurable)."""

    t_s: float
    state: AssessmentState
    started_s: float
    step: int | None
    breaths_per_min: float | None
    step_end_s: float | None
    steps: tuple[StepMeasurement, ...] = ()
    resonance_bpm: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ResonanceEvent:
    status: ResonanceStatus


CoregEvent = SynchronyEvent | CueEvent | PacerChanged | ResonanceEvent

PipelineEvent = (
    BeatEvent
    | MetricsEvent
    | CalmEvent
    | GapEvent
    | QualityEvent
    | LinkEvent
    | BatteryEvent
    | PayloadRejected
    | CoregEvent
)
