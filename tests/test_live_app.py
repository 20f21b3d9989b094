"""With the app writing: backup, preflight, migrate and rollback through `python -m ops`, while
a separate process commits a row every few milliseconds (tests/live/app_writer.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
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
    """The control: the CLI's bare `.backup` restarts from page 1 after each commit by the app."""
    with app_writing(live_db, 5):
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run(["sqlite3", "-cmd", ".timeout 10000", str(live_db)], input=f".backup '{tmp_path}/c.db'\n",
                           text=True, capture_output=True, timeout=3)


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
