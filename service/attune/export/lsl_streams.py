"""What Attune publishes on Lab Streaming Layer, and how live messages become samples.

Per participant, irregular-rate float32 streams (LSL has no HR/RR content type, so the types
name what they hold, ecosystem.md §1.1):

- ``HR`` (1 channel, bpm) and ``RR`` (rr_ms; artefact and after_gap as 0/1) at every beat;
- ``HRV`` (the rolling metrics, NaN where not yet defined) after every beat;
- ``Calm`` (calm index, confidence, baseline progress) at most once a second;

per session a ``Markers`` string stream (markers, cues, pacer changes, gaps, link changes)
and a ``Synchrony`` stream once synchrony messages exist. Every stream has a ``source_id``
derived from the session and participant ids (``attune.<session>.<participant>.<kind>``), so
a recorder that loses a stream (a restart of the service) finds it again. Names and types
carry no personal data: LSL streams are visible to anyone on the network.

Each sample is stamped with its session time converted to the LSL clock
(``lsl_timestamp``), so a beat carries the time of its R wave, not of its publication.
Pure: no pylsl here (``lsl.py`` does the I/O).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from attune.protocol.live import (
    BeatMessage,
    CalmMessage,
    CueMessage,
    GapMessage,
    LinkMessage,
    LiveMessage,
    MarkerMessage,
    MetricsMessage,
    PacerMessage,
    SynchronyMessage,
)

Kind = Literal["hr", "rr", "hrv", "calm", "markers", "synchrony"]


@dataclass(frozen=True, slots=True)
class Channel:
    label: str
    unit: str


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One LSL stream: what ``StreamInfo`` and its ``desc()`` say."""

    source_id: str
    name: str
    type: str
    channels: tuple[Channel, ...]
    channel_format: Literal["float32", "string"]
    session_id: str
    participant_id: str | None = None
    label: str | None = None  # the participant's role ("client", "other2")


@dataclass(frozen=True, slots=True)
class Sample:
    source_id: str
    values: tuple[float, ...] | tuple[str, ...]
    t_s: float  # session time


HRV_FIELDS = (
    ("hr_bpm", "bpm"),
    ("rmssd_ms", "ms"),
    ("sdnn_ms", "ms"),
    ("ln_rmssd", "ln(ms)"),
    ("pnn50_pct", "%"),
    ("artefact_pct", "%"),
    ("lf_ms2", "ms^2"),
    ("hf_ms2", "ms^2"),
    ("lf_hf", "ratio"),
    ("coherence_ratio", "ratio"),
    ("breathing_rate_per_min", "1/min"),
    ("rsa_amplitude_ms", "ms"),
    ("dfa_alpha1", "a.u."),
    ("stress_index", "a.u."),
)
RR_FLAGS = ("artefact", "after_gap")
CALM_FIELDS = (("calm", "0-100"), ("confidence", "0-1"), ("baseline_progress", "0-1"))
SYNCHRONY_FIELDS = (
    ("index", "z"),
    ("lag_s", "s"),
    ("effect_size", "SD"),
    ("p_value", "p"),
    ("confidence", "fraction"),
)


def source_id(session_id: str, participant_id: str | None, kind: Kind) -> str:
    """The stable source id of a stream."""
    return ".".join(["attune", session_id, *([participant_id] if participant_id else []), kind])


def participant_streams(session_id: str, participant_id: str, label: str) -> tuple[StreamSpec, ...]:
    """The HR, RR, HRV and Calm streams of one participant."""

    def spec(kind: Kind, type_: str, channels: tuple[Channel, ...]) -> StreamSpec:
        return StreamSpec(
            source_id=source_id(session_id, participant_id, kind),
            name=f"Attune {session_id[:8]} {label} {type_}",
            type=type_,
            channels=channels,
            channel_format="float32",
            session_id=session_id,
            participant_id=participant_id,
            label=label,
        )

    return (
        spec("hr", "HR", (Channel("hr", "bpm"),)),
        spec("rr", "RR", (Channel("rr", "ms"), *(Channel(n, "0/1") for n in RR_FLAGS))),
        spec("hrv", "HRV", tuple(Channel(name, unit) for name, unit in HRV_FIELDS)),
        spec("calm", "Calm", tuple(Channel(name, unit) for name, unit in CALM_FIELDS)),
    )


def session_streams(session_id: str) -> tuple[StreamSpec, ...]:
    """The session's Markers stream and its Synchrony stream."""
    return (
        StreamSpec(
            source_id=source_id(session_id, None, "markers"),
            name=f"Attune {session_id[:8]} markers",
            type="Markers",
            channels=(Channel("event", "text"),),
            channel_format="string",
            session_id=session_id,
        ),
        StreamSpec(
            source_id=source_id(session_id, None, "synchrony"),
            name=f"Attune {session_id[:8]} synchrony",
            type="Synchrony",
            channels=(*(Channel(n, u) for n, u in SYNCHRONY_FIELDS), Channel("above", "0/1")),
            channel_format="float32",
            session_id=session_id,
        ),
    )


def _number(value: float | bool | None) -> float:
    return math.nan if value is None else float(value)


def samples(session_id: str, message: LiveMessage, labels: Mapping[str, str]) -> list[Sample]:
    """The samples a live message makes (none for kinds LSL does not carry); ``labels`` name
    the participants in marker texts."""
    numbers = _numbers(message)
    if numbers is not None:
        kind, participant, values = numbers
        return [Sample(source_id(session_id, participant, kind), values, message.t_s)]
    if isinstance(message, BeatMessage):
        p, flags = message.participant, (message.artefact is not None, message.after_gap)
        return [
            Sample(source_id(session_id, p, "hr"), (message.hr_bpm,), message.t_s),
            Sample(
                source_id(session_id, p, "rr"), (message.rr_ms, *map(float, flags)), message.t_s
            ),
        ]
    text = _marker_text(message, labels)
    if text is None:
        return []
    return [Sample(source_id(session_id, None, "markers"), (text,), message.t_s)]


def _numbers(message: LiveMessage) -> tuple[Kind, str | None, tuple[float, ...]] | None:
    """The numeric streams other than HR and RR: kind, participant and values."""
    match message:
        case MetricsMessage(participant=p):
            return "hrv", p, tuple(_number(getattr(message, n)) for n, _ in HRV_FIELDS)
        case CalmMessage(participant=p):
            return "calm", p, tuple(_number(getattr(message, n)) for n, _ in CALM_FIELDS)
        case SynchronyMessage():
            values = tuple(_number(getattr(message, n)) for n, _ in SYNCHRONY_FIELDS)
            return "synchrony", None, (*values, float(message.above_chance))
    return None


def _marker_text(message: LiveMessage, labels: Mapping[str, str]) -> str | None:
    match message:
        case MarkerMessage():
            return f"marker: {message.text}"
        case CueMessage():
            return f"cue {message.audience} {message.kind}: {message.text}"
        case PacerMessage():
            rate = "" if message.breaths_per_min is None else f" {message.breaths_per_min:g}/min"
            return f"pacer {message.change}{rate}"
        case GapMessage(participant=p):
            duration = message.end_s - message.start_s
            return f"gap {labels.get(p, p)} {message.cause.value} {duration:.1f} s"
        case LinkMessage(participant=p):
            return f"link {labels.get(p, p)} {message.state.value}"
    return None


def lsl_timestamp(t_s: float, origin_s: float, wall_now_s: float, lsl_now_s: float) -> float:
    """Session time ``t_s`` on the LSL clock, from one reading of the wall clock and the LSL
    clock taken together (``origin_s``: the session's start on the wall clock)."""
    return lsl_now_s - (wall_now_s - (origin_s + t_s))
