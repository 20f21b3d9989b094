"""What the ledger flags is shown wherever a user looks, through `python -m ops` on real files: status
shows an edited, gone or out-of-order migration; a rolled-back one is pending *and says by which run*;
a locked environment's refusal says the lock whatever else refused it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import cli
from tests.test_ledger import migrate, pending, setup


def status(env: dict[str, str], cwd: Path) -> dict:  # type: ignore[type-arg]
    out = cli("--json", "status", env=env, cwd=cwd)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def test_status_shows_what_the_ledger_flags(tmp_path: Path) -> None:
    env, _, folder = setup(tmp_path)
    assert status(env, tmp_path)["ledger_warnings"] == []  # control: nothing applied, nothing flagged
    first = json.loads(migrate(env, tmp_path, "0001_notes.sql").stdout)["run_id"]
    third = json.loads(migrate(env, tmp_path, "0003_notes_index.sql").stdout)["run_id"]
    assert status(env, tmp_path)["ledger_warnings"] == [
        "0002_tags.sql is pending but sorts before a migration already applied (out of order)"]
    (folder / "0001_notes.sql").write_text("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, at REAL);\n")
    (folder / "0003_notes_index.sql").unlink()
    flags = status(env, tmp_path)["ledger_warnings"]
    assert f"0001_notes.sql was applied by run #{first} but its SQL changed since" in flags
    assert f"0003_notes_index.sql was applied by run #{third} but the file is gone since" in flags
    text = cli("status", env={**env, "COLUMNS": "250"}, cwd=tmp_path).stdout
    assert "⚠ ledger: 0001_notes.sql was applied by run" in text and "its SQL changed since" in text
    assert "ledger_warnings" not in text  # said as lines, not as a Python tuple


def test_a_rolled_back_migration_is_pending_and_says_by_which_run(tmp_path: Path) -> None:
    env, _, _ = setup(tmp_path)
    applied = json.loads(migrate(env, tmp_path, "0001_notes.sql").stdout)["run_id"]
    rolled = cli("--json", "rollback", "--yes", env=env, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stdout
    rollback_run = json.loads(rolled.stdout)["run_id"]
    report = pending(env, tmp_path)
    first, second, _ = report["pending"]
    assert first["name"] == "0001_notes.sql"
    assert first["rolled_back_by"] == rollback_run and first["rolled_back_run"] == applied
    assert second["rolled_back_by"] is None, "control: never applied, nothing rolled it back"
    text = cli("pending", env={**env, "COLUMNS": "200"}, cwd=tmp_path).stdout
    assert f"0001_notes.sql (rolled back by run #{rollback_run})" in text
    assert "0002_tags.sql (rolled back" not in text
    # Applied again: no longer pending, so nothing says rolled back.
    assert migrate(env, tmp_path, "0001_notes.sql").returncode == 0
    assert all(p["rolled_back_by"] is None for p in pending(env, tmp_path)["pending"])


def test_a_locked_environments_refusals_all_say_the_lock(tmp_path: Path) -> None:
    env, db, _ = setup(tmp_path)
    assert migrate(env, tmp_path, "0001_notes.sql").returncode == 0
    out = cli("--json", "lock", "--reason", "load test tonight", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    before = db.stat().st_mtime_ns
    # migrate: the lock is checked before the ledger's "already applied".
    again = json.loads(migrate(env, tmp_path, "0001_notes.sql").stdout)["error"]
    assert "this machine is locked by" in again["message"] and "load test tonight" in again["message"], again
    # preflight (not stopped by the lock, a rehearsal) refused for being applied: it says the lock too.
    pre = cli("--json", "preflight", "0001_notes.sql", env=env, cwd=tmp_path)
    assert pre.returncode == 1
    message = json.loads(pre.stdout)["error"]["message"]
    assert "already applied on this machine" in message and "also: this machine is locked by" in message
    assert "load test tonight" in message
    assert db.stat().st_mtime_ns == before
    # Control: unlocked, the same refusals say nothing of a lock.
    assert cli("--json", "unlock", env=env, cwd=tmp_path).returncode == 0
    again = json.loads(migrate(env, tmp_path, "0001_notes.sql").stdout)["error"]["message"]
    pre_text = json.loads(cli("--json", "preflight", "0001_notes.sql", env=env, cwd=tmp_path).stdout)
    assert "already applied" in again and "locked" not in again
    assert "locked" not in pre_text["error"]["message"]
    # A pending migration's preflight on a locked environment still rehearses (the lock holds changes only).
    assert cli("--json", "lock", "--reason", "again", env=env, cwd=tmp_path).returncode == 0
    ok = cli("--json", "preflight", "0002_tags.sql", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout
