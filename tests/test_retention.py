"""Retention (issue 15): the oldest backups beyond the counts go, on the host and off it; the newest
verified one, recent ones, one a run depends on and hand-made ones stay. Real files, the real
engine; the clock is moved, not the rows."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.backup import run_backup
from ops.backups import list_backups
from ops.context import Engine
from ops.errors import OpsError
from ops.migrate import run_migrate
from ops.retention import DAY, prune
from ops.rollback import run_rollback
from tests.conftest import REPO
from tests.test_faults_bot import SLOW_SQL, migration_under_way, no_session
from tests.waiting import eventually


async def backups(engine: Engine, labels: list[str]) -> list[str]:
    paths = []
    for label in labels:
        paths.append((await run_backup(engine, label=label, offsite=True)).path)
    return paths


async def test_the_oldest_go_beyond_the_counts_on_the_host_and_off_it(engine: Engine) -> None:
    engine.keep_host, engine.keep_offsite = 2, 3
    paths = await backups(engine, ["b1", "b2", "b3", "b4", "b5"])
    now = await prune(engine, apply=False)
    assert now.host == () and now.offsite == (), "all taken in the last day: kept"
    later = await prune(engine, now=time.time() + 2 * DAY)
    assert sorted(Path(p).name.split("-")[1] for p in later.host) == ["b1", "b2", "b3"]
    assert len(later.offsite) == 2 and all(not Path(p).exists() for p in later.offsite)
    listing = (await list_backups(engine)).backups
    assert [(b.label, b.on_host, bool(b.offsite_path)) for b in listing] == [
        ("b5", True, True), ("b4", True, True), ("b3", False, True)]  # b3 lives on off the host only
    assert [Path(p).exists() for p in paths] == [False, False, False, True, True]


async def test_the_newest_verified_a_runs_way_back_and_hand_made_ones_are_kept(engine: Engine) -> None:
    engine.keep_host, engine.keep_offsite = 1, 1
    migrated = await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True)
    await asyncio.sleep(1.1)  # backups are named to the second
    [newer] = await backups(engine, ["after"])
    # A copy made by hand, the runbook's way: never pruned, never counted as verified.
    hand = Path(engine.db_path + ".pre-byhand-20200101_000000")
    shutil.copyfile(newer, hand)
    done = await prune(engine, now=time.time() + 2 * DAY)
    assert done.host == () and done.offsite == ()
    assert done.kept == {migrated.backup: f"the way back of run #{migrated.run_id} (its Rollback button)"}
    assert hand.exists() and Path(migrated.backup).exists() and Path(newer).exists()
    # Control: once that run is rolled back, its backup is no longer anyone's way back.
    await run_rollback(engine, confirmed=True, backup=migrated.backup)
    gone = await prune(engine, now=time.time() + 2 * DAY)
    assert migrated.backup in gone.host and not Path(migrated.backup).exists()
    assert hand.exists(), "a hand-made backup is never removed"
    # The newest verified one stays whatever the counts.
    assert Path(newer).exists()


async def test_an_interrupted_migrations_backup_is_kept_and_pruning_takes_the_lock(
    engine: Engine, tmp_path: Path
) -> None:
    """Killed mid-run: the run is interrupted with no outcome, and may have applied its change: its
    backup is its way back (control: only finished runs' backups used to be kept). The kill is real:
    `python -m ops migrate` is killed while it holds the database's write lock, and the next
    `python -m ops` process finds the run interrupted."""
    from ops.retention import run_prune

    engine.keep_host, engine.keep_offsite = 1, 1
    slow = "0002_slow_remove_suspend.sql"
    plain = (engine.migrations_dir / "0001_remove_suspend.sql").read_text()
    version = "PRAGMA user_version = 8;"
    (engine.migrations_dir / slow).write_text(plain.replace(version, SLOW_SQL + version))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TARGET": "local", "DB_PATH": engine.db_path,
           "MIGRATIONS_DIR": str(engine.migrations_dir), "STATE_DB": str(tmp_path / "state" / "opsbot.db"),
           "KEEP_BACKUPS_HOST": "1", "KEEP_BACKUPS_OFFSITE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "ops", "migrate", slow, "--yes"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        await eventually(lambda: migration_under_way(engine, engine.db_path), timeout=60,
                         what="the migration to be under way")
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the CLI and its sqlite3 together
        child.wait(10)
    await eventually(lambda: no_session(engine.db_path), timeout=30, what="no sqlite3 session left")
    [killed] = [r for r in await engine.journal.runs(20) if r.phase == "migrate"]
    assert killed.state == "running" and not killed.outcome
    [way_back] = [b.path for b in (await list_backups(engine)).backups if "pre-0002_slow" in b.path]
    listed = subprocess.run([sys.executable, "-m", "ops", "--json", "backups"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)  # the next process
    assert listed.returncode == 0, listed.stderr
    [killed] = [r for r in await engine.journal.runs(20) if r.phase == "migrate"]
    assert killed.state == "interrupted"
    await asyncio.sleep(1.1)
    await backups(engine, ["after"])
    done = await prune(engine, now=time.time() + 2 * DAY)
    assert way_back in done.kept and Path(way_back).exists()
    # Removing backups is a locked run: refused while another run holds the environment.
    lock_run = await engine.journal.start_run("rollback", engine.key, "someone", lock=True)
    try:
        with pytest.raises(OpsError, match="someone is already running rollback"):
            await run_prune(engine, apply=True)
    finally:
        await engine.journal.finish_run(lock_run, "succeeded", {}, outcome="done")
