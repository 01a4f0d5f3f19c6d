"""Session events that are recorded but are not pipeline inputs: pacer changes as they were
set, and every cue as it was shown. Append-only; their ``detail`` is any JSON the pacer or the
cue policy adds (cues/ owns its shape)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import JsonValue
from sqlalchemy import Row, insert, select

from attune.store import schema
from attune.store.database import Database


@dataclass(frozen=True, slots=True)
class PacerChangeRow:
    id: int
    session_id: str
    at_s: float
    t_s: float
    breaths_per_min: float | None
    inhale_exhale_ratio: float | None
    source: str
    detail: JsonValue


@dataclass(frozen=True, slots=True)
class CueShownRow:
    id: int
    session_id: str
    at_s: float
    t_s: float
    audience: str
    kind: str
    text: str
    detail: JsonValue


@dataclass(frozen=True, slots=True)
class SessionEvents:
    db: Database

    async def record_pacer_change(
        self,
        session_id: str,
        *,
        at_s: float,
        t_s: float,
        breaths_per_min: float | None,
        inhale_exhale_ratio: float | None,
        source: str,
        detail: JsonValue = None,
    ) -> PacerChangeRow:
        """Record a pacer setting as it changed (``detail``: any JSON the pacer adds)."""
        values = {
            "session_id": session_id,
            "at_s": at_s,
            "t_s": t_s,
            "breaths_per_min": breaths_per_min,
            "inhale_exhale_ratio": inhale_exhale_ratio,
            "source": source,
            "detail_json": json.dumps(detail),
        }
        async with self.db.begin() as conn:
            result = await conn.execute(insert(schema.pacer_changes).values(**values))
            (row_id,) = result.inserted_primary_key or (0,)
        return PacerChangeRow(
            int(row_id),
            session_id,
            at_s,
            t_s,
            breaths_per_min,
            inhale_exhale_ratio,
            source,
            detail,
        )

    async def pacer_changes(self, session_id: str) -> list[PacerChangeRow]:
        p = schema.pacer_changes
        query = select(*_PACER).where(p.c.session_id == session_id).order_by(p.c.t_s, p.c.id)
        async with self.db.connect() as conn:
            return [_with_detail(PacerChangeRow, r) for r in await conn.execute(query)]

    async def record_cue_shown(
        self,
        session_id: str,
        *,
        at_s: float,
        t_s: float,
        audience: str,
        kind: str,
        text: str,
        detail: JsonValue = None,
    ) -> CueShownRow:
        """Record a cue as it was shown (``detail``: the values that fired it, as JSON)."""
        values = {
            "session_id": session_id,
            "at_s": at_s,
            "t_s": t_s,
            "audience": audience,
            "kind": kind,
            "text": text,
            "detail_json": json.dumps(detail),
        }
        async with self.db.begin() as conn:
            result = await conn.execute(insert(schema.cues_shown).values(**values))
            (row_id,) = result.inserted_primary_key or (0,)
        return CueShownRow(int(row_id), session_id, at_s, t_s, audience, kind, text, detail)

    async def cues_shown(self, session_id: str) -> list[CueShownRow]:
        c = schema.cues_shown
        query = select(*_CUE).where(c.c.session_id == session_id).order_by(c.c.t_s, c.c.id)
        async with self.db.connect() as conn:
            return [_with_detail(CueShownRow, r) for r in await conn.execute(query)]


_Detailed = TypeVar("_Detailed", PacerChangeRow, CueShownRow)


def _with_detail(cls: type[_Detailed], row: Row[Any]) -> _Detailed:
    """A row object from a query whose last column is ``detail_json``."""
    fields = row._asdict()
    fields["detail"] = json.loads(fields.pop("detail_json"))
    return cls(**fields)


_PACER = tuple(
    schema.pacer_changes.c[name]
    for name in (
        "id",
        "session_id",
        "at_s",
        "t_s",
        "breaths_per_min",
        "inhale_exhale_ratio",
        "source",
        "detail_json",
    )
)
_CUE = tuple(
    schema.cues_shown.c[name]
    for name in ("id", "session_id", "at_s", "t_s", "audience", "kind", "text", "detail_json")
)
