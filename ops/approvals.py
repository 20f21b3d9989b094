"""Approvals of a migration, kept in the journal so a restart forgets nothing.

State changes are single conditional UPDATEs (``… WHERE state='pending'``): two approvers
reacting at once, or one approving twice, yield exactly one transition, so exactly one run.
Every time here comes from the ``Approvals`` clock (``time.time`` unless one is passed in), so
expiry can be tested by moving the clock instead of editing rows.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops.journal import Journal

Clock = Callable[[], float]


@dataclass(frozen=True)
class Approval:
    id: int
    kind: str
    target: str
    subject: str
    sha256: str
    fingerprint: str
    requester_id: int
    requester: str
    channel_id: int | None
    message_id: int | None
    state: str
    created_at: float
    expires_at: float
    decided_by: str | None
    run_id: int | None
    preflight_run_id: int | None
    read_at: float                  # the Approvals clock when this was read: ``expired`` is as of then
    allow_row_loss: tuple[str, ...] = ()
    required_approvers: int = 1     # distinct approvers, never the requester (ops.policy)

    @property
    def expired(self) -> bool:
        return self.read_at >= self.expires_at


@dataclass(frozen=True)
class Reaction:
    approval_id: int
    user_id: int
    user_name: str
    emoji: str
    outcome: str                    # approved | cancelled | ignored: <reason>
    at: float


class Approvals:
    def __init__(self, journal: Journal, clock: Clock = time.time) -> None:
        self.journal = journal
        self.db = journal.db
        self.clock = clock
        # One reaction of a request decided at a time (ops.requests.react): two ✅ at once both count.
        self.deciding: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def create(self, *, target: str, subject: str, sha256: str, fingerprint: str, requester_id: int,
                     requester: str, timeout_s: float, preflight_run_id: int | None, kind: str = "migrate",
                     allow_row_loss: tuple[str, ...] = (), required_approvers: int = 1) -> int:
        now = self.clock()
        cur = await self.db.execute(
            "INSERT INTO approvals(kind,target,subject,sha256,fingerprint,requester_id,requester,state,created_at,"
            "expires_at,preflight_run_id,allow_row_loss,required_approvers) VALUES(?,?,?,?,?,?,?,'pending',?,?,?,?,?)",
            (kind, target, subject, sha256, fingerprint, requester_id, requester, now, now + timeout_s,
             preflight_run_id, ",".join(allow_row_loss), required_approvers),
        )
        await self.db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def attach_message(self, approval_id: int, channel_id: int, message_id: int) -> None:
        await self.db.execute("UPDATE approvals SET channel_id=?, message_id=? WHERE id=?",
                              (channel_id, message_id, approval_id))
        await self.db.commit()

    async def get(self, approval_id: int) -> Approval | None:
        return await self._one("SELECT * FROM approvals WHERE id=?", (approval_id,))

    async def by_message(self, message_id: int) -> Approval | None:
        return await self._one("SELECT * FROM approvals WHERE message_id=?", (message_id,))

    async def pending(self, target: str | None = None) -> list[Approval]:
        sql, args = "SELECT * FROM approvals WHERE state='pending'", ()
        if target:
            sql, args = sql + " AND target=?", (target,)
        async with self.db.execute(sql + " ORDER BY id", args) as cur:
            rows = await cur.fetchall()
        return [_approval(dict(r), self.clock()) for r in rows]

    async def transition(self, approval_id: int, to: str, by: str, *, require_unexpired: bool = False) -> bool:
        """pending → ``to``, once. Returns False when someone else already decided."""
        sql = "UPDATE approvals SET state=?, decided_by=?, decided_at=? WHERE id=? AND state='pending'"
        now = self.clock()
        args: tuple[Any, ...] = (to, by, now, approval_id)
        if require_unexpired:
            sql += " AND expires_at > ?"
            args += (now,)
        cur = await self.db.execute(sql, args)
        await self.db.commit()
        return cur.rowcount == 1

    async def executed(self, approval_id: int, run_id: int | None, state: str = "executed") -> None:
        """approved → executed (a run happened) or stale (refused before running: file or schema moved)."""
        await self.db.execute("UPDATE approvals SET state=?, run_id=? WHERE id=?", (state, run_id, approval_id))
        await self.db.commit()

    async def link_run(self, approval_id: int, run_id: int) -> None:
        """The approved request's run has opened in the journal (before it changes anything)."""
        await self.db.execute("UPDATE approvals SET run_id=? WHERE id=?", (run_id, approval_id))
        await self.db.commit()

    async def approved_without_result(self) -> list[Approval]:
        """Approved requests whose run never finished here: the bot stopped in between."""
        async with self.db.execute("SELECT * FROM approvals WHERE state='approved' ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [_approval(dict(r), self.clock()) for r in rows]

    async def by_run(self, run_id: int) -> Approval | None:
        return await self._one("SELECT * FROM approvals WHERE run_id=?", (run_id,))

    async def record_reaction(self, approval_id: int, user_id: int, user_name: str, emoji: str, outcome: str) -> None:
        await self.db.execute(
            "INSERT INTO reactions(approval_id,user_id,user_name,emoji,outcome,at) VALUES(?,?,?,?,?,?)",
            (approval_id, user_id, user_name, emoji, outcome, self.clock()),
        )
        await self.db.commit()

    async def reactions(self, approval_id: int) -> list[Reaction]:
        async with self.db.execute("SELECT * FROM reactions WHERE approval_id=? ORDER BY rowid", (approval_id,)) as c:
            rows = await c.fetchall()
        return [Reaction(r["approval_id"], r["user_id"], r["user_name"], r["emoji"], r["outcome"], r["at"])
                for r in rows]

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Approval | None:
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return _approval(dict(row), self.clock()) if row else None


def _approval(row: dict[str, Any], now: float) -> Approval:
    return Approval(
        id=row["id"], kind=row["kind"], target=row["target"], subject=row["subject"], sha256=row["sha256"],
        fingerprint=row["fingerprint"], requester_id=row["requester_id"], requester=row["requester"],
        channel_id=row["channel_id"], message_id=row["message_id"], state=row["state"],
        created_at=row["created_at"], expires_at=row["expires_at"], decided_by=row["decided_by"],
        run_id=row["run_id"], preflight_run_id=row["preflight_run_id"], read_at=now,
        allow_row_loss=tuple(t for t in (row["allow_row_loss"] or "").split(",") if t),
        required_approvers=row.get("required_approvers") or 1,
    )


def parse_table_list(text: str) -> tuple[str, ...]:
    """The requester's ``allow_row_loss`` option: table names, comma-separated."""
    from ops.errors import UsageError

    names = tuple(dict.fromkeys(n.strip().strip('"') for n in (text or "").split(",") if n.strip()))
    if len(names) > 20 or any(len(n) > 100 or "," in n for n in names):
        raise UsageError("allow_row_loss takes up to 20 table names, separated by commas",
                         hint="Name the tables that may lose rows, e.g. `activity_logs, sessions`.")
    return names
