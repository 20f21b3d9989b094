"""Drift watch (issue 14) around opsbot's own runs, on real databases through the real migrate:
a change made by hand before a migration is still said, and a change after one is said without
what the migration did."""

from __future__ import annotations

import sqlite3

from ops import drift
from ops.context import Engine
from ops.migrate import run_migrate

MIGRATION = "0001_remove_suspend.sql"


def by_hand(engine: Engine, sql: str) -> None:
    con = sqlite3.connect(engine.db_path)
    con.executescript(sql)
    con.close()


async def test_a_hand_change_just_before_a_migration_is_said_once(engine: Engine) -> None:
    assert await drift.check(engine) == []  # the baseline
    by_hand(engine, "CREATE INDEX by_hand ON activity_logs(started_at);")
    assert (await run_migrate(engine, MIGRATION, confirmed=True)).ok
    [found] = await drift.check(engine)
    assert found.changes == ("+ index by_hand",), found  # found by the run: before it, not its own change
    assert await drift.check(engine) == []


async def test_a_hand_change_after_a_migration_is_said_without_the_migrations_own(engine: Engine) -> None:
    assert await drift.check(engine) == []
    assert (await run_migrate(engine, MIGRATION, confirmed=True)).ok
    assert await drift.check(engine) == [], "opsbot's own change is not drift"
    by_hand(engine, "CREATE TABLE tags(id INTEGER PRIMARY KEY);")
    [found] = await drift.check(engine)
    assert found.changes == ("+ table tags",)
