"""With the app writing: backup, preflight, migrate and rollback through `python -m ops`, while
a separate process commits a row every few milliseconds (tests/live/app_writer.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ops import demo_data
from tests.live.writer import app_writing
from tests.test_cli import cli, env_for

# ~21 MB: about 50 `.backup` steps of 100 pages, far longer than the 5 ms between the app's commits.
LOGS, NOTE = 20_000, 900


@pytest.fixture
def live_db(tmp_path: Path) -> Path:
    db = tmp_path / "vol" / "app.db"
    db.parent.mkdir(parents=True)
    demo_data.create(db, users=200, logs=LOGS, note_bytes=NOTE)
    return db


def writer_rows(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM activity_logs WHERE activity='app-writer'").fetchone()[0]
    finally:
        con.close()


def ops_json(*args: str, env: dict[str, str], cwd: Path) -> dict:
    out = cli("--json", *args, env={**env, "PHASE_TIMEOUT_S": "30"}, cwd=cwd)
    data = json.loads(out.stdout)
    assert out.returncode == (0 if data.get("ok") else 1), out.stdout + out.stderr
    return data


def test_the_plain_backup_never_finishes_while_the_app_commits(live_db: Path, tmp_path: Path) -> None:
    """The control: the CLI's bare `.backup` restarts from page 1 after each commit by the app.

    The harm needs the app to keep committing during the copy; on a loaded machine the writer can be
    starved for a while and a copy slips through between two commits. Such a try proves nothing
    either way, so it is tried again: every try in which the app did commit steadily must time out."""
    conclusive = 0
    # A copy much longer than the app's commit interval (~100 MB, ~25,000 pages, 250 steps of the
    # CLI's 100 pages), so that it cannot slip through a pause of the writer's.
    with sqlite3.connect(live_db) as con:
        con.execute("CREATE TABLE padding(b BLOB)")
        con.execute("INSERT INTO padding SELECT randomblob(4000) FROM "
                    "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT i FROM n)")
    with app_writing(live_db, 5):
        for attempt in range(5):
            before, started = writer_rows(live_db), time.monotonic()
            try:
                subprocess.run(["sqlite3", "-cmd", ".timeout 10000", str(live_db)],
                               input=f".backup '{tmp_path}/c{attempt}.db'\n", text=True, capture_output=True,
                               timeout=3)
                finished = True
            except subprocess.TimeoutExpired:
                finished = False
            elapsed, commits = time.monotonic() - started, writer_rows(live_db) - before
            steady = commits >= elapsed * 1000 / 20  # at least one commit every 20 ms on average
            assert not (finished and steady), f"the plain backup finished in {elapsed:.2f} s despite {commits} commits"
            conclusive += steady
            if conclusive >= 1:
                break
    assert conclusive >= 1, "the app writer never kept committing: the control could not be run"


@pytest.mark.parametrize("interval_ms", [5, 1000])
def test_backup_finishes_while_the_app_commits(live_db: Path, tmp_path: Path, interval_ms: int) -> None:
    env = env_for(tmp_path, live_db)
    with app_writing(live_db, interval_ms):
        data = ops_json("backup", "--label", "busy", env=env, cwd=tmp_path)
    assert data["ok"] and data["integrity"] == "ok"
    # A consistent snapshot with the app's rows committed before it (still in -wal) included.
    copied = writer_rows(Path(data["path"]))
    assert copied >= 1 and data["counts"]["activity_logs"] == LOGS + copied


def test_preflight_and_migrate_finish_and_lose_no_write_while_the_app_commits(live_db: Path, tmp_path: Path) -> None:
    env = env_for(tmp_path, live_db)
    with app_writing(live_db, 5) as writer:
        pre = ops_json("preflight", "0001_remove_suspend.sql", env=env, cwd=tmp_path)
        assert pre["ok"], pre
        done = ops_json("migrate", "0001_remove_suspend.sql", "--yes", env=env, cwd=tmp_path)
        assert done["ok"] and done["committed"], done
    # Every row the app committed is there: before the migration, waiting on its lock, after it.
    assert writer_rows(live_db) == writer.committed > 0
    con = sqlite3.connect(live_db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 8


def test_rollback_with_the_app_writing_is_reported_restored_and_the_app_restarted(
    live_db: Path, tmp_path: Path
) -> None:
    restarted = tmp_path / "restarted"
    env = {**env_for(tmp_path, live_db), "RESTART_COMMAND": f"touch {restarted}"}
    assert ops_json("migrate", "0001_remove_suspend.sql", "--yes", env=env, cwd=tmp_path)["ok"]
    with app_writing(live_db, 5):
        rolled = ops_json("rollback", "--yes", env=env, cwd=tmp_path)
        # The control: read the way the old check did, in a session of its own after the restore,
        # the counts already differ from the backup's: the app wrote in between.
        con = sqlite3.connect(live_db)
        later = con.execute("SELECT count(*) FROM activity_logs").fetchone()[0]
        con.close()
    assert rolled["ok"] and rolled["outcome"] == "done" and not rolled["error"], rolled
    assert rolled["restart"] == "restarted with RESTART_COMMAND" and restarted.exists()
    con = sqlite3.connect(rolled["backup"])
    in_backup = con.execute("SELECT count(*) FROM activity_logs").fetchone()[0]
    con.close()
    assert later > in_backup, "the old check (counts now == the backup's) would have called this a failure"
    # What the restoring session read: the backup's rows, plus whatever the app wrote between the
    # restore and that read (reported, not an error).
    assert rolled["counts"]["activity_logs"] == in_backup + rolled["app_wrote"].get("activity_logs", 0)
    con = sqlite3.connect(live_db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 7  # the backup's schema, restored
    con.close()
