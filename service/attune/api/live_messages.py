"""Pipeline events -> live wire messages (attune.protocol.live)."""

from __future__ import annotations

from attune.cues.pacer import PacerEvent
from attune.dyad.state import SynchronyState
from attune.hrv.engine import MetricsSnapshot
from attune.pipeline.events import (
    BatteryEvent,
    BeatEvent,
    CalmEvent,
    CueEvent,
    GapEvent,
    LinkEvent,
    MetricsEvent,
    PacerChanged,
    PayloadRejected,
    PipelineEvent,
    QualityEvent,
    ResonanceEvent,
    ResonanceStatus,
    SynchronyEvent,
)
from attune.protocol.live import (
    BatteryMessage,
    BeatMessage,
    CalmMessage,
    CueMessage,
    CueReason,
    GapMessage,
    LinkMessage,
    LiveMessage,
    MetricQuality,
    MetricsMessage,
    PacerMessage,
    QualityMessage,
    RejectedMessage,
    ResonanceMessage,
    ResonanceStep,
    SessionPacer,
    SynchronyMessage,
)


def to_live_message(event: PipelineEvent, seq: int) -> LiveMessage:  # noqa: PLR0911, C901 - one per event
    """The wire form of one pipeline event."""
    match event:
        case BeatEvent(participant_id, beat, artefact):
            return BeatMessage(
                seq=seq,
                t_s=beat.t_s,
                participant=participant_id,
                rr_ms=beat.rr_ms,
                hr_bpm=60000.0 / beat.rr_ms,
                after_gap=beat.after_gap,
                artefact=artefact,
            )
        case MetricsEvent(participant_id, snapshot):
            return _metrics_message(participant_id, snapshot, seq)
        case CalmEvent(participant_id, r):
            return CalmMessage(
                seq=seq,
                t_s=r.t_s,
                participant=participant_id,
                state=r.state,
                calm=r.calm,
                band=r.band,
                confidence=r.confidence,
                baseline_progress=r.baseline_progress,
            )
        case GapEvent(participant_id, gap):
            return GapMessage(
                seq=seq,
                t_s=gap.end_s,
                participant=participant_id,
                start_s=gap.start_s,
                end_s=gap.end_s,
                cause=gap.cause,
            )
        case QualityEvent(participant_id, t_s, contact, gap_open):
            return QualityMessage(
                seq=seq, t_s=t_s, participant=participant_id, contact=contact, gap_open=gap_open
            )
        case LinkEvent(participant_id, t_s, state, reason):
            return LinkMessage(
                seq=seq, t_s=t_s, participant=participant_id, state=state, reason=reason
            )
        case BatteryEvent(participant_id, t_s, level_pct):
            return BatteryMessage(seq=seq, t_s=t_s, participant=participant_id, level_pct=level_pct)
        case PayloadRejected(participant_id, t_s, reason, total):
            return RejectedMessage(
                seq=seq, t_s=t_s, participant=participant_id, reason=reason, rejected_total=total
            )
        case SynchronyEvent(state):
            return _synchrony_message(state, seq)
        case CueEvent(cue):
            return CueMessage(
                seq=seq,
                t_s=cue.t_s,
                kind=cue.kind.value,
                audience=cue.audience.value,
                text=cue.text,
                reason=[CueReason(name=r.name, value=r.value) for r in cue.reason],
            )
        case PacerChanged(pacer):
            return _pacer_message(pacer, seq)
        case ResonanceEvent(status):
            return resonance_message(status, seq)


def _synchrony_message(s: SynchronyState, seq: int) -> SynchronyMessage:
    return SynchronyMessage(
        seq=seq,
        t_s=s.t_s,
        status=s.status.value,
        confidence=s.confidence,
        index=s.index,
        lag_s=s.lag_s,
        leader=s.leader.value,
        effect_size=s.effect_size,
        p_value=s.p_value,
        above_chance=s.above_chance,
        in_phase=s.in_phase,
        pacer_removed=s.pacer_removed,
    )


def _pacer_message(event: PacerEvent, seq: int) -> PacerMessage:
    settings = event.settings
    return PacerMessage(
        seq=seq,
        t_s=event.t_s,
        change=event.change.value,
        breaths_per_min=settings.breaths_per_min if settings else None,
        exhale_ratio=settings.exhale_ratio if settings else None,
        effective_s=event.effective_s,
        anchor_s=event.anchor_s,
        source=event.source,
    )


def session_pacer(event: PacerEvent | None) -> SessionPacer | None:
    """The pacer setting a viewer joining now starts from (None: the pacer is off)."""
    if event is None or event.settings is None:
        return None
    return SessionPacer(
        breaths_per_min=event.settings.breaths_per_min,
        exhale_ratio=event.settings.exhale_ratio,
        effective_s=event.effective_s,
        anchor_s=event.anchor_s,
        source=event.source,
    )


def resonance_message(status: ResonanceStatus, seq: int) -> ResonanceMessage:
    """The wire form of an assessment's status (also what the REST API returns, seq aside)."""
    return ResonanceMessage(
        seq=seq,
        t_s=status.t_s,
        state=status.state.value,
        started_s=status.started_s,
        step=status.step,
        breaths_per_min=status.breaths_per_min,
        step_end_s=status.step_end_s,
        steps=[
            ResonanceStep(
                index=m.index,
                breaths_per_min=m.breaths_per_min,
                start_s=m.start_s,
                end_s=m.end_s,
                valid=m.valid,
                coverage=m.coverage,
                lf_peak_hz=m.lf_peak_hz,
                lf_peak_power_ms2=m.lf_peak_power_ms2,
                peak_to_trough_bpm=m.peak_to_trough_bpm,
                coherence_ratio=m.coherence_ratio,
                hr_pacer_phase_deg=m.hr_pacer_phase_deg,
            )
            for m in status.steps
        ],
        resonance_bpm=status.resonance_bpm,
        reason=status.reason,
    )


def _metrics_message(participant_id: str, s: MetricsSnapshot, seq: int) -> MetricsMessage:
    slow, q = s.slow, s.quality
    return MetricsMessage(
        seq=seq,
        t_s=s.t_s,
        participant=participant_id,
        hr_bpm=s.hr_bpm,
        rmssd_ms=s.rmssd_ms,
        n_beats=s.n_beats,
        window_s=s.window_s,
        provisional=s.provisional,
        mean_nn_ms=s.mean_nn_ms,
        sdnn_ms=s.sdnn_ms,
        ln_rmssd=s.ln_rmssd,
        pnn50_pct=s.pnn50_pct,
        sd1_ms=s.sd1_ms,
        sd2_ms=s.sd2_ms,
        n_artefacts=s.n_artefacts,
        artefact_pct=s.artefact_pct,
        lf_ms2=slow.lf_ms2,
        hf_ms2=slow.hf_ms2,
        lf_hf=slow.lf_hf,
        lf_nu=slow.lf_nu,
        hf_peak_hz=slow.hf_peak_hz,
        freq_window_s=slow.freq_window_s,
        coherence_ratio=slow.coherence_ratio,
        coherence_peak_fraction=slow.coherence_peak_fraction,
        coherence_peak_hz=slow.coherence_peak_hz,
        breathing_rate_per_min=slow.breathing_rate_per_min,
        breathing_confidence=slow.breathing_confidence,
        rsa_amplitude_ms=slow.rsa_amplitude_ms,
        dfa_alpha1=slow.dfa_alpha1,
        stress_index=slow.stress_index,
        quality=MetricQuality(
            time_domain=q.time_domain,
            frequency=q.frequency,
            coherence=q.coherence,
            dfa=q.dfa,
            stress=q.stress,
        ),
    )
