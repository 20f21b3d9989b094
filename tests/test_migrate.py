"""migrate: atomic, guarded inside its transaction, and honest about what happened."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from ops.context import Engine
from ops.errors import OpsError, UsageError
from ops.migrate import run_migrate
from ops.reporter import ListReporter, Status
from tests.conftest import MIGRATIONS, dump, make_db

MIGRATION = "0001_remove_suspend.sql"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    sql = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    names = [r[0] for r in con.execute(sql)]
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


async def test_remove_suspend_keeps_every_child_row(engine: Engine, app_db: Path) -> None:
    before = counts(app_db)
    rep = ListReporter()
    result = await run_migrate(engine, MIGRATION, confirmed=True, reporter=rep)
    assert result.ok and result.committed
    after = counts(app_db)
    # The rebuild drops user_settings, whose children cascade ON DELETE: none may go.
    assert after["activity_logs"] == before["activity_logs"] > 0
    assert after["user_settings"] == before["user_settings"]
    assert "suspend_history" not in after
    assert result.counts_before == before and result.counts == after
    assert all(c["ok"] for c in result.checks) and len(result.checks) == 3
    assert result.user_version_before == 7 and result.user_version == 8
    assert Path(result.backup).exists() and counts(Path(result.backup)) == before
    assert [s for s in rep.statuses("apply")] == [Status.RUNNING, Status.DONE]


def test_the_same_rebuild_with_foreign_keys_on_would_lose_rows(app_db: Path) -> None:
    """Why the engine keeps foreign keys OFF (DESIGN rule 5): the control experiment."""
    con = sqlite3.connect(app_db)
    con.execute("PRAGMA foreign_keys=ON")
    con.executescript((MIGRATIONS / MIGRATION).read_text())
    assert con.execute("SELECT count(*) FROM activity_logs").fetchone()[0] == 0


def write(migrations_dir: Path, name: str, sql: str) -> str:
    (migrations_dir / name).write_text(sql)
    return name


@pytest.mark.parametrize("wal", [False, True])
async def test_failure_in_the_last_statement_leaves_the_database_unchanged(
    engine: Engine, migrations_dir: Path, tmp_path: Path, wal: bool
) -> None:
    db = tmp_path / f"rj-{wal}" / "app.db"
    make_db(db, wal=wal)
    engine.db_path = str(db)
    original_bytes, original_dump = sha(db), dump(db)
    sql = (MIGRATIONS / MIGRATION).read_text() + "\nINSERT INTO no_such_table VALUES (1);\n"
    name = write(migrations_dir, "0002_breaks_last.sql", sql)
    result = await run_migrate(engine, name, confirmed=True)
    assert not result.ok and not result.committed
    assert result.database_unchanged is True
    assert result.failed_step == "migration"
    expected_line = sql.splitlines().index("INSERT INTO no_such_table VALUES (1);") + 1
    assert f"line {expected_line} of {name}" in result.error and "no_such_table" in result.error
    assert dump(db) == original_dump
    if not wal:
        assert sha(db) == original_bytes, "a rolled-back migration must leave the file byte-for-byte as it was"
    assert (await engine.journal.runs())[0].state == "failed"


async def test_foreign_key_violation_aborts(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    before = dump(app_db)
    name = write(migrations_dir, "0003_orphans.sql", "INSERT INTO activity_logs (user_id, activity, started_at) "
                 "VALUES (999999, 'orphan', 'now');\n")
    result = await run_migrate(engine, name, confirmed=True)
    assert result.failed_step == "fk_check" and result.database_unchanged
    assert "activity_logs" in result.error and dump(app_db) == before


async def test_failing_check_aborts(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    before = dump(app_db)
    name = write(migrations_dir, "0004_check.sql", "-- check: SELECT count(*) = 0 FROM user_settings\n"
                 "CREATE TABLE extra(x);\n")
    result = await run_migrate(engine, name, confirmed=True)
    assert result.failed_step == "check 1" and "did not hold" in result.error
    assert result.database_unchanged and dump(app_db) == before


async def test_a_check_returning_null_does_not_pass(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    name = write(migrations_dir, "0005_null.sql", "-- check: SELECT NULL\nCREATE TABLE extra(x);\n")
    result = await run_migrate(engine, name, confirmed=True)
    assert result.failed_step == "check 1" and result.database_unchanged


async def test_unexpected_row_loss_aborts_unless_declared(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    before = dump(app_db)
    name = write(migrations_dir, "0006_delete.sql", "DELETE FROM activity_logs WHERE id % 2 = 0;\n")
    result = await run_migrate(engine, name, confirmed=True)
    assert result.failed_step == "row_loss" and "activity_logs" in result.error
    assert dump(app_db) == before
    name = write(migrations_dir, "0007_delete_ok.sql",
                 "-- allow-row-loss: activity_logs\nDELETE FROM activity_logs WHERE id % 2 = 0;\n")
    result = await run_migrate(engine, name, confirmed=True)
    assert result.ok and result.lost_rows == ("activity_logs",)


async def test_schema_drift_since_preflight_is_refused(engine: Engine, app_db: Path) -> None:
    with pytest.raises(OpsError, match="schema changed since the preflight") as info:
        await run_migrate(engine, MIGRATION, confirmed=True, expected_fingerprint="0" * 64)
    assert "new approval" in info.value.hint
    assert "suspend_history" in counts(app_db)


async def test_approval_bound_to_file_content(engine: Engine) -> None:
    with pytest.raises(OpsError, match="changed since it was approved"):
        await run_migrate(engine, MIGRATION, confirmed=True, expected_sha256="f" * 64)


async def test_needs_confirmation(engine: Engine, app_db: Path) -> None:
    with pytest.raises(UsageError, match="confirmation"):
        await run_migrate(engine, MIGRATION, confirmed=False)
    assert not list(app_db.parent.glob("*.pre-*"))


async def test_lint_errors_refuse_before_anything_runs(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    name = write(migrations_dir, "0008_vacuum.sql", "CREATE TABLE x(a);\nVACUUM;\n")
    with pytest.raises(OpsError, match="refused by lint"):
        await run_migrate(engine, name, confirmed=True)
    assert not list(app_db.parent.glob("*.pre-*")) and "x" not in counts(app_db)


async def test_required_tables_missing(engine: Engine, app_db: Path) -> None:
    """Applied outside opsbot (by hand, so the ledger does not know): the table check still refuses."""
    con = sqlite3.connect(app_db)
    con.executescript((engine.migrations_dir / MIGRATION).read_text())
    con.close()
    with pytest.raises(OpsError, match="lacks tables"):
        await run_migrate(engine, MIGRATION, confirmed=True)


async def test_an_applied_migration_is_refused_by_the_ledger_before_it_reaches_the_host(
    engine: Engine, app_db: Path
) -> None:
    done = await run_migrate(engine, MIGRATION, confirmed=True)
    with pytest.raises(OpsError, match=f"already applied on this machine: run #{done.run_id} applied it"):
        await run_migrate(engine, MIGRATION, confirmed=True)
    assert len(list(app_db.parent.glob("*.pre-*"))) == 1, "no second backup: refused before anything ran"


async def test_app_holding_the_write_lock(engine: Engine, app_db: Path) -> None:
    before = dump(app_db)
    engine.busy_timeout_ms = 300
    app = sqlite3.connect(app_db, isolation_level=None)
    app.execute("BEGIN IMMEDIATE")
    try:
        result = await run_migrate(engine, MIGRATION, confirmed=True)
    finally:
        app.execute("ROLLBACK")
        app.close()
    assert not result.ok and not result.committed and result.failed_step == "begin"
    assert "write lock" in result.error and "locked" in result.error
    assert result.database_unchanged and dump(app_db) == before


async def test_one_mutating_run_at_a_time(engine: Engine) -> None:
    await engine.journal.start_run("rollback", "local", "alice", lock=True)
    with pytest.raises(OpsError, match="alice is already running rollback"):
        await run_migrate(engine, MIGRATION, confirmed=True)
