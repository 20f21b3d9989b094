"""The journal's own schema: numbered migrations, applied in order by every process that opens it.

The version is the journal's ``PRAGMA user_version``. It lives in the database header, so it
commits in the same transaction as the migration it records (no bookkeeping table that needs a
schema of its own), a journal written before versions existed reads 0, and a journal newer than
this code is one comparison away from being refused.

Each migration runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads the version inside
it: when the bot and the CLI open the journal at the same moment, one applies it and the other,
having waited for the write lock, finds it done.

Versions 1 to 6 are what opsbot created before versions existed, in the order it added them.
A journal from then has user_version 0 and any subset of them (the CLI never made the bot's
tables; older ones lack the later columns), so these six only create what is missing
(``IF NOT EXISTS``, a column only when absent). A migration after 6 runs only on a journal at
exactly its predecessor and needs no such guard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from ops.errors import OpsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...] = ()
    columns: tuple[tuple[str, str, str], ...] = ()  # (table, column, declaration), added when absent


RUNS = """CREATE TABLE IF NOT EXISTS runs (
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
)"""
STEPS = """CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT,
    at REAL NOT NULL
)"""
BACKUPS = """CREATE TABLE IF NOT EXISTS backups (
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
)"""
PREFLIGHTS = """CREATE TABLE IF NOT EXISTS preflights (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    target TEXT NOT NULL,
    migration TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    canon TEXT NOT NULL,
    ok INTEGER NOT NULL,
    at REAL NOT NULL
)"""
LOCKS = """CREATE TABLE IF NOT EXISTS locks (
    target TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,
    holder TEXT NOT NULL,
    phase TEXT NOT NULL,
    since REAL NOT NULL
)"""
APPROVALS = """CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'migrate',
    target TEXT NOT NULL,
    subject TEXT NOT NULL,          -- the migration file name (or the branch of a code revert)
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    requester_id INTEGER NOT NULL,
    requester TEXT NOT NULL,
    channel_id INTEGER,
    message_id INTEGER,
    state TEXT NOT NULL,            -- pending | approved | cancelled | expired | executed | stale | unposted
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    run_id INTEGER,
    preflight_run_id INTEGER
)"""
REACTIONS = """CREATE TABLE IF NOT EXISTS reactions (
    approval_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    emoji TEXT NOT NULL,
    outcome TEXT NOT NULL,          -- approved | cancelled | ignored: <reason>
    at REAL NOT NULL
)"""
HEALTH_CHECKS = """CREATE TABLE IF NOT EXISTS health_checks (
    at REAL NOT NULL, ok INTEGER NOT NULL, kind TEXT NOT NULL, status INTEGER, latency_ms REAL, error TEXT
)"""
INCIDENTS = """CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,          -- the first failed check of the streak
    kind TEXT NOT NULL, error TEXT NOT NULL,
    alerted_at REAL, last_alert_at REAL,
    channel_id INTEGER, message_id INTEGER,
    watch_run_id INTEGER,
    resolved_at REAL
)"""
HEALTH_PAUSES = """CREATE TABLE IF NOT EXISTS health_pauses (
    id INTEGER PRIMARY KEY AUTOINCREMENT, by TEXT NOT NULL, since REAL NOT NULL, until REAL NOT NULL,
    ended_at REAL
)"""
CHECKLIST = """CREATE TABLE IF NOT EXISTS checklist (
    run_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    item TEXT NOT NULL,
    ticked_by TEXT,
    ticked_at REAL,
    PRIMARY KEY (run_id, idx)
)"""
CHECKLIST_DONE = """CREATE TABLE IF NOT EXISTS checklist_done (
    run_id INTEGER PRIMARY KEY,
    automatic_ok INTEGER NOT NULL,
    completed_at REAL
)"""
RUN_MESSAGES = """CREATE TABLE IF NOT EXISTS run_messages (
    run_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (run_id, message_id)
)"""

LEDGER = """CREATE TABLE ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,           -- the environment (runs.target)
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,           -- the file's bytes
    sql_sha256 TEXT NOT NULL,       -- its SQL as SQLite reads it (no comments, no spacing)
    run_id INTEGER NOT NULL,
    requester TEXT NOT NULL,
    approvers TEXT NOT NULL,        -- comma-separated; '' for the CLI's --yes
    applied_at REAL NOT NULL,
    fingerprint_before TEXT NOT NULL,
    fingerprint_after TEXT NOT NULL,
    rolled_back_by INTEGER,
    rolled_back_at REAL
)"""
LEDGER_INDEX = "CREATE INDEX ledger_target_name ON ledger(target, name)"

STICKY_LOCKS = """CREATE TABLE sticky_locks (
    target TEXT PRIMARY KEY,        -- the environment
    reason TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at REAL NOT NULL
)"""

DRIFT = """CREATE TABLE drift (
    target TEXT PRIMARY KEY,        -- the environment
    fingerprint TEXT NOT NULL,      -- the schema opsbot last knew
    canon TEXT NOT NULL,            -- its text (ops.sqlite_cli.CANON_EXPR), to show what changed
    checked_at REAL NOT NULL
)"""

LEDGER_BACKFILL = """INSERT INTO ledger(target, name, sha256, sql_sha256, run_id, requester, approvers, applied_at,
                   fingerprint_before, fingerprint_after, rolled_back_by)
SELECT r.target, r.migration, coalesce(r.migration_sha256, ''), '', r.id,
       CASE WHEN instr(r.actor, ' (') THEN substr(r.actor, 1, instr(r.actor, ' (') - 1) ELSE r.actor END,
       CASE WHEN instr(r.actor, ' + ') THEN substr(r.actor, instr(r.actor, ' + ') + 3) ELSE '' END,
       coalesce(r.finished_at, r.started_at),
       coalesce(json_extract(r.summary, '$.fingerprint_before'), ''),
       coalesce(json_extract(r.summary, '$.fingerprint'), ''), r.undone_by
FROM runs r
WHERE r.phase = 'migrate' AND r.migration IS NOT NULL
  AND (r.outcome IN ('done', 'changed') OR (r.outcome IS NULL AND r.state = 'succeeded'))
  AND json_valid(r.summary) AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.run_id = r.id)
ORDER BY r.id"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, steps, backups, preflights, locks", (
        RUNS, STEPS, "CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id)", BACKUPS, PREFLIGHTS, LOCKS)),
    Migration(2, "approvals and their reactions", (
        APPROVALS, "CREATE INDEX IF NOT EXISTS approvals_message ON approvals(message_id)", REACTIONS)),
    Migration(3, "health checks, incidents, pauses", (HEALTH_CHECKS, INCIDENTS, HEALTH_PAUSES)),
    Migration(4, "the Phase 4 checklist", (CHECKLIST, CHECKLIST_DONE)),
    # outcome: done | unchanged | changed | unknown (ops.outcome). announced_at: when a bot posted
    # an interrupted run. undone_by: the rollback run that restored the backup this run took.
    Migration(5, "run outcomes, announcements, undoing; run messages", (RUN_MESSAGES,), columns=(
        ("runs", "outcome", "TEXT"), ("runs", "announced_at", "REAL"), ("runs", "undone_by", "INTEGER"))),
    # Tables the requester allows to lose rows, comma-separated.
    Migration(6, "approvals.allow_row_loss", columns=(
        ("approvals", "allow_row_loss", "TEXT NOT NULL DEFAULT ''"),)),
    Migration(7, "incidents acknowledged by someone", columns=(
        ("incidents", "acked_by", "TEXT"), ("incidents", "acked_at", "REAL"))),
    # ops.ledger: which migrations are applied on each environment.
    Migration(8, "the ledger of applied migrations", (LEDGER, LEDGER_INDEX)),
    # ops.policy: a lock a person puts on an environment until they release it; how many distinct
    # approvers a request needs.
    Migration(9, "sticky locks; approvers a request needs", (STICKY_LOCKS,), columns=(
        ("approvals", "required_approvers", "INTEGER NOT NULL DEFAULT 1"),)),
    # The environment (opsbot.toml) a health check, incident or pause belongs to; '' for the one
    # environment the variables describe, so a journal from before keeps its open incident.
    Migration(10, "health per environment", columns=(
        ("health_checks", "env", "TEXT NOT NULL DEFAULT ''"), ("incidents", "env", "TEXT NOT NULL DEFAULT ''"),
        ("health_pauses", "env", "TEXT NOT NULL DEFAULT ''"))),
    Migration(11, "the schema each environment last had (ops.drift)", (DRIFT,)),
    Migration(12, "backups' second copy off the app host (ops.offsite)", columns=(
        ("backups", "offsite_path", "TEXT"), ("backups", "offsite_sha256", "TEXT"))),
    # A journal from before the ledger: what its migrate runs applied (and no rollback undid) is
    # applied now too, or the upgrade would call it pending and let it run twice. The SQL's own
    # sha256 was not kept then: '' (a later edit of the file is reported as "sql").
    Migration(13, "the ledger filled from the runs before it", (LEDGER_BACKFILL,)),
    # A change found outside opsbot by a migrate or rollback (ops.drift.after_change), to be said.
    Migration(14, "drift found by a run", columns=(("drift", "pending", "TEXT"),)),
)


def latest() -> int:
    return MIGRATIONS[-1].version


class JournalTooNew(OpsError):
    def __init__(self, path: str | Path, version: int) -> None:
        super().__init__(
            f"the journal {path} has schema version {version}, newer than this opsbot knows (up to {latest()})",
            hint="A newer opsbot wrote it: run that version (or a later one), or point STATE_DB at another file. "
                 "This one does not write to a journal it does not understand.",
        )
        self.version = version


async def version_of(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def upgrade(db: aiosqlite.Connection, path: str | Path) -> int:
    """Bring the journal to the latest version; returns it. Refuses a journal newer than this code."""
    found = await version_of(db)
    if found > latest():
        raise JournalTooNew(path, found)
    for migration in MIGRATIONS:
        if migration.version > found:
            await _apply(db, path, migration)
    return latest()


async def _apply(db: aiosqlite.Connection, path: str | Path, migration: Migration) -> None:
    # Not executescript: it commits first, which would end the IMMEDIATE transaction.
    try:
        await db.execute("BEGIN IMMEDIATE")
        current = await version_of(db)  # another process may have applied it while we waited
        if current > latest():
            raise JournalTooNew(path, current)
        if current < migration.version:
            for statement in migration.statements:
                await db.execute(statement)
            for table, column, declaration in migration.columns:
                if column not in await _columns(db, table):
                    await db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            await db.execute(f"PRAGMA user_version = {migration.version:d}")
            log.info("journal %s: applied migration %d (%s)", path, migration.version, migration.name)
        await db.commit()
    except BaseException as exc:
        await db.rollback()
        if isinstance(exc, OpsError) or not isinstance(exc, Exception):
            raise
        raise OpsError(f"could not upgrade the journal {path} to version {migration.version} "
                       f"({migration.name}): {exc}",
                       hint="Nothing of that step was kept (it runs in one transaction). Check that the file is "
                            "a writable opsbot journal; a backup of it can be inspected with sqlite3.") from exc


async def _columns(db: aiosqlite.Connection, table: str) -> set[str]:
    async with db.execute(f"PRAGMA table_info({table})") as cur:
        return {row[1] for row in await cur.fetchall()}
