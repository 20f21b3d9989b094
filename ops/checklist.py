"""The runbook's Phase 4 checklist for one run: what opsbot verified, and what people tick.

A run is complete only when every automatic item passed and every human item is ticked;
each tick records who and when.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ops.journal import Journal

HUMAN_ITEMS = (
    "During: error logs watched",
    "After: the Discord bot works normally",
    "After: main features work",
)
MAX_ITEMS = 20  # Discord allows 25 components a message; the run's own buttons need the rest


@dataclass(frozen=True)
class Item:
    idx: int
    text: str
    ticked_by: str | None
    ticked_at: float | None

    @property
    def ticked(self) -> bool:
        return self.ticked_by is not None


class Checklist:
    def __init__(self, journal: Journal) -> None:
        self.db = journal.db

    async def create(self, run_id: int, manual: tuple[str, ...], *, automatic_ok: bool,
                     extra: tuple[str, ...] = ()) -> list[Item]:
        items = list(dict.fromkeys((*HUMAN_ITEMS, *extra, *manual)))[:MAX_ITEMS]
        await self.db.executemany("INSERT OR IGNORE INTO checklist(run_id, idx, item) VALUES(?,?,?)",
                                  [(run_id, i, text) for i, text in enumerate(items)])
        await self.db.execute("INSERT OR IGNORE INTO checklist_done(run_id, automatic_ok) VALUES(?,?)",
                              (run_id, int(automatic_ok)))
        await self.db.commit()
        return await self.items(run_id)

    async def items(self, run_id: int) -> list[Item]:
        async with self.db.execute("SELECT * FROM checklist WHERE run_id=? ORDER BY idx", (run_id,)) as cur:
            return [Item(r["idx"], r["item"], r["ticked_by"], r["ticked_at"]) for r in await cur.fetchall()]

    async def tick(self, run_id: int, idx: int, by: str) -> bool:
        """Record a tick once; returns False when it was already ticked (or does not exist)."""
        cur = await self.db.execute(
            "UPDATE checklist SET ticked_by=?, ticked_at=? WHERE run_id=? AND idx=? AND ticked_by IS NULL",
            (by, time.time(), run_id, idx))
        await self.db.commit()
        return cur.rowcount == 1

    async def complete_if_done(self, run_id: int) -> bool:
        """Mark the run complete when everything is ticked; True only the first time it becomes so."""
        items = await self.items(run_id)
        async with self.db.execute("SELECT * FROM checklist_done WHERE run_id=?", (run_id,)) as cur:
            row = await cur.fetchone()
        if not row or not row["automatic_ok"] or row["completed_at"] or not all(i.ticked for i in items):
            return False
        cur = await self.db.execute(
            "UPDATE checklist_done SET completed_at=? WHERE run_id=? AND completed_at IS NULL", (time.time(), run_id))
        await self.db.commit()
        return cur.rowcount == 1

    async def completed_at(self, run_id: int) -> float | None:
        async with self.db.execute("SELECT completed_at FROM checklist_done WHERE run_id=?", (run_id,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None
