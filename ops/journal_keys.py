"""The journal's queries about whose rows are whose: an environment's history under another key.

Part of the journal (``Journal`` inherits them): the SQL stays in the journal's own modules, and
ops.history decides what may be adopted with these typed answers.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiosqlite

# Tables whose rows belong to an environment, by the key column ``target``.
KEYED = ("runs", "ledger", "backups", "preflights", "approvals", "sticky_locks", "drift")
# Health rows carry the environment's name ('' for the one the variables describe).
BY_ENV = ("health_checks", "incidents", "health_pauses")


@dataclass(frozen=True)
class AdoptionRecord:
    run_id: int
    at: float
    old: str
    moved: dict[str, int]


class KeyedRows:
    db: aiosqlite.Connection

    async def rows_under(self, key: str) -> dict[str, int]:
        """How many rows each keyed table holds under ``key`` (tables with none left out)."""
        found = {}
        for table in KEYED:
            async with self.db.execute(f"SELECT count(*) FROM {table} WHERE target=?", (key,)) as cur:
                row = await cur.fetchone()
            if row and row[0]:
                found[table] = int(row[0])
        return found

    async def backup_paths(self, key: str) -> list[str]:
        async with self.db.execute("SELECT path FROM backups WHERE target=?", (key,)) as cur:
            return [r[0] for r in await cur.fetchall()]

    async def lock_holder(self, key: str) -> int | None:
        """The run holding ``key``'s run lock, if any."""
        async with self.db.execute("SELECT run_id FROM locks WHERE target=?", (key,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else None

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """One write transaction: what is read inside and what is changed see one journal. Leaving
        it by an exception rolls everything back; ``commit`` inside ends it early."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:
                await self.db.rollback()
            raise
        if self.db.in_transaction:
            await self.db.rollback()  # nothing was committed: nothing is kept

    async def rekey(self, old: str, new: str, *, old_env: str, summary: dict[str, Any]) -> int:
        """Inside ``exclusive``: every row kept under ``old`` becomes ``new``'s (a row ``new`` already
        has, such as the same backup path, is kept), recorded as a run of phase ``adopt``; committed."""
        for table in KEYED:
            await self.db.execute(f"UPDATE OR IGNORE {table} SET target=? WHERE target=?", (new, old))
            await self.db.execute(f"DELETE FROM {table} WHERE target=?", (old,))
        for table in BY_ENV:
            await self.db.execute(f"UPDATE {table} SET env=? WHERE env=?", (new, old_env))
        now = time.time()
        cur = await self.db.execute(
            "INSERT INTO runs(phase,target,actor,state,started_at,finished_at,summary,pid,host,outcome)"
            " VALUES('adopt',?,?,'succeeded',?,?,?,?,?,'done')",
            (new, "opsbot", now, now, json.dumps(summary), os.getpid(), socket.gethostname()))
        await self.db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def last_adoption(self, key: str) -> AdoptionRecord | None:
        async with self.db.execute("SELECT id, finished_at, summary FROM runs WHERE phase='adopt' AND target=? "
                                   "ORDER BY id DESC LIMIT 1", (key,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        data = json.loads(row[2] or "{}")
        return AdoptionRecord(int(row[0]), float(row[1]), str(data.get("from") or ""), dict(data.get("moved") or {}))
