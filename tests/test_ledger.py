"""The ledger (issue 14): what is applied on an environment, through `python -m ops` on real files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import make_db
from tests.test_cli import cli, env_for

FILES = {
    "0001_notes.sql": "-- notes for the team\nCREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n",
    "0002_tags.sql": "CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    "0003_notes_index.sql": "CREATE INDEX notes_body ON notes(body);\n",
}


def setup(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=20, logs=50)
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return {**env_for(tmp_path, db), "MIGRATIONS_DIR": str(folder)}, db, folder


def pending(env: dict[str, str], cwd: Path) -> dict:  # type: ignore[type-arg]
    out = cli("--json", "pending", env=env, cwd=cwd)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def migrate(env: dict[str, str], cwd: Path, name: str):  # type: ignore[no-untyped-def]
    return cli("--json", "migrate", name, "--yes", env=env, cwd=cwd)


def test_applied_pending_reapply_and_edits(tmp_path: Path) -> None:
    env, db, folder = setup(tmp_path)
    first = pending(env, tmp_path)
    assert first["ok"] and first["applied"] == []
    assert [p["name"] for p in first["pending"]] == list(FILES)
    assert first["user_version"] == 7
    done = migrate(env, tmp_path, "0001_notes.sql")
    assert done.returncode == 0, done.stdout
    run_id = json.loads(done.stdout)["run_id"]
    report = pending(env, tmp_path)
    [applied] = report["applied"]
    assert applied["name"] == "0001_notes.sql" and applied["run_id"] == run_id
    assert applied["sha256"] == json.loads(done.stdout)["sha256"] and applied["changed_since_applied"] is None
    assert [p["name"] for p in report["pending"]] == ["0002_tags.sql", "0003_notes_index.sql"]
    # Applying it again is refused, naming the run that applied it; the database is untouched.
    before = db.stat().st_mtime_ns
    again = migrate(env, tmp_path, "0001_notes.sql")
    assert again.returncode == 1
    error = json.loads(again.stdout)["error"]
    assert f"already applied on this machine: run #{run_id} applied it" in error["message"], error
    assert "roll that run back first" in error["hint"]
    assert db.stat().st_mtime_ns == before
    # An applied file edited afterwards: only its comment, then its SQL.
    path = folder / "0001_notes.sql"
    path.write_text("-- notes for the team (reworded)\nCREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n")
    assert pending(env, tmp_path)["applied"][0]["changed_since_applied"] == "comments"
    path.write_text("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, at REAL);\n")
    assert pending(env, tmp_path)["applied"][0]["changed_since_applied"] == "sql"
    text = cli("pending", env={**env, "COLUMNS": "200"}, cwd=tmp_path).stdout
    assert "0001_notes.sql" in text and "its SQL changed since" in text


def test_out_of_order_and_a_rolled_back_migration_is_pending_again(tmp_path: Path) -> None:
    env, db, _ = setup(tmp_path)
    assert migrate(env, tmp_path, "0001_notes.sql").returncode == 0
    third = migrate(env, tmp_path, "0003_notes_index.sql")
    assert third.returncode == 0, third.stdout
    report = pending(env, tmp_path)
    assert [a["name"] for a in report["applied"]] == ["0001_notes.sql", "0003_notes_index.sql"]
    assert report["out_of_order"] == ["0002_tags.sql"]  # pending, but sorts before an applied one
    rolled = cli("--json", "rollback", "--yes", env=env, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stdout
    report = pending(env, tmp_path)
    assert [a["name"] for a in report["applied"]] == ["0001_notes.sql"]
    assert [p["name"] for p in report["pending"]] == ["0002_tags.sql", "0003_notes_index.sql"]
    assert report["out_of_order"] == []
    journal = sqlite3.connect(tmp_path / "state" / "j.db")
    [(by,)] = journal.execute("SELECT rolled_back_by FROM ledger WHERE name='0003_notes_index.sql'").fetchall()
    assert by == json.loads(rolled.stdout)["run_id"]
    # Pending again: it can be applied again, and the ledger has both entries.
    assert migrate(env, tmp_path, "0003_notes_index.sql").returncode == 0
    assert journal.execute("SELECT count(*) FROM ledger WHERE name='0003_notes_index.sql'").fetchone() == (2,)


def test_a_tools_own_table_is_shown_and_never_written(tmp_path: Path) -> None:
    env, db, _ = setup(tmp_path)
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE goose_db_version(id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, "
        "is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')));"
        "INSERT INTO goose_db_version(version_id, is_applied) VALUES (0, 1), (20240101, 1), (20240202, 1), "
        "(20240202, 0);")
    con.close()
    before = sqlite3.connect(db).execute("SELECT * FROM goose_db_version ORDER BY id").fetchall()
    report = pending(env, tmp_path)
    [goose] = report["tool_tables"]
    assert goose["tool"] == "goose" and goose["applied"] == ["20240101"], goose  # 20240202 went down again
    assert goose["rows"] == 4 and "newest row" in goose["meaning"]
    assert migrate(env, tmp_path, "0001_notes.sql").returncode == 0
    after = sqlite3.connect(db).execute("SELECT * FROM goose_db_version ORDER BY id").fetchall()
    assert after == before, "opsbot never writes a tool's table"


async def test_a_journal_from_before_the_ledger_knows_what_its_runs_applied(tmp_path: Path) -> None:
    """The upgrade fills the ledger from the migrate runs (control: without it, an applied
    migration would look pending and be allowed to run again)."""
    from ops.context import Engine
    from ops.journal import Journal
    from ops.migrate import run_migrate
    from ops.targets.local import LocalTarget

    env, db, folder = setup(tmp_path)
    state = tmp_path / "state" / "j.db"
    journal = await Journal.open(state)
    engine = Engine(target=LocalTarget(), journal=journal, db_path=str(db), migrations_dir=folder,
                    work_dir=tmp_path / "state" / "work")
    first = await run_migrate(engine, "0001_notes.sql", confirmed=True, actor="alice (1) + bob")
    await journal.close()
    # The same journal as an opsbot from before the ledger left it: its runs, no ledger rows.
    con = sqlite3.connect(state)
    con.execute("DELETE FROM ledger")
    con.execute("PRAGMA user_version = 12")
    con.commit()
    con.close()
    report = pending(env, tmp_path)
    [applied] = report["applied"]
    assert applied["name"] == "0001_notes.sql" and applied["run_id"] == first.run_id
    assert applied["requester"] == "alice" and applied["approvers"] == "bob"
    again = migrate(env, tmp_path, "0001_notes.sql")
    assert again.returncode == 1 and "already applied" in json.loads(again.stdout)["error"]["message"]


async def test_a_run_stopped_right_after_its_commit_is_in_the_ledger(tmp_path: Path) -> None:
    """Cancelled (a kill, a shutdown) while it verifies after COMMIT: the migration is applied,
    and the ledger says so, so it cannot run twice (control: the record used to come last)."""
    import asyncio

    from ops import ledger
    from ops.context import Engine
    from ops.journal import Journal
    from ops.migrate import run_migrate
    from ops.migrations import load
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    _, db, folder = setup(tmp_path)
    journal = await Journal.open(tmp_path / "state" / "j.db")
    committed = asyncio.Event()

    async def stop_after_commit(script: str, result):  # type: ignore[no-untyped-def]
        if "COMMIT" in script and "CREATE TABLE notes" in script:
            committed.set()
        elif committed.is_set() and "integrity_check" in script:
            raise asyncio.CancelledError  # the run is stopped here, after the change
        return None

    engine = Engine(target=FaultyTarget(LocalTarget(), on_script=stop_after_commit), journal=journal,
                    db_path=str(db), migrations_dir=folder, work_dir=tmp_path / "state" / "work")
    try:
        try:
            await run_migrate(engine, "0001_notes.sql", confirmed=True)
        except asyncio.CancelledError:
            pass
        assert committed.is_set()
        assert "notes" in {n for (n,) in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
        assert "0001_notes.sql" in await ledger.applied(journal, "local")
        with pytest.raises(ledger.AlreadyApplied):
            await ledger.ensure_not_applied(journal, "local", load(folder, "0001_notes.sql"), "here")
    finally:
        await journal.close()


def test_rolling_back_further_then_forward_again_keeps_the_ledger_true(tmp_path: Path) -> None:
    """0001 then 0003 applied; roll back to 0001's backup (both undone), then forward to 0003's
    backup, which holds 0001: 0001 is applied again and must not run twice (control: the ledger
    used to keep calling it rolled back)."""
    env, db, _ = setup(tmp_path)
    migrate(env, tmp_path, "0001_notes.sql")
    third = json.loads(migrate(env, tmp_path, "0003_notes_index.sql").stdout)
    backups = json.loads(cli("--json", "backups", env=env, cwd=tmp_path).stdout)["backups"]
    first_backup = next(b["path"] for b in backups if "pre-0001_notes" in b["path"])
    assert cli("--json", "rollback", "--backup", first_backup, "--yes", env=env, cwd=tmp_path).returncode == 0
    assert pending(env, tmp_path)["applied"] == []
    forward = cli("--json", "rollback", "--backup", third["backup"], "--yes", env=env, cwd=tmp_path)
    assert forward.returncode == 0, forward.stdout
    report = pending(env, tmp_path)
    assert [a["name"] for a in report["applied"]] == ["0001_notes.sql"]
    assert "notes" in {n for (n,) in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    again = migrate(env, tmp_path, "0001_notes.sql")
    assert again.returncode == 1 and "already applied" in json.loads(again.stdout)["error"]["message"]


def test_a_table_named_like_a_tools_but_shaped_otherwise_is_not_taken_for_it(tmp_path: Path) -> None:
    env, db, _ = setup(tmp_path)
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE goose_db_version(id INTEGER PRIMARY KEY, note TEXT);"
                      "INSERT INTO goose_db_version(note) VALUES ('not goose'), ('at all');"
                      "CREATE TABLE schema_migrations(version TEXT PRIMARY KEY);"
                      "INSERT INTO schema_migrations VALUES ('20240101000000');")
    con.close()
    report = pending(env, tmp_path)
    assert [(t["tool"], t["applied"]) for t in report["tool_tables"]] == [("dbmate", ["20240101000000"])]
