"""Fault injection on the runbook engine: flyctl that hangs, drops or fails in each phase, damaged
backups, migrations racing each other, the app holding the write lock (a full volume is in
test_faults_volume.py). Real SQLite files, the real sqlite3 CLI,
the stand-in `fly`. Each fault must end with nothing lost, the database state verified (never
the exit code trusted, DESIGN rule 7), the journal's lock released, and a message that says what
is known, what is not, and the next safe step.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from ops.backup import PARTIAL_SUFFIX, run_backup
from ops.backups import list_backups
from ops.context import Engine
from ops.errors import OpsError
from ops.migrate import MigrateResult, run_migrate
from ops.preflight import run_preflight
from ops.reporter import ListReporter, Status
from ops.rollback import run_rollback
from tests.conftest import dump, make_db
from tests.fakefly.plugin import FakeFly
from tests.faults.helpers import (
    assert_all_or_nothing,
    assert_released,
    backup_names,
    leftovers,
    wait_until_idle,
)

MIGRATION = "0001_remove_suspend.sql"
TIMEOUT_S = 1.0  # phase_timeout_s for these tests: a hung flyctl is stopped after this long


@pytest.fixture
def fly_engine(engine: Engine, fakefly: FakeFly, tmp_path: Path) -> Engine:
    db = tmp_path / "vol 'data' $X" / "app.db"
    make_db(db, users=100, logs=1500)
    engine.db_path = str(db)
    engine.target = fakefly.target()
    engine.phase_timeout_s = TIMEOUT_S
    return engine


def change_data(db: str) -> None:
    """The app keeps writing after a backup."""
    con = sqlite3.connect(db)
    con.execute("DELETE FROM activity_logs WHERE id % 3 = 0")
    con.execute("UPDATE user_settings SET timezone = 'UTC' WHERE user_id < 10")
    con.commit()
    con.close()


# --- 1. flyctl hangs, drops or exits 1: backup -------------------------------------------------


@pytest.mark.parametrize("mode", ["hang", "stall", "drop", "exit1"])
async def test_flyctl_fault_during_backup_leaves_no_backup_and_a_retry_works(
    fly_engine: Engine, fakefly: FakeFly, mode: str
) -> None:
    db = fly_engine.db_path
    before = dump(db)
    fakefly.add_fault("ssh", mode, match=".backup", times=1,
                      message="ssh shell: Process exited with status 1" if mode == "exit1" else None)
    with pytest.raises(OpsError) as info:
        await run_backup(fly_engine, label="fault")
    await wait_until_idle(fakefly.state_dir)  # a dropped or stalled flyctl left the remote .backup running
    message, hint = info.value.message, info.value.hint
    assert ".backup" in message and "the live database is unchanged" in hint
    if mode in ("hang", "stall"):
        assert f"did not finish within {TIMEOUT_S:g}s" in message and "Check the host" in hint
    elif mode == "drop":
        assert "remote command exited without exit status" in message
        assert "never listed as a backup" in hint and "retry" in hint
    else:
        assert "Process exited with status 1" in message and "Nothing was kept" in hint
    assert backup_names(db) == [] and (await list_backups(fly_engine)).backups == ()
    assert dump(db) == before
    await assert_released(fly_engine, phase="backup")
    # The next safe step the hint offers: retry. It works and sweeps away unfinished copies, such
    # as one a remote sqlite3 wrote after the clean-up ran.
    Path(f"{db}.pre-fault-20200101_000000{PARTIAL_SUFFIX}").write_bytes(b"SQLite format 3\0" + b"\0" * 4000)
    for side in ("-wal", "-shm", "-journal"):  # what a copy killed while it was checked leaves beside it
        Path(f"{db}.pre-fault-20200101_000000{PARTIAL_SUFFIX}{side}").write_bytes(b"\0" * 512)
    retried = await run_backup(fly_engine, label="retry")
    assert retried.ok and backup_names(db) == [Path(retried.path).name]
    assert leftovers(db, PARTIAL_SUFFIX) == []


# --- 1. flyctl hangs, drops or exits 1: migrate ------------------------------------------------


@pytest.mark.parametrize("mode", ["hang", "exit1", "stall", "drop"])
async def test_flyctl_fault_during_migrate_is_judged_from_the_database(
    fly_engine: Engine, fakefly: FakeFly, mode: str
) -> None:
    db = fly_engine.db_path
    original = dump(db)
    # Only the apply session opens with BEGIN IMMEDIATE before the failure; times=1 spares the
    # confirming read that follows it.
    fakefly.add_fault("ssh", mode, match="BEGIN IMMEDIATE", times=1,
                      message="ssh shell: Process exited with status 1" if mode == "exit1" else None)
    rep = ListReporter()
    result = await run_migrate(fly_engine, MIGRATION, confirmed=True, reporter=rep)
    await wait_until_idle(fakefly.state_dir)
    assert not result.ok
    version = assert_all_or_nothing(db)
    # The state is read again, not assumed: ✅ when it is unchanged, ❌ "THE SCHEMA CHANGED" when not.
    confirm = [e for e in rep.events if e.name == "confirm unchanged" and e.status != Status.RUNNING]
    assert [e.status for e in confirm] == [Status.DONE if version == 7 else Status.FAILED]
    assert ("database unchanged" if version == 7 else "THE SCHEMA CHANGED") in confirm[0].detail
    assert result.outcome == ("unchanged" if version == 7 else "changed")
    assert Path(result.backup).exists() and (await fly_engine.journal.backup(fly_engine.key,
                                                                               result.backup)).verified
    if mode in ("stall", "drop"):
        # flyctl never came back (or lost the session), but the remote sqlite3 committed: the
        # report waits for it and says so, rather than calling the database unchanged.
        assert version == 8 and result.database_unchanged is False and result.committed
        assert "did not confirm COMMIT" in result.hint and f"roll back to {result.backup}" in result.hint
        assert ("did not finish within" if mode == "stall" else "exited without exit status") in result.error
    else:
        assert version == 7 and result.database_unchanged is True and not result.committed
        assert dump(db) == original
        assert result.failed_step in ("connection", "start")
        assert "no COMMIT seen" in result.error
        assert "exactly as it was" in result.hint and "connection to the app host failed" in result.hint
        assert "Fix the migration" not in result.hint, "the migration is not at fault"
    await assert_released(fly_engine, phase="migrate")
    if mode in ("stall", "drop"):
        rolled = await run_rollback(fly_engine, confirmed=True, backup=result.backup)
        assert rolled.ok and dump(db) == original


async def test_migrate_whose_confirming_read_also_fails_says_the_state_is_unknown(
    fly_engine: Engine, fakefly: FakeFly
) -> None:
    """The machine goes away mid-migration: neither COMMIT nor the state afterwards is seen."""
    db = fly_engine.db_path
    original = dump(db)
    # The apply session, then the confirming read and each of its retries (three, after a pause each).
    fakefly.add_fault("ssh", "exit1", match="BEGIN IMMEDIATE", times=1 + 1 + len(fly_engine.read_retry_delays),
                      message="error connecting to SSH server: dial: connection refused")
    result = await run_migrate(fly_engine, MIGRATION, confirmed=True)
    assert not result.ok and result.database_unchanged is None and not result.committed
    assert result.outcome == "unknown"
    assert "database could not be read afterwards either (the same error)" in result.error
    assert "could not open a connection to the machine" in result.error
    assert "NOT known" in result.hint and "never half" in result.hint and "run verify" in result.hint
    assert "user_version 7" in result.hint and result.backup in result.hint
    assert dump(db) == original  # nothing ran: the fault hit before the remote side
    await assert_released(fly_engine, phase="migrate")


# --- 1. flyctl hangs, drops or exits 1: rollback -----------------------------------------------


@pytest.mark.parametrize("mode", ["exit1", "hang", "drop", "stall"])
async def test_flyctl_fault_during_restore_is_confirmed_against_the_backup(
    fly_engine: Engine, fakefly: FakeFly, mode: str
) -> None:
    db = fly_engine.db_path
    made = await run_backup(fly_engine, label="good")
    backed_up = dump(made.path)
    change_data(db)
    changed = dump(db)
    fakefly.add_fault("ssh", mode, match=".restore", times=1,
                      message="no active leader found" if mode == "exit1" else None)
    rep = ListReporter()
    if mode in ("exit1", "hang"):  # the .restore never ran on the host
        with pytest.raises(OpsError) as info:
            await run_rollback(fly_engine, confirmed=True, reporter=rep)
        message, hint = info.value.message, info.value.hint
        assert "the database is as it was, so nothing was restored" in message
        assert "Nothing was restored" in hint and f"--backup {made.path}" in hint
        assert dump(db) == changed
        await assert_released(fly_engine, phase="rollback")
    else:  # the remote .restore finished although flyctl did not say so
        result = await run_rollback(fly_engine, confirmed=True, reporter=rep)
        await wait_until_idle(fakefly.state_dir)
        assert result.ok and result.backup == made.path and dump(db) == backed_up
        warned = [e.detail for e in rep.events if e.name == "restore" and e.status == Status.WARNING]
        assert warned and "now matches the backup" in warned[0]
    # The database is read again after the failed .restore, whatever the exit code said.
    expected = Status.FAILED if mode in ("exit1", "hang") else Status.DONE
    assert rep.statuses("confirm restore") == [Status.RUNNING, expected]


async def test_restart_failing_after_a_good_restore_says_the_rollback_is_complete(
    fly_engine: Engine, fakefly: FakeFly
) -> None:
    db = fly_engine.db_path
    made = await run_backup(fly_engine, label="good")
    backed_up = dump(made.path)
    change_data(db)
    fakefly.add_fault("restart", "exit1", message="failed to restart machine 148e21ea3e0d89: context deadline")
    result = await run_rollback(fly_engine, confirmed=True)
    assert not result.ok and result.outcome == "changed"  # restored, then a later step failed
    assert f"restored from {Path(made.path).name} and verified, but restarting the app failed" in result.error
    assert "context deadline" in result.error
    assert "do not run it again" in result.hint and "fly status" in result.hint
    assert dump(db) == backed_up
    [run] = await fly_engine.journal.runs(1, phase="rollback")
    assert run.state == "failed" and run.outcome == "changed"
    await assert_released(fly_engine, phase="rollback")


# --- 1. flyctl hangs, drops or exits 1: the preflight's download --------------------------------


@pytest.mark.parametrize("mode", ["hang", "partial", "exit1"])
async def test_flyctl_fault_during_the_preflight_download(fly_engine: Engine, fakefly: FakeFly, mode: str) -> None:
    db = fly_engine.db_path
    before = dump(db)
    fakefly.add_fault("sftp", mode, message="ssh: handshake failed: EOF" if mode == "exit1" else None)
    with pytest.raises(OpsError) as info:
        await run_preflight(fly_engine, MIGRATION)
    message, hint = info.value.message, info.value.hint
    assert message.startswith("the snapshot could not be downloaded")
    expected = {"hang": f"did not finish within {TIMEOUT_S:g}s", "partial": "connection lost",
                "exit1": "handshake failed"}[mode]
    assert expected in message
    assert "live database: it is unchanged" in hint and "run preflight again" in hint
    assert dump(db) == before
    assert leftovers(db, "opsbot-snapshot") == [], "the snapshot on the host must be removed"
    assert not [p for p in fly_engine.work_dir.rglob("*") if p.is_file()], "no partial download kept"
    run = (await fly_engine.journal.runs(1, phase="preflight"))[0]
    assert run.state == "failed"


# --- 3. a damaged backup, over flyctl ---------------------------------------------------------


async def test_truncated_and_corrupt_backups_are_refused_and_the_good_one_named(
    fly_engine: Engine, fakefly: FakeFly
) -> None:
    db = fly_engine.db_path
    good = await run_backup(fly_engine, label="a-good")
    good_content = dump(good.path)
    truncated = await run_backup(fly_engine, label="b-truncated")
    corrupt = await run_backup(fly_engine, label="c-corrupt")
    with open(truncated.path, "r+b") as fh:
        fh.truncate(truncated.bytes // 3)
    with open(corrupt.path, "r+b") as fh:  # same size, garbage in the middle pages
        fh.seek(corrupt.bytes // 2)
        fh.write(b"\xde\xad\xbe\xef" * 2048)
    change_data(db)
    changed = dump(db)
    for bad in (truncated, corrupt):
        with pytest.raises(OpsError) as info:
            await run_rollback(fly_engine, confirmed=True, backup=Path(bad.path).name)
        assert "the backup cannot be used" in info.value.message and Path(bad.path).name in info.value.message
        assert f"The newest backup that passes its checks now is {good.path}" in info.value.hint
        assert "Nothing was changed" in info.value.hint and dump(db) == changed
    # Without naming one: the damaged newer ones are skipped, and the report names them.
    result = await run_rollback(fly_engine, confirmed=True)
    assert result.ok and result.backup == good.path and dump(db) == good_content
    assert len(result.skipped_backups) == 2
    assert {s.split(":")[0] for s in result.skipped_backups} == {Path(truncated.path).name, Path(corrupt.path).name}


# --- 6. two migrations at once, on the engine ------------------------------------------------


async def test_two_migrations_at_once_run_exactly_once(engine: Engine, app_db: Path) -> None:
    results = await asyncio.gather(*(run_migrate(engine, MIGRATION, confirmed=True, actor=who)
                                     for who in ("alice", "bob", "carol")), return_exceptions=True)
    done = [r for r in results if isinstance(r, MigrateResult)]
    refused = [r for r in results if isinstance(r, OpsError)]
    assert len(done) == 1 and done[0].ok and len(refused) == 2, results
    assert all("is already running migrate" in r.message and "one backup, migrate or rollback" in r.hint
               for r in refused)
    # No ghost: a refused run leaves no `running` row behind (it would be reported "interrupted"
    # with a Rollback button after the next restart).
    runs = await engine.journal.runs(10, phase="migrate")
    assert [r.state for r in runs] == ["succeeded"]
    assert assert_all_or_nothing(app_db) == 8 and len(backup_names(app_db)) == 1


# --- 5. the app holds the write lock, over flyctl ----------------------------------------------


@pytest.mark.parametrize("wal", [True, False])
async def test_app_holding_the_write_lock_over_flyctl(fly_engine: Engine, fakefly: FakeFly, tmp_path: Path,
                                                      wal: bool) -> None:
    db = tmp_path / f"locked-{wal}" / "app.db"
    make_db(db, wal=wal, users=100, logs=1500)
    fly_engine.db_path = str(db)
    fly_engine.busy_timeout_ms = 300
    before = dump(db)
    app = sqlite3.connect(db, isolation_level=None)
    app.execute("BEGIN IMMEDIATE")
    app.execute("INSERT INTO guild_config VALUES (42, 42, 1)")  # uncommitted work of the app's own
    try:
        result = await run_migrate(fly_engine, MIGRATION, confirmed=True)
    finally:
        app.execute("ROLLBACK")
        app.close()
    assert not result.ok and not result.committed and result.database_unchanged is True
    assert result.failed_step == "begin" and result.lock_seconds >= 0.3, "it waits its busy timeout first"
    assert "could not get the write lock within the busy timeout" in result.error and "locked" in result.error
    assert "300 ms" in result.hint and "BUSY_TIMEOUT_MS" in result.hint and "quieter moment" in result.hint
    assert "Fix the migration" not in result.hint
    assert dump(db) == before and assert_all_or_nothing(db) == 7
    await assert_released(fly_engine, phase="migrate")
