"""preflight: a consistent snapshot (WAL commits included), rehearsed with migrate's procedure."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ops.context import Engine
from ops.migrate import run_migrate
from ops.migrations import load
from ops.preflight import run_preflight, version_warnings
from tests.conftest import MIGRATIONS, dump
from tests.test_backup import hold_wal_commits


async def test_preflight_sees_wal_commits_and_changes_nothing(engine: Engine, app_db: Path) -> None:
    app = hold_wal_commits(app_db, 30)
    try:
        live = app.execute("SELECT count(*) FROM activity_logs").fetchone()[0]
        before = dump(app_db)
        result = await run_preflight(engine, "0001_remove_suspend.sql")
    finally:
        app.close()
    assert result.ok, result.error
    assert result.counts_before["activity_logs"] == live
    assert result.counts_after["activity_logs"] == live and "suspend_history" not in result.counts_after
    assert "- table suspend_history" in result.schema_diff
    assert "- column user_settings.is_suspended" in result.schema_diff
    assert "- index idx_user_settings_suspended" in result.schema_diff
    assert result.integrity_before == result.integrity_after == "ok"
    assert [c["ok"] for c in result.checks] == [True, True, True]
    assert result.user_version_before == 7 and result.user_version_after == 8
    assert len(result.fingerprint) == 64 and result.host_sqlite == result.local_sqlite
    assert any("DROP TABLE" in f for f in result.lint)
    assert dump(app_db) == before, "preflight must not touch the live database"
    assert not [p for p in app_db.parent.iterdir() if "opsbot-snapshot" in p.name], "host snapshot left behind"
    assert not any(engine.work_dir.iterdir()), "downloaded copy left behind"
    saved = await engine.journal.latest_preflight("local", "0001_remove_suspend.sql", result.sha256)
    assert saved is not None and saved.fingerprint == result.fingerprint


async def test_preflight_fingerprint_gates_migrate(engine: Engine, app_db: Path) -> None:
    pre = await run_preflight(engine, "0001_remove_suspend.sql")
    con = sqlite3.connect(app_db)
    con.execute("CREATE TABLE sneaky(x)")
    con.commit()
    con.close()
    try:
        await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True, expected_fingerprint=pre.fingerprint)
    except Exception as exc:  # noqa: BLE001 - the message is what we check
        assert "schema changed since the preflight" in str(exc)
    else:
        raise AssertionError("migrate ran although the schema drifted")


async def test_preflight_reports_a_failing_rehearsal(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    (migrations_dir / "0009_bad.sql").write_text("CREATE TABLE ok1(x);\nALTER TABLE nope ADD COLUMN y;\n")
    before = dump(app_db)
    result = await run_preflight(engine, "0009_bad.sql")
    assert not result.ok and "line 2 of 0009_bad.sql" in result.error and "nope" in result.error
    assert dump(app_db) == before


async def test_preflight_reports_lint_errors_without_rehearsing(engine: Engine, migrations_dir: Path) -> None:
    (migrations_dir / "0010_attach.sql").write_text("ATTACH '/tmp/x.db' AS x;\n")
    result = await run_preflight(engine, "0010_attach.sql")
    assert not result.ok and "ATTACH" in result.error and result.checks == ()


def test_version_warnings(tmp_path: Path) -> None:
    m = load(MIGRATIONS, "0001_remove_suspend.sql")
    assert version_warnings(m, "3.40.1", "3.40.1") == ([], [])
    (tmp_path / "drop_col.sql").write_text("ALTER TABLE a DROP COLUMN b;\n")
    dc = load(tmp_path, "drop_col.sql")
    errors, warnings = version_warnings(dc, "3.31.1", "3.40.1")
    assert errors and "3.35.0" in errors[0] and warnings
