"""Simulated straps of a therapist and a client (attune.sim) as collector messages for the
real ingest websocket: one notification a second per strap, in time order."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from websockets.asyncio.client import connect

from attune.sim import DyadSimulator, Role, StrapPacketizer
from tests.integration.test_ingest import auth, greeted


@dataclass
class DyadFeed:
    """Batches of ``dyad``'s straps stamped ``t0_s`` + strap time; ``roles``: whose straps."""

    dyad: DyadSimulator
    t0_s: float
    roles: tuple[Role, ...] = (Role.THERAPIST, Role.CLIENT)
    t_s: float = 0.0
    _straps: dict[Role, StrapPacketizer] = field(init=False)
    _seq: dict[Role, int] = field(init=False)

    def __post_init__(self) -> None:
        self._straps = {
            role: StrapPacketizer(
                self.dyad.beats(role), contact_ok=functools.partial(self.dyad.contact_ok, role)
            )
            for role in self.roles
        }
        self._seq = dict.fromkeys(self.roles, 0)

    def until(self, end_s: float) -> list[tuple[Role, str]]:
        """The messages of every second up to strap time ``end_s``, both straps interleaved."""
        out = []
        while self.t_s + 1.0 <= end_s:
            self.t_s += 1.0
            for role in self.roles:
                note = self._straps[role].next_notification()
                self._seq[role] += 1
                notification = {
                    "received_at_s": self.t0_s + note.t_s,
                    "payload_hex": note.payload.hex(),
                }
                message = {
                    "v": 1,
                    "type": "batch",
                    "seq": self._seq[role],
                    "notifications": [notification],
                }
                out.append((role, json.dumps(message)))
        return out


async def send(ws_url: str, tokens: dict[str, str], messages: list[tuple[Role, str]]) -> None:
    """Stream the messages through one ingest socket per strap, each acknowledged in turn."""
    sockets = {}
    try:
        for role in {role for role, _ in messages}:
            sockets[role] = await connect(
                f"{ws_url}/ingest", additional_headers=auth(tokens[role.value])
            )
            await greeted(sockets[role])
        for role, message in messages:
            await sockets[role].send(message)
            reply = json.loads(await sockets[role].recv())
            assert reply["type"] == "ack", reply
    finally:
        for ws in sockets.values():
            await ws.close()
