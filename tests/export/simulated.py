"""A realistic recorded session for the export tests, from the simulator (attune.sim).

A coupled therapist-client dyad follows a session script; each strap's beats are packetized
into Heart Rate Measurement notifications the way a strap sends them (contact loss, missed
R waves), stamped with arrival times (50-250 ms of transport), and grouped into collector
batches. On top: the link lost and back for the client, a battery reading, a malformed
payload, one batch delivered late (an outbox backfill), a marker at each phase start, the
script's pacer changes, and the cues the cue policy fires on the simulated calm and synchrony.

``stored_session`` holds it in memory as the store would return it (no database);
``record_in_store`` writes it through the store's API, and ``record_through_service`` sends it
through the real ingest websocket and REST API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.client import connect

from attune.cues import CuePolicy
from attune.export.load import load_session
from attune.export.record import StoredSession
from attune.protocol.ingest import Batch, Battery, Link, SeqMessage
from attune.sim import (
    CLIENT_PROFILE,
    THERAPIST_PROFILE,
    Coupling,
    DyadSimulator,
    PersonPhase,
    Phase,
    Role,
    SessionScript,
    StrapPacketizer,
    therapy_session,
)
from attune.sim.feed import cue_inputs, live_synchrony, pacer_changes
from attune.store import (
    CueShownRow,
    MarkerRow,
    PacerChangeRow,
    ParticipantRow,
    RecordOutcome,
    SessionRow,
    Store,
)
from attune.store.recording import RecordedInput

T0_S = 1_900_000_000.25  # session start on the collector's clock (a fractional second)
NOTES_PER_BATCH = 8
LATE_BATCH = 5  # the client's batch with this seq arrives after all the others
LINK_LOST_S = (610.0, 622.0)  # client: the collector reports the link down, then back


def short_script() -> SessionScript:
    """Six and a half minutes: baseline, an arousal, paced breathing (two 5 min segments)."""
    base = therapy_session()
    pacer = base.phases[4].pacer
    return SessionScript(
        phases=(
            Phase("baseline", 120.0, PersonPhase(0.1), PersonPhase(0.3)),
            Phase("client arousal", 120.0, PersonPhase(0.15), PersonPhase(0.85, talking=True)),
            Phase(
                "paced breathing",
                150.0,
                PersonPhase(0.1, paced=True),
                PersonPhase(0.3, paced=True),
                pacer=pacer,
            ),
        ),
        contact_losses=base.contact_losses[:0],
    )


@dataclass
class SimulatedSession:
    """Collector messages per role, in send order, and the session's events (in session
    time from ``t0_s``, the start on the collector's clock)."""

    script: SessionScript
    t0_s: float
    messages: dict[Role, list[SeqMessage]]
    markers: list[tuple[float, str]]
    pacer: list[tuple[float, float | None]]
    cues: list[tuple[float, str, str, str]]  # t_s, audience, kind, text
    payloads: dict[Role, list[bytes]] = field(default_factory=dict)


def simulate(
    script: SessionScript | None = None, *, seed: int = 3, t0_s: float = T0_S
) -> SimulatedSession:
    script = script or therapy_session()
    dyad = DyadSimulator(
        script,
        therapist=THERAPIST_PROFILE,
        client=CLIENT_PROFILE,
        coupling=Coupling(),
        seed=seed,
    ).run()
    rng = np.random.default_rng(seed)
    messages: dict[Role, list[SeqMessage]] = {}
    payloads: dict[Role, list[bytes]] = {}
    for k, role in enumerate(Role):
        straps = StrapPacketizer(
            iter(dyad.beats[role]),
            contact_ok=lambda t, r=role: script.contact_ok(r, t),
            missed_beat_rate=0.004,
            seed=seed + k,
        )
        notes = []
        while not straps.exhausted:
            n = straps.next_notification()
            notes.append((t0_s + n.t_s + float(rng.uniform(0.05, 0.25)), n.payload))
        payloads[role] = [p for _, p in notes]
        messages[role] = _messages(role, notes, t0_s, script.duration_s)
    starts = script.phase_starts_s
    markers = [(t, f"phase: {p.name}") for t, p in zip(starts, script.phases, strict=True)]
    markers.append((script.duration_s / 2, "Client said: <script>alert('x')</script> & \"more\""))
    policy = CuePolicy()
    syncs = live_synchrony(dyad)
    cues, k, latest = [], 0, None
    for t_s, snaps in cue_inputs(dyad):
        while k < len(syncs) and syncs[k].t_s <= t_s:
            latest, k = syncs[k], k + 1
        fired = policy.update(t_s, snaps[Role.THERAPIST], snaps[Role.CLIENT], latest)
        cues += [(c.t_s, c.audience.value, c.kind.value, c.text) for c in fired]
    # Without a pacer at the start, the first change is "off" at 0: nothing happened there.
    pacer = [c for i, c in enumerate(pacer_changes(script)) if i or c[1] is not None]
    return SimulatedSession(script, t0_s, messages, markers, pacer, cues, payloads)


def _link(seq: int, at_s: float, state: str, reason: str | None = None) -> Link:
    return Link.model_validate(
        {"v": 1, "type": "link", "seq": seq, "at_s": at_s, "state": state, "reason": reason}
    )


def _messages(
    role: Role, notes: list[tuple[float, bytes]], t0_s: float, duration_s: float
) -> list[SeqMessage]:
    """Link up, battery, batches of notifications (the client's with a malformed payload, a
    link loss and a late batch)."""
    out: list[SeqMessage] = [
        _link(1, t0_s, "streaming"),
        Battery(v=1, type="battery", seq=2, at_s=t0_s, level_pct=87),
    ]
    lost_s, back_s = (t0_s + t for t in LINK_LOST_S)
    runs = [notes]
    if role is Role.CLIENT and LINK_LOST_S[1] < duration_s:
        # Nothing arrives while the link is down; the collector says so on both ends.
        runs = [[n for n in notes if n[0] < lost_s], [n for n in notes if n[0] >= back_s]]
        at = 3 * NOTES_PER_BATCH
        runs[0].insert(at, (runs[0][at - 1][0] + 0.01, b"\x10"))  # flags RR; none follows
    for k, run in enumerate(runs):
        if k:
            out += [_link(0, lost_s, "lost", "out of range"), _link(0, back_s, "streaming")]
        for i in range(0, len(run), NOTES_PER_BATCH):
            chunk = run[i : i + NOTES_PER_BATCH]
            notifications = [{"received_at_s": t, "payload_hex": p.hex()} for t, p in chunk]
            out.append(
                Batch.model_validate(
                    {"v": 1, "type": "batch", "seq": 0, "notifications": notifications}
                )
            )
    numbered = [m.model_copy(update={"seq": seq}) for seq, m in enumerate(out, start=1)]
    if role is Role.CLIENT:
        numbered.append(numbered.pop(LATE_BATCH - 1))
    return numbered


SESSION_ID = "5e55" * 8


def stored_session(sim: SimulatedSession) -> StoredSession:
    """The simulated session as the store would hold it (input numbers in send order, the two
    straps interleaved by time; the late batch recorded as not live)."""
    participants = tuple(
        ParticipantRow(role[0] * 32, SESSION_ID, role, role.title(), "Polar H10", "AA:BB")
        for role in ("therapist", "client")
    )
    ids = {Role(p.role): p.id for p in participants}
    t0_s = sim.t0_s
    # Both straps interleaved by time; a late message after everything else.
    sent = sorted(
        ((_at(m), role, m) for role in Role for m in sim.messages[role]),
        key=lambda x: (x[2] is sim.messages[x[1]][-1] and x[1] is Role.CLIENT, x[0]),
    )
    inputs, highest = [], dict.fromkeys(Role, 0)
    for n, (_, role, m) in enumerate(sent, start=1):
        live = m.seq >= highest[role]
        highest[role] = max(highest[role], m.seq)
        inputs.append(RecordedInput(n, ids[role], live, m))
    end = t0_s + sim.script.duration_s + 5
    session = SessionRow(SESSION_ID, "Simulated", t0_s - 30, t0_s, end, "", "c" * 32, "t" * 32)
    return StoredSession(
        session=session,
        participants=participants,
        collector_inputs=tuple(inputs),
        markers=tuple(
            MarkerRow(f"m{i}", SESSION_ID, 10_000 + i, t, text, None, t0_s + t)
            for i, (t, text) in enumerate(sim.markers)
        ),
        pacer_changes=tuple(
            PacerChangeRow(i, SESSION_ID, t0_s + t, t, bpm, 1.5 if bpm else None, "therapist", None)
            for i, (t, bpm) in enumerate(sim.pacer)
        ),
        cues=tuple(
            CueShownRow(i, SESSION_ID, t0_s + t, t, audience, kind, text, None)
            for i, (t, audience, kind, text) in enumerate(sim.cues)
        ),
    )


def _at(message: SeqMessage) -> float:
    if isinstance(message, Batch):
        return message.notifications[-1].received_at_s
    return message.at_s


HELLO = {"v": 1, "type": "hello", "collector": "sim", "sensor": {"name": "H10", "address": "AA"}}


async def record_through_service(service, session, sim: SimulatedSession) -> None:
    """Send the simulated straps through the ingest websocket (as two collectors would), the
    markers through the REST API, and the pacer changes and cues shown into the store (what
    the live pacer and cue policy record)."""
    for role in Role:
        token = session.collector_tokens[role.value]
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(f"{service.ws_url}/ingest", additional_headers=headers) as ws:
            await ws.send(json.dumps(HELLO))
            assert json.loads(await ws.recv())["type"] == "welcome"
            for message in sim.messages[role]:
                await ws.send(message.model_dump_json())
                assert json.loads(await ws.recv())["type"] == "ack"
    http = session.therapist.http
    for t_s, text in sim.markers:
        response = await http.post(
            f"/api/sessions/{session.id}/markers", json={"text": text, "t_s": t_s}
        )
        assert response.status_code == 201, response.text
    events = service.services.store.events
    for t_s, bpm in sim.pacer:
        await events.record_pacer_change(
            session.id,
            at_s=sim.t0_s + t_s,
            t_s=t_s,
            breaths_per_min=bpm,
            inhale_exhale_ratio=1.5 if bpm else None,
            source="therapist",
        )
    for t_s, audience, kind, text in sim.cues:
        await events.record_cue_shown(
            session.id, at_s=sim.t0_s + t_s, t_s=t_s, audience=audience, kind=kind, text=text
        )


async def record_in_store(store: Store, sim: SimulatedSession) -> StoredSession:
    """Write the simulated session into a store as ingest would (input numbers in arrival
    order, the late batch not live), with a therapist, a client, markers, pacer changes and
    cues; returns what the store then holds."""
    t0_s = sim.t0_s
    therapist = await store.accounts.add_therapist("sim", "Sim", "-", now_s=t0_s - 60)
    client = await store.clients.create(therapist.id, "C-SIM", "Client", now_s=t0_s - 60)
    session = await store.sessions.create(
        "Simulated", now_s=t0_s - 30, client_id=client.id, therapist_id=therapist.id
    )
    await store.sessions.start(session.id, now_s=t0_s)
    ids = {}
    for role in Role:
        row, _ = await store.sessions.add_participant(session.id, role.value, role.value.title())
        ids[role.value] = row.id
    layout = stored_session(sim)
    by_role = {p.id: p.role for p in layout.participants}
    for item in layout.collector_inputs:
        outcome = await store.recording.record(
            session.id,
            ids[by_role[item.participant_id]],
            item.message,
            input_no=item.input_no,
            live=item.live,
            now_s=_at(item.message),
        )
        assert outcome is RecordOutcome.NEW
    next_no = len(layout.collector_inputs) + 1
    for k, (t_s, text) in enumerate(sim.markers):
        await store.recording.add_marker(
            session.id, input_no=next_no + k, t_s=t_s, text=text, author_id=None, now_s=t0_s + t_s
        )
    for t_s, bpm in sim.pacer:
        await store.events.record_pacer_change(
            session.id,
            at_s=t0_s + t_s,
            t_s=t_s,
            breaths_per_min=bpm,
            inhale_exhale_ratio=1.5 if bpm else None,
            source="therapist",
        )
    for t_s, audience, kind, text in sim.cues:
        await store.events.record_cue_shown(
            session.id, at_s=t0_s + t_s, t_s=t_s, audience=audience, kind=kind, text=text
        )
    await store.sessions.stop(session.id, now_s=t0_s + sim.script.duration_s + 5)
    return await load_session(store, session.id)
