"""Journals as opsbot wrote them before the journal had schema versions (user_version 0).

The DDL below is copied from the code of that time (ops/journal.py SCHEMA, RUN_COLUMNS and
LATER_SCHEMA; ops/approvals.py, ops/monitor.py and ops/checklist.py SCHEMA, each created by
whichever process happened to run it). It is a fixture: it must not follow later changes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

ENGINE = """
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

# Journal.extend_schema: what every process added on open, once outcomes existed.
OUTCOMES = """
CREATE TABLE IF NOT EXISTS run_messages (
    run_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (run_id, message_id)
);
ALTER TABLE runs ADD COLUMN outcome TEXT;
ALTER TABLE runs ADD COLUMN announced_at REAL;
ALTER TABLE runs ADD COLUMN undone_by INTEGER;
"""

# Approvals.ensure_schema (the bot's setup_hook), before allow_row_loss.
APPROVALS = """
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'migrate',
    target TEXT NOT NULL,
    subject TEXT NOT NULL,          -- the migration file name
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    requester_id INTEGER NOT NULL,
    requester TEXT NOT NULL,
    channel_id INTEGER,
    message_id INTEGER,
    state TEXT NOT NULL,            -- pending | approved | cancelled | expired | executed
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    run_id INTEGER,
    preflight_run_id INTEGER
);
CREATE INDEX IF NOT EXISTS approvals_message ON approvals(message_id);
CREATE TABLE IF NOT EXISTS reactions (
    approval_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    emoji TEXT NOT NULL,
    outcome TEXT NOT NULL,          -- approved | cancelled | ignored: <reason>
    at REAL NOT NULL
);
"""
ROW_LOSS = "ALTER TABLE approvals ADD COLUMN allow_row_loss TEXT NOT NULL DEFAULT '';"

# HealthMonitor.ensure_schema and Checklist.ensure_schema (the cogs' cog_load).
MONITOR = """
CREATE TABLE IF NOT EXISTS health_checks (
    at REAL NOT NULL, ok INTEGER NOT NULL, kind TEXT NOT NULL, status INTEGER, latency_ms REAL, error TEXT
);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,          -- the first failed check of the streak
    kind TEXT NOT NULL, error TEXT NOT NULL,
    alerted_at REAL, last_alert_at REAL,
    channel_id INTEGER, message_id INTEGER,
    watch_run_id INTEGER,
    resolved_at REAL
);
CREATE TABLE IF NOT EXISTS health_pauses (
    id INTEGER PRIMARY KEY AUTOINCREMENT, by TEXT NOT NULL, since REAL NOT NULL, until REAL NOT NULL,
    ended_at REAL
);
"""
CHECKLIST = """
CREATE TABLE IF NOT EXISTS checklist (
    run_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    item TEXT NOT NULL,
    ticked_by TEXT,
    ticked_at REAL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS checklist_done (
    run_id INTEGER PRIMARY KEY,
    automatic_ok INTEGER NOT NULL,
    completed_at REAL
);
"""

SHAPES = {
    # The bot's journal just before versions: every table, every later column.
    "bot, last unversioned": (ENGINE, OUTCOMES, APPROVALS, ROW_LOSS, MONITOR, CHECKLIST),
    # The CLI's: it never created the bot's tables.
    "cli, last unversioned": (ENGINE, OUTCOMES),
    # A bot journal from before outcomes and allow_row_loss.
    "bot, before outcomes": (ENGINE, APPROVALS, MONITOR, CHECKLIST),
    # The first CLI journal: the engine's five tables and nothing else.
    "cli, first": (ENGINE,),
}

# Values a later reader decodes (JSON, a comma list, an outcome); every other column gets a
# value made from its table, name and row, so a lost or shifted value shows.
DECODED = {
    ("runs", "summary"): '{"committed": true, "counts_after": {"users": 3}}',
    ("runs", "outcome"): "done",
    ("runs", "state"): "succeeded",
    ("runs", "actor"): "alice (42)",
    ("backups", "counts"): '{"users": 3}',
    ("approvals", "allow_row_loss"): "activity_logs,sessions",
}


def write(path: Path, shape: str, rows: int = 2) -> dict[str, list[tuple[object, ...]]]:
    """A journal of that shape with ``rows`` rows in every table; returns each table's rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        for ddl in SHAPES[shape]:
            con.executescript(ddl)
        for table in tables(con):
            cols = columns(con, table)
            for k in range(1, rows + 1):
                values = [_value(table, name, kind, k) for name, kind in cols]
                con.execute(f"INSERT INTO {table}({','.join(n for n, _ in cols)}) VALUES({','.join('?' * len(cols))})",
                            values)
        con.commit()
        return content(con)
    finally:
        con.close()


def content(con: sqlite3.Connection, only: dict[str, list[str]] | None = None) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (or of ``only``'s tables and columns), in rowid order."""
    found = {}
    for table in tables(con):
        if only is not None and table not in only:
            continue
        names = only[table] if only is not None else [n for n, _ in columns(con, table)]
        found[table] = con.execute(f"SELECT {','.join(names)} FROM {table} ORDER BY rowid").fetchall()
    return found


def tables(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def columns(con: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    return [(r[1], r[2]) for r in con.execute(f"PRAGMA table_info({table})")]


def _value(table: str, name: str, kind: str, k: int) -> object:
    if (table, name) in DECODED:
        return DECODED[table, name]
    if name == "id" or name.endswith("_id") or kind == "INTEGER":
        return k if name in ("id", "run_id", "approval_id", "idx") else 1000 * k + len(name)
    if kind == "REAL":
        return 1_700_000_000.25 + k
    return f"{table}.{name}.{k}"
