"""Pipeline events -> live wire messages (attune.protocol.live)."""

from __future__ import annotations

from attune.hrv.engine import MetricsSnapshot
from attune.pipeline.events import (
    BatteryEvent,
    BeatEvent,
    CalmEvent,
    GapEvent,
    LinkEvent,
    MetricsEvent,
    PayloadRejected,
    PipelineEvent,
    QualityEvent,
)
from attune.protocol.live import (
    BatteryMessage,
    BeatMessage,
    CalmMessage,
    GapMessage,
    LinkMessage,
    LiveMessage,
    MetricQuality,
    MetricsMessage,
    QualityMessage,
    RejectedMessage,
)


def to_live_message(event: PipelineEvent, seq: int) -> LiveMessage:  # noqa: PLR0911 - one per event
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
