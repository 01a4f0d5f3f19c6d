"""A session's inputs -> the pure pipeline -> numbered live messages.

One ``SessionStream`` serves live ingest, the rebuild after a restart, replay and
re-analysis, so all of them produce the same messages from the same inputs. It does no I/O.
Inputs are collector messages, markers and session controls (the pacer, the resonance
assessment and the client view's setting, committed like markers).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import JsonValue

from attune.api.live_messages import to_live_message
from attune.cues.config import CueConfig, default_cue_config
from attune.cues.pacer import PacerSettings
from attune.dyad.state import Role
from attune.errors import ConfigError
from attune.hrv.calm import CalmBaseline
from attune.hrv.engine import EngineConfig
from attune.pipeline import PipelineEvent, SessionPipeline
from attune.pipeline.coreg import CoRegulation
from attune.protocol.ingest import Batch, Link, SeqMessage
from attune.protocol.live import ClientViewMessage, LiveMessage, MarkerMessage
from attune.store import ControlRow, MarkerRow, ParticipantRow, RecordedInput, SessionInput

AnyInput = SessionInput | ControlRow

# Session control kinds (``ControlRow.kind``) and their bodies.
PACER_SET = "pacer"  # {"breaths_per_min", "exhale_ratio", "source"}
PACER_STOP = "pacer_stop"  # {"source"}
RESONANCE_START = "resonance_start"  # {}
RESONANCE_CANCEL = "resonance_cancel"  # {}
CLIENT_VIEW = "client_view"  # {"show_numbers"}


@dataclass(frozen=True, slots=True)
class StreamSetup:
    """What a session's stream starts from besides its inputs: who is therapist and who is
    client, calm baselines stored by earlier sessions, and the cue settings."""

    roles: Mapping[str, Role] = field(default_factory=dict)
    baselines: Mapping[str, CalmBaseline] = field(default_factory=dict)
    cue_config: CueConfig = field(default_factory=default_cue_config)

    @classmethod
    def of(
        cls,
        participants: Iterable[ParticipantRow],
        client_baseline: CalmBaseline | None = None,
        cue_config: CueConfig | None = None,
    ) -> StreamSetup:
        """Roles from the participants (one therapist and one client make the dyad); the
        client's stored baseline applies to every client participant."""
        roles = {p.id: Role(p.role) for p in participants if p.role in ("therapist", "client")}
        baselines = {
            pid: client_baseline
            for pid, role in roles.items()
            if role is Role.CLIENT and client_baseline is not None
        }
        return cls(roles, baselines, cue_config or default_cue_config())

    def pipeline(self, engine: EngineConfig | None = None) -> SessionPipeline:
        return SessionPipeline(
            engine_config=engine or EngineConfig(),
            baselines=dict(self.baselines),
            roles=dict(self.roles),
            coreg=CoRegulation(self.cue_config),
        )


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

    def feed(self, item: AnyInput) -> list[LiveMessage]:
        """Apply one input and return the live messages it produced."""
        if isinstance(item, MarkerRow):
            self.live_seq += 1
            return [MarkerMessage(seq=self.live_seq, t_s=item.t_s, id=item.id, text=item.text)]
        if isinstance(item, ControlRow):
            return self._control(item)
        seq = max(item.seq, self.last_seq.get(item.participant_id, -1))
        self.last_seq[item.participant_id] = seq
        return self._number(self._events(item.participant_id, item.message))

    def finish(self) -> list[LiveMessage]:
        """The messages of the beats still pending at the end of the inputs."""
        return self._number(self.pipeline.flush())

    def _control(self, item: ControlRow) -> list[LiveMessage]:
        body = item.body if isinstance(item.body, dict) else {}
        if item.kind == CLIENT_VIEW:
            self.live_seq += 1
            show = bool(body.get("show_numbers"))
            return [ClientViewMessage(seq=self.live_seq, t_s=item.t_s, show_numbers=show)]
        source = str(body.get("source", "therapist"))
        p = self.pipeline
        if item.kind == PACER_SET:
            rate, ratio = body.get("breaths_per_min"), body.get("exhale_ratio")
            if not isinstance(rate, int | float) or not isinstance(ratio, int | float):
                raise ConfigError(f"pacer control {item.id} lacks its rate or ratio")
            return self._number(p.set_pacer(item.t_s, PacerSettings(rate, ratio), source))
        if item.kind == PACER_STOP:
            return self._number(p.stop_pacer(item.t_s, source))
        if item.kind == RESONANCE_START:
            # Committed only when none was running, so this holds on any replay too.
            return [] if p.coreg.assessing else self._number(p.start_resonance(item.t_s))
        if item.kind == RESONANCE_CANCEL:
            return self._number(p.cancel_resonance(item.t_s))
        raise ConfigError(f"unknown session control {item.kind!r}")

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


def live_order(inputs: Iterable[AnyInput]) -> list[AnyInput]:
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
