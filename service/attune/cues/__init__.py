"""Pure co-regulation cues: the cue policy (rules with hysteresis, tuned by a TOML file), the
breathing pacer, and the resonance-frequency assessment."""

from attune.cues.config import CueConfig, default_cue_config, load_cue_config, parse_cue_config
from attune.cues.model import Audience, Cue, CueKind, ParticipantSnapshot, Reason
from attune.cues.pacer import (
    Pacer,
    PacerChange,
    PacerEvent,
    PacerPhase,
    PacerSettings,
    Stage,
    pacer_phase,
)
from attune.cues.policy import CuePolicy
from attune.cues.resonance import (
    AssessmentEvent,
    AssessmentFinished,
    ResonanceAssessment,
    ResonanceProtocol,
    ResonanceResult,
    StepMeasured,
    StepMeasurement,
    StepStarted,
)

__all__ = [
    "AssessmentEvent",
    "AssessmentFinished",
    "Audience",
    "Cue",
    "CueConfig",
    "CueKind",
    "CuePolicy",
    "Pacer",
    "PacerChange",
    "PacerEvent",
    "PacerPhase",
    "PacerSettings",
    "ParticipantSnapshot",
    "Reason",
    "ResonanceAssessment",
    "ResonanceProtocol",
    "ResonanceResult",
    "Stage",
    "StepMeasured",
    "StepMeasurement",
    "StepStarted",
    "default_cue_config",
    "load_cue_config",
    "pacer_phase",
    "parse_cue_config",
]
