"""A session's inputs -> the pure pipeline -> numbered live messages.

One ``SessionStream`` serves live ingest, the rebuild after a restart, replay and
re-analysis, so all of them produce the same messages from the same inputs. It does no I/O.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import JsonValue

from attune.api.live_messages import to_live_message
from attune.errors import ConfigError
from attune.hrv.engine import EngineConfig
from attune.pipeline import PipelineEvent, SessionPipeline
from attune.protocol.ingest import Batch, Link, SeqMessage
from attune.protocol.live import LiveMessage, MarkerMessage
from attune.store import MarkerRow, RecordedInput, SessionInput


@dataclass(slots=True)
class SessionStream:
    """Feeds inputs through a ``SessionPipeline``; times become session seconds from
    ``origin_s`` and every resulting message gets the next ``seq``."""

    origin_s: float
    pipeline: SessionPipeline = field(default_factory=SessionPipeline)
    last_seq: dict[str, int] = field(default_factory=dict)
    live_seq: int = 0

    def is_late(self, participant_id: str, seq: int) -> bool:
        """A seq below one already fed for the participant arrives too late to show live."""
        return seq < self.last_seq.get(participant_id, -1)

    def feed(self, item: SessionInput) -> list[LiveMessage]:
        """Apply one input and return the live messages it produced."""
        if isinstance(item, MarkerRow):
            self.live_seq += 1
            return [MarkerMessage(seq=self.live_seq, t_s=item.t_s, id=item.id, text=item.text)]
        seq = max(item.seq, self.last_seq.get(item.participant_id, -1))
        self.last_seq[item.participant_id] = seq
        return self._number(self._events(item.participant_id, item.message))

    def finish(self) -> list[LiveMessage]:
        """The messages of the beats still pending at the end of the inputs."""
        return self._number(self.pipeline.flush())

    def _events(self, participant_id: str, message: SeqMessage) -> list[PipelineEvent]:
        if isinstance(message, Batch):
            events: list[PipelineEvent] = []
            for n in message.notifications:
                t_s = n.received_at_s - self.origin_s
                events += self.pipeline.notification(participant_id, t_s, n.payload)
            return events
        t_s = message.at_s - self.origin_s
        if isinstance(message, Link):
            return self.pipeline.link(participant_id, t_s, message.state, message.reason)
        return self.pipeline.battery(participant_id, t_s, message.level_pct)

    def _number(self, events: list[PipelineEvent]) -> list[LiveMessage]:
        out = []
        for event in events:
            self.live_seq += 1
            out.append(to_live_message(event, self.live_seq))
        return out


def live_order(inputs: Iterable[SessionInput]) -> list[SessionInput]:
    """The inputs the live pipeline consumed: late collector messages were only recorded."""
    return [i for i in inputs if not (isinstance(i, RecordedInput) and not i.live)]


def engine_config(overrides: Mapping[str, float | int | bool]) -> EngineConfig:
    """``EngineConfig`` with some fields replaced; ConfigError names a field that does not
    exist or a value of the wrong kind (the engine's own checks apply on top)."""
    base = EngineConfig()
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    for name, value in overrides.items():
        if name not in fields:
            raise ConfigError(f"unknown engine setting {name!r}; known: {', '.join(fields)}")
        default = fields[name]
        numeric = isinstance(default, float) and isinstance(value, int | float)
        if type(value) is not type(default) and not (numeric and not isinstance(value, bool)):
            raise ConfigError(f"engine setting {name!r} takes a {type(default).__name__}")
    if "window_s" in overrides and "min_window_s" not in overrides:
        # A shorter window brings its trust threshold down with it, unless that is given too.
        overrides = {**overrides, "min_window_s": min(base.min_window_s, overrides["window_s"])}
    try:
        return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"engine settings refused: {exc}") from exc


def engine_config_json(config: EngineConfig) -> dict[str, JsonValue]:
    """The settings as plain JSON (what a replay or an analysis reports it used)."""
    data: dict[str, JsonValue] = json.loads(json.dumps(dataclasses.asdict(config), default=str))
    return data
