"""Backups: consistent under WAL, verified, never partial, refused without space, quoted."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from ops.backup import PARTIAL_SUFFIX, run_backup
from ops.backups import list_backups
from ops.context import Engine
from ops.errors import OpsError, UsageError
from ops.targets.base import ShResult
from tests.conftest import dump, make_db
from tests.faults.target import FaultyTarget, damage


def hold_wal_commits(db: Path, rows: int) -> sqlite3.Connection:
    """Like the app: commits that live only in -wal because nothing checkpointed yet."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_autocheckpoint=0")
    for i in range(rows):
        con.execute("INSERT INTO activity_logs (user_id, activity, started_at) VALUES (1, 'wal-only', ?)", (str(i),))
        con.commit()
    return con


async def test_backup_includes_commits_that_live_only_in_wal(engine: Engine, app_db: Path, tmp_path: Path) -> None:
    before = sqlite3.connect(app_db).execute("SELECT count(*) FROM activity_logs").fetchone()[0]
    app = hold_wal_commits(app_db, 40)
    try:
        assert Path(str(app_db) + "-wal").stat().st_size > 0
        # What the runbook's `cp` would have produced: the main file alone misses the commits.
        naive = tmp_path / "naive.db"
        shutil.copyfile(app_db, naive)
        assert sqlite3.connect(naive).execute("SELECT count(*) FROM activity_logs").fetchone()[0] == before
        result = await run_backup(engine, label="wal")
    finally:
        app.close()
    assert result.ok and result.integrity == "ok"
    assert result.counts["activity_logs"] == before + 40
    con = sqlite3.connect(result.path)
    assert con.execute("SELECT count(*) FROM activity_logs WHERE activity='wal-only'").fetchone()[0] == 40
    assert Path(result.path).name.startswith("app.db.pre-wal-")
    assert os.path.getsize(result.path) == result.bytes


async def test_backup_is_recorded_and_listed_newest_first(engine: Engine, app_db: Path) -> None:
    # A backup made by hand from the runbook is recognised too.
    manual = Path(f"{app_db}.pre-suspend-removal-20250101_000000")
    sqlite3.connect(app_db).execute(f"VACUUM INTO '{manual}'")
    made = await run_backup(engine, label="nightly")
    listing = await list_backups(engine)
    assert [b.path for b in listing.backups] == [made.path, str(manual)]
    assert listing.backups[0].verified == "ok" and listing.backups[0].sha256 == made.sha256
    assert listing.backups[1].verified == "" and listing.backups[1].label == "suspend-removal"
    runs = await engine.journal.runs()
    assert runs[0].phase == "backup" and runs[0].state == "succeeded"


@pytest.mark.parametrize("label", ["x'; rm -rf / #", "a b", "$(touch pwned)", "../up", "", "a" * 65])
async def test_hostile_labels_refused(engine: Engine, app_db: Path, label: str) -> None:
    with pytest.raises(UsageError):
        await run_backup(engine, label=label)
    assert not list(app_db.parent.glob("*.pre-*"))


async def test_refused_before_writing_when_the_volume_is_too_small(engine: Engine, app_db: Path) -> None:
    engine.free_space_margin = 1e9  # the volume can never hold the copy
    with pytest.raises(OpsError, match="not enough free space") as info:
        await run_backup(engine, label="big")
    assert "Nothing was written" in info.value.hint
    assert not list(app_db.parent.glob("*.pre-*"))
    assert (await engine.journal.runs())[0].state == "failed"
    assert await engine.journal.lock_for("local") is None


async def test_failed_backup_leaves_no_partial_file(engine: Engine, app_db: Path, tmp_path: Path) -> None:
    def corrupt_the_copy(script: str, result: ShResult) -> None:  # the host's copy comes out damaged
        if ".backup" in script:
            for partial in app_db.parent.glob(f"*{PARTIAL_SUFFIX}"):
                damage(partial)

    engine.target = FaultyTarget(engine.target, on_script=corrupt_the_copy)
    with pytest.raises(OpsError, match="failed (verification|integrity_check)"):
        await run_backup(engine, label="torn")
    assert not list(app_db.parent.glob("*.pre-*")), "a damaged backup must not be kept under a backup name"


async def test_paths_with_quotes_spaces_and_dollars(engine: Engine, tmp_path: Path) -> None:
    db = tmp_path / "it's a \"volume\" $HOME `x`" / "app db's.db"
    make_db(db, users=20, logs=50)
    engine.db_path = str(db)
    result = await run_backup(engine, label="q")
    assert result.ok and Path(result.path).exists()
    assert dump(Path(result.path)) == dump(db)


async def test_local_fetch_refuses_a_live_wal_database(app_db: Path, tmp_path: Path) -> None:
    """The copy step is only for finished `.backup` snapshots; a live WAL file is refused."""
    from ops.targets.local import LocalTarget

    app = hold_wal_commits(app_db, 3)
    try:
        with pytest.raises(OpsError, match="live WAL database"):
            await LocalTarget().fetch(str(app_db), tmp_path / "copy.db")
    finally:
        app.close()
    assert not (tmp_path / "copy.db").exists()


async def test_a_second_backup_within_the_same_second_takes_the_next_seconds_name(engine: Engine) -> None:
    """Names are label and second: a migrate right after a rollback backs up again at once. It waits
    for the next second's name instead of failing (this failed once in CI as 'already exists')."""
    first = await run_backup(engine, label="twice")
    second = await run_backup(engine, label="twice")
    assert first.ok and second.ok and first.path != second.path
    assert Path(first.path).exists() and Path(second.path).exists()
