"""The live audience table: every message type is classified, the docs show the table as it
is, and each rule lets the client view see only what it may."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from attune.api.audiences import (
    DIRECT_TYPES,
    LIVE_DELIVERY,
    THERAPIST_AND_CLIENT,
    THERAPIST_ONLY,
    Audience,
    Delivery,
    audience_roles,
)
from attune.protocol.live import (
    AnyLiveMessage,
    BeatMessage,
    CueMessage,
    LinkMessage,
    PacerMessage,
    QualityMessage,
    SynchronyMessage,
)
from attune.store import ParticipantRow

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"
PARTICIPANTS = {
    "t": ParticipantRow("t", "s", "therapist", "Therapist", "", ""),
    "c": ParticipantRow("c", "s", "client", "Client", "", ""),
}
CLIENT_COLUMN = {
    "no": Audience.THERAPIST,
    "only about the client's own strap": Audience.SUBJECT,
    "yes": Audience.SESSION,
    "when addressed to the client": Audience.ADDRESSED,
}


def test_every_live_message_type_is_classified() -> None:
    union = get_args(get_args(AnyLiveMessage)[0])
    types = {model.model_fields["type"].default for model in union}
    assert types == set(LIVE_DELIVERY) | DIRECT_TYPES


def test_the_protocol_doc_shows_the_table_as_it_is() -> None:
    text = DOC.read_text()
    table = text[text.index("| type | therapist | client view |") :].split("\n\n")[0]
    documented = {}
    for row in table.splitlines()[2:]:
        types, therapist, client, droppable = (cell.strip() for cell in row.strip("|").split("|"))
        assert therapist == "yes"
        for name in re.findall(r"`(\w+)`", types):
            documented[name] = Delivery(CLIENT_COLUMN[client], droppable == "yes")
    assert documented == dict(LIVE_DELIVERY)


def beat(participant: str) -> BeatMessage:
    return BeatMessage(
        seq=1, t_s=0.0, participant=participant, rr_ms=800, hr_bpm=75, after_gap=False
    )


@pytest.mark.parametrize("participant", ["t", "c", "unknown"])
def test_beats_reach_the_therapist_only(participant) -> None:
    assert audience_roles(beat(participant), PARTICIPANTS) == THERAPIST_ONLY


@pytest.mark.parametrize(
    ("participant", "roles"),
    [("c", THERAPIST_AND_CLIENT), ("t", THERAPIST_ONLY), ("x", THERAPIST_ONLY)],
)
def test_signal_state_reaches_the_client_only_about_their_own_strap(participant, roles) -> None:
    quality = QualityMessage(seq=1, t_s=0, participant=participant, contact=False, gap_open=None)
    link = LinkMessage(seq=2, t_s=0, participant=participant, state="lost", reason=None)
    assert audience_roles(quality, PARTICIPANTS) == roles
    assert audience_roles(link, PARTICIPANTS) == roles


def test_cues_reach_the_client_only_when_addressed_to_them() -> None:
    for audience, roles in (("client", THERAPIST_AND_CLIENT), ("therapist", THERAPIST_ONLY)):
        cue = CueMessage(seq=1, t_s=0, kind="attuned", audience=audience, text="", reason=[])
        assert audience_roles(cue, PARTICIPANTS) == roles


def test_the_pacer_reaches_everyone_and_synchrony_the_therapist_only() -> None:
    pacer = PacerMessage(
        seq=1,
        t_s=0,
        change="started",
        breaths_per_min=6,
        exhale_ratio=1.5,
        effective_s=0,
        anchor_s=0,
        source="therapist",
    )
    synchrony = SynchronyMessage(
        seq=2,
        t_s=0,
        status="warming_up",
        confidence=0,
        index=None,
        lag_s=None,
        leader="undetermined",
        effect_size=None,
        p_value=None,
        above_chance=False,
        in_phase=None,
        pacer_removed=False,
    )
    assert audience_roles(pacer, PARTICIPANTS) == THERAPIST_AND_CLIENT
    assert audience_roles(synchrony, PARTICIPANTS) == THERAPIST_ONLY
