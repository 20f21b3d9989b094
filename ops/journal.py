"""The journal (aiosqlite): runs, their steps, backups, preflights, and the per-target lock.

It is what makes a restart safe: a run found ``running`` whose process is gone is marked
``interrupted`` when the journal opens, and its lock is released.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from ops.errors import OpsError
from ops.redact import redact

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phase TEXT NOT NULL,
    target TEXT NOT NULL,
    actor TEXT NOT NULL,
    migration TEXT,
    migration_sha256 TEXT,
    state TEXT NOT NULL,            -- running | succeeded | failed | interrupted
    started_at REAL NOT NULL,
    finished_at REAL,
    summary TEXT,                   -- JSON of the phase's result
    error TEXT,
    pid INTEGER,
    host TEXT,
    last_step TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id);
CREATE TABLE IF NOT EXISTS backups (
    path TEXT NOT NULL,
    target TEXT NOT NULL,
    run_id INTEGER,
    created_at REAL NOT NULL,
    bytes INTEGER,
    sha256 TEXT,
    integrity TEXT,
    counts TEXT,
    fingerprint TEXT,
    verified_at REAL,
    PRIMARY KEY (target, path)
);
CREATE TABLE IF NOT EXISTS preflights (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    target TEXT NOT NULL,
    migration TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    canon TEXT NOT NULL,
    ok INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    target TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,
    holder TEXT NOT NULL,
    phase TEXT NOT NULL,
    since REAL NOT NULL
);
"""

# Emergency stop and start are not here: they must work while a stuck run holds the lock.
MUTATING = frozenset({"backup", "migrate", "rollback", "code-revert"})


@dataclass(frozen=True)
class LockInfo:
    target: str
    run_id: int
    holder: str
    phase: str
    since: float


@dataclass(frozen=True)
class BackupRecord:
    path: str
    created_at: float
    bytes: int
    sha256: str
    integrity: str
    counts: dict[str, int]
    fingerprint: str
    run_id: int | None

    @property
    def verified(self) -> bool:
        return self.integrity == "ok"


@dataclass(frozen=True)
class PreflightRecord:
    run_id: int
    migration: str
    sha256: str
    fingerprint: str
    canon: str
    ok: bool
    at: float


class LockHeld(OpsError):
    def __init__(self, lock: LockInfo) -> None:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(lock.since))
        super().__init__(
            f"{lock.holder} is already running {lock.phase} (run #{lock.run_id}) on {lock.target} since {since}",
            hint="Wait for that run to finish; only one backup, migrate or rollback runs at a time.",
        )
        self.lock = lock


class Journal:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> Journal:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), timeout=10)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=10000")
        await db.executescript(SCHEMA)
        await db.commit()
        journal = cls(db)
        await journal.extend_schema()
        return journal

    async def extend_schema(self) -> None:
        """Later features add their tables here; kept idempotent (CREATE IF NOT EXISTS)."""

    async def close(self) -> None:
        await self.db.close()

    async def mark_interrupted(self) -> list[dict[str, Any]]:
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
        return gone

    async def start_run(
        self, phase: str, target: str, actor: str, *, migration: str = "", sha256: str = ""
    ) -> int:
        cur = await self.db.execute(
            "INSERT INTO runs(phase,target,actor,migration,migration_sha256,state,started_at,pid,host)"
            " VALUES(?,?,?,?,?,'running',?,?,?)",
            (phase, target, actor, migration or None, sha256 or None, time.time(), os.getpid(), socket.gethostname()),
        )
        run_id = cur.lastrowid
        assert run_id is not None
        if phase in MUTATING:
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
                lock = await self.lock_for(target)
                if lock is None:  # released in between: try once more
                    return await self.start_run(phase, target, actor, migration=migration, sha256=sha256)
                raise LockHeld(lock) from None
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

    async def finish_run(self, run_id: int, state: str, summary: dict[str, Any], error: str = "") -> None:
        await self.db.execute(
            "UPDATE runs SET state=?, finished_at=?, summary=?, error=? WHERE id=?",
            (state, time.time(), redact(json.dumps(summary, default=str)), redact(error) or None, run_id),
        )
        await self.db.execute("DELETE FROM locks WHERE run_id=?", (run_id,))
        await self.db.commit()

    async def run(self, run_id: int) -> dict[str, Any] | None:
        return await self._one("SELECT * FROM runs WHERE id=?", (run_id,))

    async def runs(self, limit: int = 20, *, phase: str = "") -> list[dict[str, Any]]:
        if phase:
            return await self._all("SELECT * FROM runs WHERE phase=? ORDER BY id DESC LIMIT ?", (phase, limit))
        return await self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))

    async def steps(self, run_id: int) -> list[dict[str, Any]]:
        return await self._all("SELECT * FROM steps WHERE run_id=? ORDER BY rowid", (run_id,))

    async def record_backup(self, target: str, record: BackupRecord) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO backups(path,target,run_id,created_at,bytes,sha256,integrity,counts,"
            "fingerprint,verified_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (record.path, target, record.run_id, record.created_at, record.bytes, record.sha256,
             record.integrity, json.dumps(record.counts), record.fingerprint, time.time()),
        )
        await self.db.commit()

    async def backup(self, target: str, path: str) -> BackupRecord | None:
        row = await self._one("SELECT * FROM backups WHERE target=? AND path=?", (target, path))
        return _backup_record(row) if row else None

    async def backups(self, target: str) -> dict[str, BackupRecord]:
        """Every backup opsbot recorded for a target, by path."""
        rows = await self._all("SELECT * FROM backups WHERE target=?", (target,))
        return {r["path"]: _backup_record(r) for r in rows}

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

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return dict(row) if row else None

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self.db.execute(sql, args) as cur:
            return [dict(r) for r in await cur.fetchall()]


def _backup_record(row: dict[str, Any]) -> BackupRecord:
    return BackupRecord(
        path=row["path"], created_at=row["created_at"], bytes=row["bytes"] or 0, sha256=row["sha256"] or "",
        integrity=row["integrity"] or "", counts=json.loads(row["counts"] or "{}"),
        fingerprint=row["fingerprint"] or "", run_id=row["run_id"],
    )


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


async def backup_for_run(journal: Journal, target: str, run_id: int) -> BackupRecord | None:
    """The backup a run took (a migrate run takes one before it changes anything)."""
    row = await journal._one("SELECT * FROM backups WHERE target=? AND run_id=? ORDER BY created_at DESC LIMIT 1",
                             (target, run_id))
    return _backup_record(row) if row else None
