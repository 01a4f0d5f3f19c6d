"""Session controls: the therapist's (or the service's) commands that change what the session
pipeline computes (the pacer set or stopped, a resonance assessment started or cancelled).

They are session *inputs* like markers: each takes the session's next ``input_no`` when it is
committed, so feeding the inputs back in order reproduces the live stream (attune.api.runtime).
``body`` is the command's JSON; attune.api.controls owns its shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import JsonValue
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from attune.errors import ConflictError
from attune.store import schema
from attune.store.database import Database
from attune.store.keys import new_id
from attune.store.recording import claim_input


@dataclass(frozen=True, slots=True)
class ControlRow:
    id: str
    session_id: str
    input_no: int
    t_s: float
    kind: str
    body: JsonValue
    author_id: str | None
    created_at_s: float


@dataclass(frozen=True, slots=True)
class Controls:
    db: Database

    async def add(
        self,
        session_id: str,
        *,
        input_no: int,
        t_s: float,
        kind: str,
        body: JsonValue,
        author_id: str | None,
        now_s: float,
    ) -> ControlRow:
        """Commit a control as the session's input ``input_no``; ConflictError if that number
        is taken (another instance computes the session)."""
        row = ControlRow(new_id(), session_id, input_no, t_s, kind, body, author_id, now_s)
        try:
            async with self.db.begin() as conn:
                await claim_input(conn, session_id, input_no)
                await conn.execute(
                    insert(schema.session_controls).values(
                        id=row.id,
                        session_id=session_id,
                        input_no=input_no,
                        t_s=t_s,
                        kind=kind,
                        body_json=json.dumps(body),
                        author_id=author_id,
                        created_at_s=now_s,
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"input {input_no} of session {session_id} is taken") from exc
        return row

    async def of_session(self, session_id: str) -> list[ControlRow]:
        c = schema.session_controls
        query = (
            select(
                c.c.id,
                c.c.session_id,
                c.c.input_no,
                c.c.t_s,
                c.c.kind,
                c.c.body_json,
                c.c.author_id,
                c.c.created_at_s,
            )
            .where(c.c.session_id == session_id)
            .order_by(c.c.input_no)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ControlRow(
                r.id,
                r.session_id,
                r.input_no,
                r.t_s,
                r.kind,
                json.loads(r.body_json),
                r.author_id,
                r.created_at_s,
            )
            for r in rows
        ]
