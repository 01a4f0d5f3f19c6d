"""Pipeline events -> live wire messages (attune.protocol.live)."""

from __future__ import annotations

from attune.pipeline.events import (
    BatteryEvent,
    BeatEvent,
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
    GapMessage,
    LinkMessage,
    LiveMessage,
    MetricsMessage,
    QualityMessage,
    RejectedMessage,
)


def to_live_message(event: PipelineEvent, seq: int) -> LiveMessage:  # noqa: PLR0911 - one per event
    """The wire form of one pipeline event."""
    match event:
        case BeatEvent(participant_id, beat):
            return BeatMessage(
                seq=seq,
                t_s=beat.t_s,
                participant=participant_id,
                rr_ms=beat.rr_ms,
                hr_bpm=60000.0 / beat.rr_ms,
                after_gap=beat.after_gap,
            )
        case MetricsEvent(participant_id, s):
            return MetricsMessage(
                seq=seq,
                t_s=s.t_s,
                participant=participant_id,
                hr_bpm=s.hr_bpm,
                rmssd_ms=s.rmssd_ms,
                n_beats=s.n_beats,
                window_s=s.window_s,
                provisional=s.provisional,
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
