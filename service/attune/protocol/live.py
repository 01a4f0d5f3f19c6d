"""Live protocol v1, service -> browser (docs/protocol.md, "Live").

Every message carries ``seq`` (increasing per session, so a reconnecting browser resumes with
``?after_seq=``) and ``t_s`` (session time in seconds).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from attune.hrv.artefacts import ArtefactKind
from attune.hrv.calm import CalmBand, CalmState
from attune.hrv.quality import Gate
from attune.pipeline.events import LinkState
from attune.sensor.timeline import GapCause


class LiveMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = 1
    seq: int
    t_s: float


class ParticipantInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    role: Literal["therapist", "client", "other"]
    name: str


class SessionPacer(BaseModel):
    """The pacer's setting in force (or waiting for the end of a breath) when a viewer joins."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    breaths_per_min: float = Field(ge=4, le=7)
    exhale_ratio: float = Field(ge=1, le=3)
    effective_s: float
    anchor_s: float
    source: str


class SessionInfo(LiveMessage):
    """Sent to each viewer as it connects. ``show_numbers`` (the client view's setting) and
    ``pacer`` were added to v1 additively, so a viewer that joins late starts from them."""

    type: Literal["session"] = "session"
    session_id: str
    title: str
    participants: list[ParticipantInfo]
    show_numbers: bool = False
    pacer: SessionPacer | None = None


class BeatMessage(LiveMessage):
    type: Literal["beat"] = "beat"
    participant: str
    rr_ms: float
    hr_bpm: float
    after_gap: bool
    artefact: ArtefactKind | None = None


class MetricQuality(BaseModel):
    """One quality gate per metric group (attune.hrv.quality)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    time_domain: Gate
    frequency: Gate
    coherence: Gate
    dfa: Gate
    stress: Gate


class MetricsMessage(LiveMessage):
    """Rolling metrics after a decided beat. The fields after ``provisional`` were added to v1
    additively: all optional, so earlier examples stay valid."""

    type: Literal["metrics"] = "metrics"
    participant: str
    hr_bpm: float | None
    rmssd_ms: float | None
    n_beats: int
    window_s: float
    provisional: bool
    mean_nn_ms: float | None = None
    sdnn_ms: float | None = None
    ln_rmssd: float | None = None
    pnn50_pct: float | None = None
    sd1_ms: float | None = None
    sd2_ms: float | None = None
    n_artefacts: int = 0
    artefact_pct: float = 0.0
    lf_ms2: float | None = None
    hf_ms2: float | None = None
    lf_hf: float | None = None
    lf_nu: float | None = None
    hf_peak_hz: float | None = None
    freq_window_s: float = 0.0
    coherence_ratio: float | None = None
    coherence_peak_fraction: float | None = None
    coherence_peak_hz: float | None = None
    breathing_rate_per_min: float | None = None
    breathing_confidence: float = 0.0
    rsa_amplitude_ms: float | None = None
    dfa_alpha1: float | None = None
    stress_index: float | None = None
    quality: MetricQuality | None = None


class CalmMessage(LiveMessage):
    type: Literal["calm"] = "calm"
    participant: str
    state: CalmState
    calm: float | None = Field(ge=0, le=100)
    band: CalmBand | None
    confidence: float = Field(ge=0, le=1)
    baseline_progress: float = Field(ge=0, le=1)


class SynchronyMessage(LiveMessage):
    """Therapist-client HR synchrony after one window step (attune.dyad)."""

    type: Literal["synchrony"] = "synchrony"
    status: Literal["ok", "warming_up", "signal_gap"]
    confidence: float = Field(ge=0, le=1)
    index: float | None  # peak |Fisher z| of the mean lag profile over the horizon
    lag_s: float | None  # > 0: the therapist's HR changes first
    leader: Literal["therapist", "client", "together", "undetermined"]
    effect_size: float | None  # against the surrogate null
    p_value: float | None
    above_chance: bool
    in_phase: bool | None
    pacer_removed: bool  # the shared pacer frequency was regressed out first


class CueReason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    value: float | str | bool


class CueMessage(LiveMessage):
    """A cue to show; every cue published is recorded as shown (attune.cues)."""

    type: Literal["cue"] = "cue"
    kind: str
    audience: Literal["therapist", "client"]
    text: str
    reason: list[CueReason]


class PacerMessage(LiveMessage):
    """The breathing pacer: in force from ``effective_s``, breaths counted from ``anchor_s``
    (an inhale onset); I:E = 1:``exhale_ratio``. ``breaths_per_min`` is None once stopped."""

    type: Literal["pacer"] = "pacer"
    change: Literal["started", "changed", "stopped"]
    breaths_per_min: float | None = Field(ge=4, le=7)
    exhale_ratio: float | None = Field(ge=1, le=3)
    effective_s: float
    anchor_s: float
    source: str


class ResonanceStep(BaseModel):
    """What one step of a resonance assessment measured (attune.cues.resonance)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    index: int
    breaths_per_min: float
    start_s: float
    end_s: float
    valid: bool
    coverage: float
    lf_peak_hz: float | None = None
    lf_peak_power_ms2: float | None = None
    peak_to_trough_bpm: float | None = None
    coherence_ratio: float | None = None
    hr_pacer_phase_deg: float | None = None


class ResonanceMessage(LiveMessage):
    """A resonance-frequency assessment moved on: a step started or was measured, it finished
    (``resonance_bpm``: the picked rate, None if too few steps were measurable) or was
    cancelled. ``step`` counts from 0."""

    type: Literal["resonance"] = "resonance"
    state: Literal["running", "finished", "cancelled"]
    started_s: float
    step: int | None
    breaths_per_min: float | None
    step_end_s: float | None
    steps: list[ResonanceStep]
    resonance_bpm: float | None = None
    reason: str | None = None


class ClientViewMessage(LiveMessage):
    """The therapist changed what the client view shows (numbers besides the calm meter)."""

    type: Literal["client_view"] = "client_view"
    show_numbers: bool


class GapMessage(LiveMessage):
    type: Literal["gap"] = "gap"
    participant: str
    start_s: float
    end_s: float
    cause: GapCause


class QualityMessage(LiveMessage):
    type: Literal["quality"] = "quality"
    participant: str
    contact: bool | None
    gap_open: GapCause | None


class LinkMessage(LiveMessage):
    type: Literal["link"] = "link"
    participant: str
    state: LinkState
    reason: str | None


class BatteryMessage(LiveMessage):
    type: Literal["battery"] = "battery"
    participant: str
    level_pct: int


class RejectedMessage(LiveMessage):
    type: Literal["rejected"] = "rejected"
    participant: str
    reason: str
    rejected_total: int


class MarkerMessage(LiveMessage):
    """A therapist's marker at session time ``t_s``."""

    type: Literal["marker"] = "marker"
    id: str
    text: str


class ErrorMessage(LiveMessage):
    type: Literal["error"] = "error"
    code: str
    reason: str


AnyLiveMessage = Annotated[
    SessionInfo
    | BeatMessage
    | MetricsMessage
    | CalmMessage
    | SynchronyMessage
    | CueMessage
    | PacerMessage
    | ResonanceMessage
    | ClientViewMessage
    | GapMessage
    | QualityMessage
    | LinkMessage
    | BatteryMessage
    | RejectedMessage
    | MarkerMessage
    | ErrorMessage,
    Field(discriminator="type"),
]
live_message: TypeAdapter[LiveMessage] = TypeAdapter(AnyLiveMessage)
