"""Re-analysis of a recorded session through the same stream, with other engine settings.

CPU-bound and pure: the callers run these in a worker thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from attune.api.models import AnalysisOut, ParticipantAnalysisOut
from attune.api.stream import AnyInput, SessionStream, StreamSetup, engine_config_json
from attune.hrv.engine import EngineConfig
from attune.protocol.live import BeatMessage, GapMessage, LiveMessage, MetricsMessage
from attune.store import ParticipantRow


def run_stream(
    inputs: Sequence[AnyInput],
    origin_s: float,
    config: EngineConfig,
    *,
    finish: bool = False,
    setup: StreamSetup | None = None,
) -> list[LiveMessage]:
    """Every live message the inputs produce with ``config``, numbered from 1; with
    ``finish``, also the last beats, which live never showed (they await the screen's
    look-ahead when the recording ends). ``setup`` gives the roles (for synchrony, cues
    and the pacer), stored baselines and cue settings the session ran with."""
    stream = SessionStream(origin_s, (setup or StreamSetup()).pipeline(config))
    messages: list[LiveMessage] = []
    for item in inputs:
        messages += stream.feed(item)
    if finish:
        messages += stream.finish()
    return messages


def analyse(
    inputs: Sequence[AnyInput],
    origin_s: float,
    config: EngineConfig,
    participants: Sequence[ParticipantRow],
    setup: StreamSetup | None = None,
) -> AnalysisOut:
    """Metrics after every beat, and the gaps, per participant."""
    metrics: dict[str, list[MetricsMessage]] = defaultdict(list)
    gaps: dict[str, list[GapMessage]] = defaultdict(list)
    beats: dict[str, int] = defaultdict(int)
    for message in run_stream(inputs, origin_s, config, finish=True, setup=setup):
        if isinstance(message, MetricsMessage):
            metrics[message.participant].append(message)
        elif isinstance(message, GapMessage):
            gaps[message.participant].append(message)
        elif isinstance(message, BeatMessage):
            beats[message.participant] += 1
    return AnalysisOut(
        engine=engine_config_json(config),
        participants=[
            ParticipantAnalysisOut(
                participant_id=p.id,
                role=p.role,
                beats_n=beats[p.id],
                metrics=metrics[p.id],
                gaps=gaps[p.id],
            )
            for p in participants
        ],
    )
