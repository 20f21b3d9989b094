"""The foreign-key check inside the write lock (ops.fk_check) says exactly what PRAGMA foreign_key_check says.

Differential: for every parent shape (rowid alias or not, WITHOUT ROWID, DESC, a column named rowid),
every child affinity and collation, and values that test SQLite's conversions (text that reads as
a number, reals, blobs, NULL, out-of-range integers), the real migration session (the sqlite3 CLI,
-safe, one transaction) reports the pragma's violations and commits only when there are none; the
index path is taken where the parent's key is its rowid and not elsewhere. The control shows the
harm the in-transaction plan prevents: a rowid lookup on a parent whose key is not its rowid
misses a violation.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ops import fk_check
from ops.apply import apply_migration, build_session
from ops.migrations import load
from ops.schema import read_state
from ops.targets.local import LocalTarget
from tests.conftest import make_db

# (p's columns, whether its key is the rowid: the index path applies)
PARENTS = {
    "ipk": ("id INTEGER PRIMARY KEY, name TEXT", True),
    "ipk_lower": ("id integer primary key, name TEXT", True),
    "ipk_table_constraint_desc": ("id INTEGER, name TEXT, PRIMARY KEY(id DESC)", True),
    "column_named_rowid": ("rowid TEXT, id INTEGER PRIMARY KEY, name TEXT", True),
    # a parent column with the name the check gives the child's value, equal to the parent's rowid
    "column_named_v": ("id INTEGER PRIMARY KEY, name TEXT, v INTEGER AS (id) STORED", True),
    "ipk_desc": ("id INTEGER PRIMARY KEY DESC, name TEXT", False),
    "int_pk": ("id INT PRIMARY KEY, name TEXT", False),
    "without_rowid": ("id INTEGER PRIMARY KEY, name TEXT", False),
}
OPTIONS = {"without_rowid": " WITHOUT ROWID"}
AFFINITIES = ["INTEGER", "TEXT", "", "REAL", "NUMERIC", "TEXT COLLATE NOCASE", "INTEGER COLLATE RTRIM"]
PARENT_IDS = [0, 1, 2, 3, 4, 5]
# Each value goes into a child table of its own, beside two rows that do have a parent.
VALUES = ["1", "5", "6", "'5'", "' 5'", "'5 '", "'5.0'", "5.0", "5.5", "x'05'", "NULL", "'abc'", "'1e0'",
          "'0x05'", "9223372036854775807", "'9223372036854775808'", "-0.0", "'Five'", "'-0'"]


def _build(db: Path, parent: str, affinity: str, *, implicit: bool) -> None:
    ref = "p" if implicit else "p(id)"
    sql = [f"CREATE TABLE p{parent};"]
    sql += [f"INSERT INTO p(id, name) VALUES({i}, 'u{i}');" for i in PARENT_IDS]
    for i, value in enumerate(VALUES):
        sql += [f"CREATE TABLE c{i}(id INTEGER PRIMARY KEY, x {affinity} REFERENCES {ref}, at TEXT);",
                f"CREATE INDEX c{i}_x ON c{i}(x, at);",
                f"INSERT INTO c{i}(x, at) VALUES(1, 'a'), (2, 'b'), ({value}, 'c');"]
    subprocess.run(["sqlite3", str(db)], input="\n".join(sql), text=True, check=True, capture_output=True)


def _pragma(db: Path) -> set[tuple[str, int]]:
    con = sqlite3.connect(db)
    try:
        return {(t, r) for t, r, _, _ in con.execute("SELECT * FROM pragma_foreign_key_check")}
    finally:
        con.close()


def _migrations(tmp: Path, parent: str) -> Path:
    """Two files that leave the keys as they are: one touches nothing, one rebuilds the parent."""
    folder = tmp / "migrations"
    folder.mkdir(exist_ok=True)
    (folder / "0001_touch_nothing.sql").write_text("UPDATE p SET name = name WHERE 0;\n")
    (folder / "0002_rebuild_parent.sql").write_text(
        f"CREATE TABLE p_new{parent};\nINSERT INTO p_new(id, name) SELECT id, name FROM p;\nDROP TABLE p;\n"
        "ALTER TABLE p_new RENAME TO p;\n")
    return folder


def _reported(violations: tuple[str, ...]) -> set[tuple[str, int]]:
    found = set()
    for v in violations:
        m = re.fullmatch(r"(\w+) rowid (\d+) → \w+", v)
        assert m, v
        found.add((m.group(1), int(m.group(2))))
    return found


@pytest.mark.parametrize("shape", sorted(PARENTS))
async def test_the_check_reports_exactly_what_the_pragma_reports(tmp_path: Path, shape: str) -> None:
    columns, parent_is_rowid = PARENTS[shape]
    parent = f"({columns}){OPTIONS.get(shape, '')}"
    folder = _migrations(tmp_path, parent)
    seen_violations = 0
    for k, affinity in enumerate(AFFINITIES):
        for name in ("0001_touch_nothing.sql", "0002_rebuild_parent.sql"):
            db = tmp_path / f"{k}-{name}.db"
            _build(db, parent, affinity, implicit=k % 2 == 1)
            expected = _pragma(db)
            assert len(expected) <= 20  # the session reports up to 20
            migration = load(folder, name)
            before = await read_state(LocalTarget(), str(db), counts=False)
            outcome = await apply_migration(LocalTarget(), str(db), migration, before=before,
                                            busy_timeout_ms=2000, timeout=60)
            where = f"{shape} / {affinity or 'no affinity'} / {name}"
            assert _reported(outcome.fk_violations) == expected, where
            assert outcome.committed == (not expected), (where, outcome.error)
            if expected:
                assert outcome.failed_step == "fk_check", where
            # the index path was taken exactly where the parent's key is its rowid and the child's
            # index is in BINARY order (a NOCASE or RTRIM column's index is not)
            indexed = parent_is_rowid and "COLLATE" not in affinity
            assert bool(outcome.fk_indexed) == indexed, where
            if indexed:
                assert set(outcome.fk_indexed) == {f"c{i}" for i in range(len(VALUES))}, where
            seen_violations += len(expected)
    assert seen_violations > 0  # the values do test something


async def test_without_a_plan_a_rowid_lookup_misses_a_violation(tmp_path: Path) -> None:
    """Control: the parent's key is declared INTEGER PRIMARY KEY DESC, so it is not the rowid. A
    lookup by rowid (what the index path does) finds a parent for a key that has none; the plan in
    the transaction sends such a table to the pragma instead."""
    db = tmp_path / "app.db"
    subprocess.run(["sqlite3", str(db)], text=True, check=True, capture_output=True, input=(
        "CREATE TABLE p(id INTEGER PRIMARY KEY DESC, name TEXT);\nINSERT INTO p VALUES(7, 'u7');\n"
        "CREATE TABLE c(id INTEGER PRIMARY KEY, x INTEGER REFERENCES p(id));\nCREATE INDEX c_x ON c(x);\n"
        "INSERT INTO c(x) VALUES(1);\n"))
    assert _pragma(db) == {("c", 1)}  # no parent has id 1...
    con = sqlite3.connect(db)
    naive = con.execute("SELECT count(*) FROM (SELECT DISTINCT x AS v FROM c) WHERE NOT EXISTS "
                        "(SELECT 1 FROM p WHERE rowid = +v)").fetchone()[0]
    con.close()
    assert naive == 0  # ...but the one row of p has rowid 1: the rowid lookup sees no violation
    folder = _migrations(tmp_path, "(id INTEGER PRIMARY KEY DESC, name TEXT)")
    before = await read_state(LocalTarget(), str(db), counts=False)
    migration = load(folder, "0001_touch_nothing.sql")
    outcome = await apply_migration(LocalTarget(), str(db), migration, before=before, busy_timeout_ms=2000,
                                    timeout=60)
    assert not outcome.committed and _reported(outcome.fk_violations) == {("c", 1)}
    assert outcome.fk_indexed == ()


async def test_the_runbook_migration_checks_the_logs_through_their_index(tmp_path: Path) -> None:
    """The runbook's migration rebuilds the parent (user_settings): activity_logs takes the index
    path, and a log whose user is gone stops the migration with the pragma's own row."""
    db = tmp_path / "app.db"
    make_db(db, users=50, logs=400)
    repo_migrations = Path(__file__).resolve().parent.parent / "migrations"
    migration = load(repo_migrations, "0001_remove_suspend.sql")
    before = await read_state(LocalTarget(), str(db), counts=False)
    session = build_session(migration, before)
    assert "pragma_foreign_key_check(m.name, 'main')" in session.body
    con = sqlite3.connect(db)
    con.execute("INSERT INTO activity_logs(user_id, activity, started_at) VALUES(999999, 'x', '2026-01-01')")
    orphan = con.execute("SELECT max(id) FROM activity_logs").fetchone()[0]
    con.commit()
    con.close()
    before = await read_state(LocalTarget(), str(db), counts=False)
    outcome = await apply_migration(LocalTarget(), str(db), migration, before=before, busy_timeout_ms=2000,
                                    timeout=60)
    assert outcome.fk_indexed == ("activity_logs",)
    assert not outcome.committed and outcome.failed_step == "fk_check"
    assert _reported(outcome.fk_violations) == {("activity_logs", orphan)}
    con = sqlite3.connect(db)
    con.execute("DELETE FROM activity_logs WHERE id = ?", (orphan,))
    con.commit()
    con.close()
    before = await read_state(LocalTarget(), str(db), counts=False)
    outcome = await apply_migration(LocalTarget(), str(db), migration, before=before, busy_timeout_ms=2000,
                                    timeout=60)
    assert outcome.committed and outcome.fk_indexed == ("activity_logs",)


async def test_an_old_sqlite_on_the_host_gets_the_pragma(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=5, logs=10)
    before = await read_state(LocalTarget(), str(db), counts=False)
    migration = load(Path(__file__).resolve().parent.parent / "migrations", "0001_remove_suspend.sql")
    old = replace(before, sqlite_version="3.30.1")
    assert fk_check.indexed_keys(old, migration, before.table_infos) == ()
    assert "FROM pragma_foreign_key_check LIMIT" in build_session(migration, old).body


async def test_a_schema_change_that_never_ends_is_not_replayed_forever(tmp_path: Path) -> None:
    """The plan replays the file's CREATE/ALTER/DROP on an empty copy of the schema; a CREATE TABLE
    AS SELECT over an endless recursive CTE is stopped there (bounded), and the table gets the pragma."""
    db = tmp_path / "app.db"
    make_db(db, users=5, logs=10)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_endless.sql").write_text(
        "CREATE TABLE t AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i FROM r;\n")
    before = await read_state(LocalTarget(), str(db), counts=False)
    migration = load(folder, "0001_endless.sql")
    start = time.monotonic()
    keys = fk_check.indexed_keys(before, migration, before.table_infos)
    assert time.monotonic() - start < fk_check.REPLAY_BUDGET_S + 2
    assert keys == ()
