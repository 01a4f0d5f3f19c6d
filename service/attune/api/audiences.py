"""Who sees which live message: the one table every live message type must appear in.

Viewer roles are ``therapist`` (the console: everything), ``client`` (the calm-meter: only
what is about the client and meant for them) and ``reviewer`` (nothing live; reviewers use
replay). A type missing from the table reaches the therapist only, and a test fails until
the type is classified, so a new message never leaks to the client view by default.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from attune.store import ParticipantRow

THERAPIST_ONLY = frozenset({"therapist"})
THERAPIST_AND_CLIENT = frozenset({"therapist", "client"})


class Audience(enum.Enum):
    THERAPIST = "therapist"  # the console only
    SUBJECT = "subject"  # the console, and the client view when it is about a client participant
    SESSION = "session"  # the console and the client view (e.g. the breathing pacer)
    ADDRESSED = "addressed"  # the console, and the client view when its "audience" is "client"


@dataclass(frozen=True, slots=True)
class Delivery:
    audience: Audience
    droppable: bool  # a slow viewer may miss it: the next message of its kind supersedes it


# Live message type -> delivery. "session" and "error" are sent to one viewer directly.
LIVE_DELIVERY: Mapping[str, Delivery] = {
    "beat": Delivery(Audience.THERAPIST, droppable=True),
    "metrics": Delivery(Audience.THERAPIST, droppable=True),
    "battery": Delivery(Audience.THERAPIST, droppable=True),
    "rejected": Delivery(Audience.THERAPIST, droppable=True),
    # The client's own calm index drives their calm-meter; the next reading supersedes it.
    "calm": Delivery(Audience.SUBJECT, droppable=True),
    "synchrony": Delivery(Audience.THERAPIST, droppable=True),
    # Cues say who they are for; a cue for the client shows on the calm-meter.
    "cue": Delivery(Audience.ADDRESSED, droppable=False),
    # The client breathes with the pacer on their own screen.
    "pacer": Delivery(Audience.SESSION, droppable=False),
    # The assessment's steps and measurements are for the therapist; the client just follows
    # the pacer it drives.
    "resonance": Delivery(Audience.THERAPIST, droppable=False),
    # Whether the client view shows numbers: the client view applies it.
    "client_view": Delivery(Audience.SESSION, droppable=False),
    "gap": Delivery(Audience.THERAPIST, droppable=False),
    "marker": Delivery(Audience.THERAPIST, droppable=False),
    # The calm-meter must show plainly when the client's own signal is lost (issue 7).
    "quality": Delivery(Audience.SUBJECT, droppable=False),
    "link": Delivery(Audience.SUBJECT, droppable=False),
}
DIRECT_TYPES = frozenset({"session", "error"})
_UNCLASSIFIED = Delivery(Audience.THERAPIST, droppable=False)


def delivery(message_type: str, table: Mapping[str, Delivery] = LIVE_DELIVERY) -> Delivery:
    """How messages of ``message_type`` are delivered (unclassified: therapist only)."""
    return table.get(message_type, _UNCLASSIFIED)


def audience_roles(
    message: BaseModel,
    participants: Mapping[str, ParticipantRow],
    table: Mapping[str, Delivery] = LIVE_DELIVERY,
) -> frozenset[str]:
    """The viewer roles allowed to see ``message``; ``participants`` tells whom it is about."""
    rule = delivery(str(getattr(message, "type", "")), table).audience
    if rule is Audience.SESSION:
        return THERAPIST_AND_CLIENT
    if rule is Audience.SUBJECT:
        about = participants.get(str(getattr(message, "participant", "")))
        is_client = about is not None and about.role == "client"
        return THERAPIST_AND_CLIENT if is_client else THERAPIST_ONLY
    if rule is Audience.ADDRESSED and getattr(message, "audience", None) == "client":
        return THERAPIST_AND_CLIENT
    return THERAPIST_ONLY
