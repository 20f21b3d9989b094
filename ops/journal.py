"""The journal (aiosqlite): runs, their steps, backups, preflights, and the per-target lock.

It is what makes a restart safe: a run found ``running`` whose process is gone is marked
``interrupted`` when the journal opens, and its lock is released. Its tables (these and the
approvals', the health monitor's and the checklist's) come from ops.journal_schema, applied
when any process opens it. Other modules use them through the typed methods here (records: ops.journal_records).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from ops import journal_schema
from ops.errors import OpsError
from ops.journal_keys import KeyedRows
from ops.journal_records import (
    BackupRecord,
    DriftBaseline,
    Incident,
    LedgerEntry,
    LockInfo,
    PreflightRecord,
    RunRecord,
    StepRecord,
    StickyLock,
    backup_record,
    incident_record,
    run_record,
)
from ops.outcome import OUTCOMES
from ops.redact import redact

log = logging.getLogger(__name__)

# The records are ops.journal_records'; importing them from here keeps one entry point.
__all__ = ["BackupRecord", "DriftBaseline", "Incident", "Journal", "LedgerEntry", "LockHeld", "LockInfo",
           "PreflightRecord", "RunRecord", "StepRecord", "StickyLock", "opened"]


class LockHeld(OpsError):
    def __init__(self, lock: LockInfo) -> None:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(lock.since))
        super().__init__(
            f"{lock.holder} is already running {lock.phase} (run #{lock.run_id}) on {lock.target} since {since}",
            hint="Wait for that run to finish; only one backup, migrate or rollback runs at a time.",
        )
        self.lock = lock


class Journal(KeyedRows):
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> Journal:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), timeout=10)
        db.row_factory = aiosqlite.Row
        try:
            await db.execute("PRAGMA busy_timeout=10000")
            await _wal(db)
            await journal_schema.upgrade(db, path)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    async def mark_interrupted(self) -> list[RunRecord]:
        """Runs left `running` by a process that is gone become `interrupted`; returns them."""
        rows = await self._all("SELECT * FROM runs WHERE state='running'")
        host = socket.gethostname()
        gone = [r for r in rows if not (r["host"] == host and _alive(r["pid"]))]
        for r in gone:
            await self.db.execute(
                "UPDATE runs SET state='interrupted', finished_at=?, error=? WHERE id=?",
                (time.time(), "the process running it stopped before it finished", r["id"]),
            )
            await self.db.execute("DELETE FROM locks WHERE run_id=?", (r["id"],))
        await self.db.commit()
        found = [await self.run(r["id"]) for r in gone]
        return [r for r in found if r is not None]

    async def start_run(
        self, phase: str, target: str, actor: str, *, lock: bool, migration: str = "", sha256: str = ""
    ) -> int:
        """Open a run. With ``lock`` (the phase declares it: ops.context.Phase) it holds the target's
        lock until it finishes, or LockHeld is raised and no run is left behind."""
        cur = await self.db.execute(
            "INSERT INTO runs(phase,target,actor,migration,migration_sha256,state,started_at,pid,host)"
            " VALUES(?,?,?,?,?,'running',?,?,?)",
            (phase, target, actor, migration or None, sha256 or None, time.time(), os.getpid(), socket.gethostname()),
        )
        run_id = cur.lastrowid
        assert run_id is not None
        if lock:
            try:
                await self.db.execute(
                    "INSERT INTO locks(target,run_id,holder,phase,since) VALUES(?,?,?,?,?)",
                    (target, run_id, actor, phase, time.time()),
                )
            except aiosqlite.IntegrityError:
                # Undo our own row explicitly: the connection is shared, so another coroutine's
                # commit may already have committed it (a rollback would leave a ghost `running`
                # run), and a rollback could discard another coroutine's pending writes.
                await self.db.execute("DELETE FROM runs WHERE id=?", (run_id,))
                await self.db.commit()
                held = await self.lock_for(target)
                if held is None:  # released in between: try once more, taking the lock again
                    return await self.start_run(phase, target, actor, lock=True, migration=migration, sha256=sha256)
                raise LockHeld(held) from None
        await self.db.commit()
        return run_id

    async def lock_for(self, target: str) -> LockInfo | None:
        row = await self._one("SELECT * FROM locks WHERE target=?", (target,))
        return LockInfo(row["target"], row["run_id"], row["holder"], row["phase"], row["since"]) if row else None

    async def add_step(self, run_id: int, name: str, status: str, detail: str) -> None:
        await self.db.execute(
            "INSERT INTO steps(run_id,name,status,detail,at) VALUES(?,?,?,?,?)",
            (run_id, name, status, redact(detail), time.time()),
        )
        if status == "done":
            await self.db.execute("UPDATE runs SET last_step=? WHERE id=?", (name, run_id))
        await self.db.commit()

    async def finish_run(self, run_id: int, state: str, summary: dict[str, Any], error: str = "",
                         outcome: str = "") -> None:
        assert not outcome or outcome in OUTCOMES, outcome
        outcome = outcome or ("done" if state == "succeeded" else "unchanged")
        await self.db.execute(
            "UPDATE runs SET state=?, finished_at=?, summary=?, error=?, outcome=? WHERE id=?",
            (state, time.time(), redact(json.dumps(summary, default=str)), redact(error) or None, outcome, run_id),
        )
        await self.db.execute("DELETE FROM locks WHERE run_id=?", (run_id,))
        await self.db.commit()

    async def unannounced_interrupted(self) -> list[RunRecord]:
        """Interrupted runs no bot has posted yet (the CLI or an earlier start may have marked them)."""
        return await self._runs("SELECT * FROM runs WHERE state='interrupted' AND announced_at IS NULL ORDER BY id")

    async def mark_announced(self, run_id: int) -> bool:
        """Once per run, even with two bots starting: True for the one that gets to post it."""
        cur = await self.db.execute("UPDATE runs SET announced_at=? WHERE id=? AND announced_at IS NULL",
                                    (time.time(), run_id))
        await self.db.commit()
        return cur.rowcount == 1

    async def add_run_message(self, run_id: int, channel_id: int, message_id: int) -> None:
        """A message that shows this run (its progress card), to edit when its state changes later."""
        await self.db.execute("INSERT OR IGNORE INTO run_messages(run_id,channel_id,message_id) VALUES(?,?,?)",
                              (run_id, channel_id, message_id))
        await self.db.commit()

    async def run_messages(self, run_id: int) -> list[tuple[int, int]]:
        rows = await self._all("SELECT channel_id, message_id FROM run_messages WHERE run_id=? ORDER BY message_id",
                               (run_id,))
        return [(r["channel_id"], r["message_id"]) for r in rows]

    async def mark_undone(self, run_ids: list[int], rollback_run_id: int) -> None:
        if run_ids:
            await self.db.executemany("UPDATE runs SET undone_by=? WHERE id=? AND undone_by IS NULL",
                                      [(rollback_run_id, r) for r in run_ids])
            # The migrations these runs applied are pending again (ops.ledger).
            await self.db.executemany(
                "UPDATE ledger SET rolled_back_by=?, rolled_back_at=? WHERE run_id=? AND rolled_back_by IS NULL",
                [(rollback_run_id, time.time(), r) for r in run_ids])
            await self.db.commit()

    async def changes_since(self, target: str, since: float) -> list[RunRecord]:
        """Runs that changed the database after ``since`` (what a restore of an older backup undoes)."""
        return await self._runs(
            "SELECT * FROM runs WHERE target=? AND phase IN ('migrate','rollback') AND started_at > ? "
            "AND (outcome IN ('done','changed','unknown') OR state='interrupted') ORDER BY id", (target, since))

    async def restored_to(self, target: str, taken_by: int) -> list[int]:
        """A restore of the backup run ``taken_by`` took: what it holds is applied again. Runs before
        it that a later rollback had undone (rolling back further, then forward to this backup)
        are in it, so neither the run nor its ledger entry is rolled back any more."""
        rows = await self._all("SELECT id FROM runs WHERE target=? AND id < ? AND undone_by > ?",
                               (target, taken_by, taken_by))
        ids = [r["id"] for r in rows]
        if ids:
            await self.db.executemany("UPDATE runs SET undone_by=NULL WHERE id=?", [(i,) for i in ids])
        await self.db.execute("UPDATE ledger SET rolled_back_by=NULL, rolled_back_at=NULL "
                              "WHERE target=? AND run_id < ? AND rolled_back_by > ?", (target, taken_by, taken_by))
        await self.db.commit()
        return ids

    async def changes_after_backup(self, target: str, backup: BackupRecord | None, taken_at: float
                                   ) -> list[RunRecord]:
        """What a restore of this backup undoes: the run that took it (a migrate takes its backup
        first) and every change after it. Told by run ids where the journal recorded the backup:
        backups are named to the second, and two runs can start within one."""
        if backup is not None and backup.run_id:
            return await self._runs(
                "SELECT * FROM runs WHERE target=? AND phase IN ('migrate','rollback') AND id >= ? "
                "AND (outcome IN ('done','changed','unknown') OR state='interrupted') ORDER BY id",
                (target, backup.run_id))
        return await self.changes_since(target, taken_at - 1)

    async def last_change(self, target: str) -> RunRecord | None:
        """This environment's newest migrate or rollback, whatever became of it."""
        found = await self._runs("SELECT * FROM runs WHERE target=? AND phase IN ('migrate','rollback') "
                                 "ORDER BY id DESC LIMIT 1", (target,))
        return found[0] if found else None

    async def last_finished(self, target: str, phase: str, since: float) -> RunRecord | None:
        """The newest run of ``phase`` on ``target`` that finished at or after ``since``."""
        found = await self._runs("SELECT * FROM runs WHERE phase=? AND target=? AND finished_at >= ? "
                                 "ORDER BY id DESC LIMIT 1", (phase, target, since))
        return found[0] if found else None

    async def run(self, run_id: int) -> RunRecord | None:
        found = await self._runs("SELECT * FROM runs WHERE id=?", (run_id,))
        return found[0] if found else None

    async def runs(self, limit: int = 20, *, phase: str = "") -> list[RunRecord]:
        if phase:
            return await self._runs("SELECT * FROM runs WHERE phase=? ORDER BY id DESC LIMIT ?", (phase, limit))
        return await self._runs("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))

    async def steps(self, run_id: int) -> list[StepRecord]:
        rows = await self._all("SELECT * FROM steps WHERE run_id=? ORDER BY rowid", (run_id,))
        return [StepRecord(r["run_id"], r["name"], r["status"], r["detail"] or "", r["at"]) for r in rows]

    async def record_backup(self, target: str, record: BackupRecord) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO backups(path,target,run_id,created_at,bytes,sha256,integrity,counts,"
            "fingerprint,verified_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (record.path, target, record.run_id, record.created_at, record.bytes, record.sha256,
             record.integrity, json.dumps(record.counts), record.fingerprint, time.time()),
        )
        await self.db.commit()

    async def record_offsite(self, target: str, path: str, offsite_path: str, sha256: str) -> None:
        """The verified second copy of the backup at ``path`` (ops.offsite); "" when it was pruned."""
        await self.db.execute("UPDATE backups SET offsite_path=?, offsite_sha256=? WHERE target=? AND path=?",
                              (offsite_path, sha256, target, path))
        await self.db.commit()

    async def forget_backup(self, target: str, path: str) -> None:
        """A backup pruned from the host and from off it (ops.retention)."""
        await self.db.execute("DELETE FROM backups WHERE target=? AND path=?", (target, path))
        await self.db.commit()

    async def backup(self, target: str, path: str) -> BackupRecord | None:
        row = await self._one("SELECT * FROM backups WHERE target=? AND path=?", (target, path))
        return backup_record(row) if row else None

    async def backup_for_run(self, target: str, run_id: int) -> BackupRecord | None:
        """The backup a run took (a migrate run takes one before it changes anything)."""
        row = await self._one("SELECT * FROM backups WHERE target=? AND run_id=? ORDER BY created_at DESC LIMIT 1",
                              (target, run_id))
        return backup_record(row) if row else None

    async def backups(self, target: str) -> dict[str, BackupRecord]:
        """Every backup opsbot recorded for a target, by path."""
        rows = await self._all("SELECT * FROM backups WHERE target=?", (target,))
        return {r["path"]: backup_record(r) for r in rows}

    async def record_preflight(self, target: str, record: PreflightRecord) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO preflights(run_id,target,migration,sha256,fingerprint,canon,ok,at)"
            " VALUES(?,?,?,?,?,?,?,?)",
            (record.run_id, target, record.migration, record.sha256, record.fingerprint, record.canon,
             int(record.ok), record.at),
        )
        await self.db.commit()

    async def latest_preflight(self, target: str, migration: str, sha256: str) -> PreflightRecord | None:
        row = await self._one(
            "SELECT * FROM preflights WHERE target=? AND migration=? AND sha256=? AND ok=1 ORDER BY at DESC LIMIT 1",
            (target, migration, sha256),
        )
        if not row:
            return None
        return PreflightRecord(row["run_id"], row["migration"], row["sha256"], row["fingerprint"], row["canon"],
                               bool(row["ok"]), row["at"])

    # --- the schema each environment last had (ops.drift) ---------------------------------
    async def drift_baseline(self, target: str) -> DriftBaseline | None:
        row = await self._one("SELECT fingerprint, canon, pending FROM drift WHERE target=?", (target,))
        return DriftBaseline(row["fingerprint"], row["canon"], row["pending"]) if row else None

    async def set_drift_baseline(self, target: str, fingerprint: str, canon: str, *, checked_at: float,
                                 pending: str | None) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO drift(target, fingerprint, canon, checked_at, pending) VALUES(?,?,?,?,?)",
            (target, fingerprint, canon, checked_at, pending))
        await self.db.commit()

    # --- sticky locks (ops.policy) ----------------------------------------------------------
    async def sticky_lock(self, target: str) -> StickyLock | None:
        row = await self._one("SELECT reason, by_whom, at FROM sticky_locks WHERE target=?", (target,))
        return StickyLock(row["reason"], row["by_whom"], row["at"]) if row else None

    async def add_sticky_lock(self, target: str, reason: str, by: str, at: float) -> None:
        await self.db.execute("INSERT INTO sticky_locks(target, reason, by_whom, at) VALUES(?,?,?,?)",
                              (target, reason, by, at))
        await self.db.commit()

    async def remove_sticky_lock(self, target: str) -> None:
        await self.db.execute("DELETE FROM sticky_locks WHERE target=?", (target,))
        await self.db.commit()

    # --- the ledger of applied migrations (ops.ledger) --------------------------------------
    async def add_ledger_entry(self, target: str, name: str, *, sha256: str, sql_sha256: str, run_id: int,
                               requester: str, approvers: str, applied_at: float, fingerprint_before: str,
                               fingerprint_after: str) -> None:
        await self.db.execute(
            "INSERT INTO ledger(target,name,sha256,sql_sha256,run_id,requester,approvers,applied_at,"
            "fingerprint_before,fingerprint_after) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (target, name, sha256, sql_sha256, run_id, requester, approvers, applied_at, fingerprint_before,
             fingerprint_after))
        await self.db.commit()

    async def set_ledger_schema_after(self, run_id: int, fingerprint: str) -> None:
        await self.db.execute("UPDATE ledger SET fingerprint_after=? WHERE run_id=?", (fingerprint, run_id))
        await self.db.commit()

    async def ledger_rows(self, target: str) -> list[LedgerEntry]:
        """Every ledger entry of this environment, oldest first (rolled-back ones included)."""
        rows = await self._all("SELECT * FROM ledger WHERE target=? ORDER BY id", (target,))
        return [LedgerEntry(**{k: r[k] for k in LedgerEntry.__dataclass_fields__}) for r in rows]

    # --- health incidents (ops.monitor keeps them) ------------------------------------------
    async def open_incident(self, env: str = "") -> Incident | None:
        """The environment's incident not yet resolved (the monitor need not be running)."""
        row = await self._one("SELECT * FROM incidents WHERE env=? AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
                              (env,))
        return incident_record(row) if row else None

    async def incident_env(self, incident_id: int) -> str | None:
        """The environment an incident is about (None: no such incident)."""
        row = await self._one("SELECT env FROM incidents WHERE id=?", (incident_id,))
        return row["env"] if row else None

    async def _runs(self, sql: str, args: tuple[Any, ...] = ()) -> list[RunRecord]:
        return [run_record(r) for r in await self._all(sql, args)]

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return dict(row) if row else None

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self.db.execute(sql, args) as cur:
            return [dict(r) for r in await cur.fetchall()]


async def _wal(db: aiosqlite.Connection, *, tries: int = 50) -> None:
    """WAL mode, also when another process opens a new journal at the same moment: switching the
    mode can meet SQLITE_BUSY at once, without the busy handler (SQLite's deadlock rule), so the
    switch is retried briefly instead of failing the whole start."""
    for attempt in range(tries):
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or attempt == tries - 1:
                raise
            await asyncio.sleep(0.02 * (attempt + 1))


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@asynccontextmanager
async def opened(path: str | Path) -> AsyncIterator[Journal]:
    journal = await Journal.open(path)
    try:
        yield journal
    finally:
        await journal.close()

