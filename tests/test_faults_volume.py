"""Fault injection: the volume is full, or too small for a backup. A real 4 MiB tmpfs where this
sandbox lets root mount one (skipped otherwise), and a simulated disk-full that always runs. The
backup is refused before it writes anything, or fails cleanly and leaves no partial copy; migrate
never proceeds without a verified backup."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.backup import PARTIAL_SUFFIX, run_backup
from ops.context import Engine
from ops.errors import OpsError
from ops.migrate import run_migrate
from ops.targets.base import ShResult
from ops.targets.local import LocalTarget
from tests.conftest import dump, make_db
from tests.faults.helpers import assert_all_or_nothing, assert_released, backup_names, leftovers
from tests.faults.target import FaultyTarget, truncate_half

MIGRATION = "0001_remove_suspend.sql"


# --- 2. the volume is full, or too small for a backup -------------------------------------------

DISK_FULL = "database or disk is full"


def free_bytes(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def fill(volume: Path, leave: int) -> None:
    """Like the app's own files growing: take all free space but ``leave`` bytes."""
    filler = volume / "app.log"
    size = filler.stat().st_size if filler.exists() else 0
    with open(filler, "ab") as fh:
        fh.truncate(size)  # keep what is there
        fh.write(b"\0" * max(0, free_bytes(volume) - leave))


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB filesystem (tmpfs): a full disk as SQLite meets it."""
    mnt = tmp_path / "small-volume"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; test_simulated_disk_full_* covers the same path")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True,
                          text=True, timeout=10, check=False)
    if done.returncode != 0:
        pytest.skip(f"mount is not permitted here ({done.stderr.strip()}); the simulated test covers this")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10, check=False)


def filling(volume: Path, leave: int) -> FaultyTarget:
    """This machine, where the volume fills up right after the free-space check (the app writes)."""

    def fill_after_df(script: str, result: ShResult) -> None:
        if script.startswith("df -P"):
            fill(volume, leave)

    return FaultyTarget(LocalTarget(), on_script=fill_after_df)


def volume_files(volume: Path) -> list[str]:
    return sorted(p.name for p in volume.iterdir())


async def test_backup_refused_before_it_starts_on_a_full_volume(engine: Engine, small_volume: Path) -> None:
    db = small_volume / "app.db"
    make_db(db)
    engine.db_path = str(db)
    fill(small_volume, leave=db.stat().st_size // 2)
    files, before = volume_files(small_volume), dump(db)
    with pytest.raises(OpsError) as info:
        await run_backup(engine, label="full")
    assert "not enough free space for a backup" in info.value.message
    assert "Nothing was written" in info.value.hint and "fly volumes extend" in info.value.hint
    assert volume_files(small_volume) == files and dump(db) == before
    await assert_released(engine, phase="backup")
    # migrate never proceeds without a verified backup
    with pytest.raises(OpsError) as info:
        await run_migrate(engine, MIGRATION, confirmed=True)
    assert info.value.message.startswith("the migration did not run, because the backup failed: not enough free")
    assert "The database was not changed" in info.value.hint
    assert volume_files(small_volume) == files and dump(db) == before and assert_all_or_nothing(db) == 7
    await assert_released(engine, phase="migrate")


async def test_backup_that_fills_the_volume_mid_write_leaves_nothing(engine: Engine, small_volume: Path) -> None:
    db = small_volume / "app.db"
    make_db(db)
    engine.db_path = str(db)
    engine.target = filling(small_volume, leave=db.stat().st_size // 3)
    files, before = volume_files(small_volume), dump(db)
    for phase, run in (("backup", run_backup(engine, label="midway")),
                       ("migrate", run_migrate(engine, MIGRATION, confirmed=True))):
        with pytest.raises(OpsError) as info:
            await run
        assert DISK_FULL in info.value.message, info.value.message
        assert "ran out of space" in info.value.hint and "nothing was kept" in info.value.hint
        assert "live database is unchanged" in info.value.hint
        assert [f for f in volume_files(small_volume) if f != "app.log"] == [f for f in files if f != "app.log"], \
            "no partial backup may stay behind"
        assert dump(db) == before and assert_all_or_nothing(db) == 7
        await assert_released(engine, phase=phase)
        (small_volume / "app.log").unlink()  # the operator frees space; the next phase fills it again


async def test_simulated_disk_full_mid_backup_leaves_nothing(engine: Engine, app_db: Path) -> None:
    """Where no filesystem can be mounted: the host's sqlite3 writes half a copy, then fails."""

    def half_a_copy(script: str, result: ShResult) -> ShResult | None:
        if ".backup" not in script:
            return None
        for partial in app_db.parent.glob(f"*{PARTIAL_SUFFIX}"):
            truncate_half(partial)
        return ShResult("", f"Error: {DISK_FULL}\n", 1, result.seconds)

    engine.target = FaultyTarget(LocalTarget(), on_script=half_a_copy)
    before = dump(app_db)
    with pytest.raises(OpsError) as info:
        await run_migrate(engine, MIGRATION, confirmed=True)
    assert info.value.message == f"the migration did not run, because the backup failed: sqlite3 .backup failed: " \
                                 f"Error: {DISK_FULL}"
    assert "ran out of space" in info.value.hint and "The database was not changed" in info.value.hint
    assert leftovers(app_db, PARTIAL_SUFFIX) == [] and backup_names(app_db) == []
    assert dump(app_db) == before and assert_all_or_nothing(app_db) == 7
    await assert_released(engine, phase="migrate")


def delete_some_logs(db: Path) -> None:
    """A change since the backup, for the rollback to undo."""
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("DELETE FROM activity_logs WHERE id % 3 = 0")
    con.commit()
    con.close()


async def test_rollback_refused_before_it_starts_when_the_restore_would_not_fit(
    engine: Engine, small_volume: Path
) -> None:
    from ops.rollback import run_rollback

    db = small_volume / "app.db"
    make_db(db)
    engine.db_path = str(db)
    made = await run_backup(engine, label="fit")
    delete_some_logs(db)
    fill(small_volume, leave=made.bytes // 2)  # less than the restore writes through its journal
    before = dump(db)
    with pytest.raises(OpsError) as info:
        await run_rollback(engine, confirmed=True)
    assert "not enough free space on the volume to restore" in info.value.message
    assert "Nothing was changed" in info.value.hint and "fly volumes extend" in info.value.hint
    assert info.value.outcome == "unchanged" and dump(db) == before
    run = await assert_released(engine, phase="rollback")
    assert run.outcome == "unchanged"


async def test_a_volume_that_fills_during_the_restore_says_so(engine: Engine, small_volume: Path) -> None:
    """The app's log takes the last bytes right after the space check. On a full volume SQLite
    reports the failed `.restore` as a disk I/O error and cannot even read the database back (the
    `-shm` cannot grow), so whether it was restored is honestly unknown; the message says the volume
    is full and that space comes first, not the network, not the migration."""
    from ops.rollback import run_rollback

    db = small_volume / "app.db"
    make_db(db)
    engine.db_path = str(db)
    await run_backup(engine, label="fill")
    delete_some_logs(db)
    before = dump(db)
    engine.target = filling(small_volume, leave=8192)
    with pytest.raises(OpsError) as info:
        await run_rollback(engine, confirmed=True)
    message, hint = info.value.message, info.value.hint
    assert ".restore failed: the volume is full" in message and "its volume is full" in message
    assert "Free space on the volume first" in hint and "run verify" in hint and "never half" in hint
    assert "network" not in hint and "migration" not in hint and "Check DB_PATH" not in hint
    assert info.value.outcome == "unknown"
    (small_volume / "app.log").unlink()  # the operator frees space
    assert dump(db) == before  # .restore is one transaction: it was not half applied
    await assert_released(engine, phase="rollback")


async def test_a_full_volume_when_reading_the_database_says_so(engine: Engine, small_volume: Path) -> None:
    from ops.verify import run_verify

    db = small_volume / "app.db"
    make_db(db)
    engine.db_path = str(db)
    fill(small_volume, leave=0)  # a WAL database cannot be opened without room for its -shm
    with pytest.raises(OpsError) as info:
        await run_verify(engine)
    assert "its volume is full" in info.value.message, info.value.message
    assert "Free space on the app's volume" in info.value.hint and "Check DB_PATH" not in info.value.hint

