"""A throwaway timelogger staging database: the schema the runbook's migration expects."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE user_settings (
    user_id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    daily_goal_minutes INTEGER NOT NULL DEFAULT 480,
    is_suspended INTEGER NOT NULL DEFAULT 0,
    suspended_until TEXT,
    suspend_reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_user_settings_suspended ON user_settings(is_suspended);
CREATE INDEX idx_user_settings_guild ON user_settings(guild_id);
CREATE TABLE activity_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES user_settings(user_id) ON DELETE CASCADE,
    activity TEXT NOT NULL,
    note TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    duration_minutes INTEGER
);
CREATE INDEX idx_activity_logs_user ON activity_logs(user_id, started_at);
CREATE TABLE suspend_history (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES user_settings(user_id) ON DELETE CASCADE,
    suspended_at TEXT NOT NULL,
    resumed_at TEXT,
    reason TEXT
);
CREATE TABLE guild_config (
    guild_id INTEGER PRIMARY KEY,
    report_channel_id INTEGER,
    week_starts_on INTEGER NOT NULL DEFAULT 1
);
PRAGMA user_version = 7;
"""

ACTIVITIES = ("coding", "review", "meeting", "support", "writing", "planning", "oncall")


def create(path: Path, *, users: int = 2000, logs: int = 95_000, note_bytes: int = 0, seed: int = 7,
           wal: bool = True) -> dict[str, int]:
    """Create the database and fill it; returns the row counts. ``note_bytes`` pads each log
    row (the benchmark uses it to reach ~1 GB)."""
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    try:
        if wal:
            con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SCHEMA)
        guilds = [1_000_000 + g for g in range(max(1, users // 200))]
        con.executemany("INSERT INTO guild_config VALUES (?, ?, 1)", [(g, g * 10) for g in guilds])
        con.executemany(
            "INSERT INTO user_settings VALUES (?, ?, 'Asia/Tokyo', 480, ?, ?, ?, '2025-01-01T00:00:00Z')",
            (
                (uid, rng.choice(guilds), int(uid % 17 == 0),
                 "2026-12-31T00:00:00Z" if uid % 17 == 0 else None, "spam" if uid % 17 == 0 else None)
                for uid in range(1, users + 1)
            ),
        )
        pad = "x" * note_bytes if note_bytes else None
        con.executemany(
            "INSERT INTO activity_logs (user_id, activity, note, started_at, ended_at, duration_minutes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (rng.randint(1, users), rng.choice(ACTIVITIES), pad, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T09:00",
                 f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00", rng.randint(5, 240))
                for i in range(logs)
            ),
        )
        con.executemany(
            "INSERT INTO suspend_history (user_id, suspended_at, reason) VALUES (?, '2026-01-01', 'spam')",
            ((uid,) for uid in range(17, users + 1, 17)),
        )
        con.commit()
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in ("user_settings", "activity_logs", "suspend_history", "guild_config")}
    finally:
        con.close()
