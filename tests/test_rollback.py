"""rollback: `.restore` of a verified backup, checked against it; bad backups refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ops.backup import run_backup
from ops.context import Engine
from ops.errors import OpsError, UsageError
from ops.migrate import run_migrate
from ops.rollback import run_rollback
from tests.conftest import dump


async def test_rollback_restores_exactly_the_backed_up_content(engine: Engine, app_db: Path) -> None:
    migrated = await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True)
    backed_up = dump(Path(migrated.backup))
    # The app keeps writing after the migration; the rollback loses those writes, and says so.
    con = sqlite3.connect(app_db)
    con.execute("INSERT INTO activity_logs (user_id, activity, started_at) VALUES (1, 'after', 'now')")
    con.commit()
    con.close()
    result = await run_rollback(engine, confirmed=True)
    assert result.ok and result.backup == migrated.backup
    assert dump(app_db) == backed_up
    assert result.counts == migrated.counts_before
    assert "are lost" in result.warning


async def test_rollback_with_the_app_connected_in_wal_mode(engine: Engine, app_db: Path) -> None:
    made = await run_backup(engine, label="b")
    app = sqlite3.connect(app_db)  # the app keeps its connection open across the restore
    app.execute("DELETE FROM activity_logs WHERE id < 100")
    app.commit()
    result = await run_rollback(engine, confirmed=True, backup=made.path)
    assert result.ok
    assert app.execute("SELECT count(*) FROM activity_logs").fetchone()[0] == made.counts["activity_logs"]
    assert app.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    app.close()


async def test_corrupt_backup_is_refused_and_the_next_good_one_named(engine: Engine, app_db: Path) -> None:
    good = await run_backup(engine, label="good")
    con = sqlite3.connect(app_db)
    con.execute("DELETE FROM activity_logs WHERE id < 50")
    con.commit()
    con.close()
    newer = Path(good.path.replace("-good-", "-newer-")[:-6] + "999999")
    sqlite3.connect(app_db).execute(f"VACUUM INTO '{newer}'")
    with open(newer, "r+b") as fh:  # damage it after the fact
        fh.truncate(fh.seek(0, 2) // 2)
    before = dump(app_db)
    with pytest.raises(OpsError) as info:
        await run_rollback(engine, confirmed=True, backup=newer.name)
    assert good.path in info.value.hint
    assert dump(app_db) == before
    # Without --backup, backups opsbot verified come first: the newer, unverified file is not used.
    result = await run_rollback(engine, confirmed=True)
    assert result.ok and result.backup == good.path


async def test_unusable_newest_backups_are_skipped(engine: Engine, app_db: Path) -> None:
    good = await run_backup(engine, label="good")
    bad = await run_backup(engine, label="zbad")  # same second or later: the newest
    with open(bad.path, "r+b") as fh:
        fh.truncate(4096)
    result = await run_rollback(engine, confirmed=True)
    assert result.backup == good.path
    assert len(result.skipped_backups) == 1 and Path(bad.path).name in result.skipped_backups[0]


async def test_tampered_backup_is_refused(engine: Engine, app_db: Path) -> None:
    made = await run_backup(engine, label="t")
    con = sqlite3.connect(made.path)  # still a valid database, but not the one we verified
    con.execute("DELETE FROM user_settings WHERE user_id = 1")
    con.commit()
    con.close()
    before = dump(app_db)
    with pytest.raises(OpsError, match="sha256 changed"):
        await run_rollback(engine, confirmed=True, backup=made.path)
    assert dump(app_db) == before


async def test_needs_confirmation_and_a_real_backup(engine: Engine, app_db: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        await run_rollback(engine, confirmed=False)
    await run_backup(engine, label="x")
    with pytest.raises(UsageError, match="not a backup"):
        await run_rollback(engine, confirmed=True, backup="/etc/passwd")


async def test_no_backups(engine: Engine) -> None:
    with pytest.raises(OpsError, match="no backup"):
        await run_rollback(engine, confirmed=True)


async def test_a_checkpoint_that_cannot_finish_after_a_confirmed_restore_is_only_said(
    engine: Engine, app_db: Path
) -> None:
    """The restore is confirmed first; folding the -wal back is a session of its own (control: in the
    restore's session, a full volume at the checkpoint made a restored database look failed)."""
    from ops.migrate import run_migrate
    from ops.reporter import ListReporter, Status
    from ops.rollback import run_rollback
    from ops.targets.base import ShResult
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    before = dump(app_db)
    assert (await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True)).ok

    def full_at_checkpoint(script: str, result: ShResult) -> ShResult | None:
        if "wal_checkpoint(TRUNCATE)" in script:
            return ShResult("", "Error: database or disk is full", 1, 0.0)
        return None

    engine.target = FaultyTarget(LocalTarget(), on_script=full_at_checkpoint)
    rep = ListReporter()
    result = await run_rollback(engine, confirmed=True, reporter=rep)
    assert result.ok and result.outcome == "done" and dump(app_db) == before
    [said] = [e for e in rep.events if e.name == "checkpoint"]
    assert said.status is Status.WARNING and "database or disk is full" in said.detail


@pytest.mark.parametrize("reads_from", ["before the restore", "after the restore"])
async def test_a_checkpoint_a_reader_keeps_from_finishing_is_not_called_done(
    engine: Engine, app_db: Path, reads_from: str
) -> None:
    """wal_checkpoint answers busy (no error) when a reader keeps it from finishing. A reader of the
    restored database lets every page be copied back: done. A reader still
    on the database before the restore keeps the pages in the -wal: the step says it folded back
    only in part (control: it used to say "folded back" whatever the checkpoint answered)."""
    from ops.migrate import run_migrate
    from ops.reporter import ListReporter, Status
    from ops.targets.base import ShResult
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    assert (await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True)).ok
    # The app has the database open throughout (so the restore's session is not the last connection
    # and cannot fold the -wal back as it closes), and reads in a transaction of its own.
    app = sqlite3.connect(app_db, isolation_level=None)
    app.execute("SELECT 1 FROM user_settings LIMIT 1").fetchall()
    reading: list[str] = []

    def read() -> None:
        app.execute("BEGIN")
        app.execute("SELECT count(*) FROM user_settings").fetchone()
        reading.append(reads_from)

    if reads_from == "before the restore":
        read()

    def reader_after_restore(script: str, result: ShResult) -> None:
        if ".restore" in script and not reading:
            read()

    engine.target = FaultyTarget(LocalTarget(), on_script=reader_after_restore)
    rep = ListReporter()
    try:
        result = await run_rollback(engine, confirmed=True, reporter=rep)
        wal = Path(f"{app_db}-wal").stat().st_size
    finally:
        app.close()
    assert reading and result.ok and result.outcome == "done"
    [said] = [e for e in rep.events if e.name == "checkpoint"]
    if reads_from == "after the restore":
        # The restoring session copied every page back the moment the restore committed, so a
        # reader that begins afterwards reads the database file itself and holds nothing back:
        # the -wal is emptied too.
        assert said.status is Status.DONE and "folded back" in said.detail
        assert wal == 0, "the -wal was emptied"
    else:
        assert wal > 0, "the -wal file really was not emptied"
        assert said.status is Status.WARNING and "only in part" in said.detail, said


@pytest.mark.parametrize("fails", ["after the restore committed", "after the checkpoint", "in the restore"])
async def test_a_failure_in_the_restoring_session_names_the_step_that_failed(
    engine: Engine, app_db: Path, fails: str
) -> None:
    """The restoring session checkpoints right after `.restore`: a volume that fills there fails
    the session after the restore committed. The run says it was the checkpoint, and the database
    decides the outcome (the backup is restored). Control: a failure before the mark is the
    restore's own."""
    from ops.reporter import ListReporter
    from ops.targets.base import ShResult
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    before = dump(app_db)
    assert (await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True)).ok

    def full(script: str, result: ShResult) -> ShResult | None:
        if ".restore " not in script:
            return None
        lines = result.stdout.splitlines(keepends=True)
        mark = next(i for i, line in enumerate(lines) if '"restored"' in line)
        checkpointed = next(i for i, line in enumerate(lines) if '"checkpointed"' in line)
        kept = {"after the restore committed": lines[: mark + 1], "after the checkpoint": lines[: checkpointed + 1],
                "in the restore": lines[:mark]}[fails]
        return ShResult("".join(kept), "Error: near line 4: database or disk is full (13)", 1, result.seconds)

    engine.target = FaultyTarget(LocalTarget(), on_script=full)
    rep = ListReporter()
    result = await run_rollback(engine, confirmed=True, reporter=rep)
    assert result.ok and dump(app_db) == before
    said = " ".join(e.detail for e in rep.events if e.name == "restore")
    if fails == "after the restore committed":
        assert "the checkpoint after .restore failed" in said, said
    elif fails == "after the checkpoint":
        assert "reading the database after .restore failed" in said, said
    else:
        assert ".restore failed" in said and "checkpoint" not in said, said


async def test_a_restore_the_session_saw_commit_is_restored_though_the_app_wrote_since(
    engine: Engine, app_db: Path
) -> None:
    """The session fails after its `restored` mark and the app writes before the database is read
    again: the schema is the same in the backup and before the rollback, and the rows match neither.
    The mark decides: restored, with the app's row. Control: without the mark it is not called restored."""
    from ops.reporter import ListReporter
    from ops.targets.base import ShResult
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    backup = await run_backup(engine, label="same-schema")
    app = sqlite3.connect(app_db)
    app.executemany("INSERT INTO guild_config(guild_id) VALUES(?)", [(900001,), (900002,)])  # after the backup
    app.commit()

    def fails_then_the_app_writes(keep_mark: bool):  # type: ignore[no-untyped-def]
        def hook(script: str, result: ShResult) -> ShResult | None:
            if ".restore " not in script:
                return None
            app.execute("INSERT INTO guild_config(guild_id) VALUES(900003)")  # the app, just after
            app.commit()
            lines = result.stdout.splitlines(keepends=True)
            mark = next(i for i, line in enumerate(lines) if '"restored"' in line)
            kept = lines[: mark + 1] if keep_mark else lines[:mark]
            return ShResult("".join(kept), "Error: near line 5: disk I/O error (10)", 1, result.seconds)
        return hook

    try:
        engine.target = FaultyTarget(LocalTarget(), on_script=fails_then_the_app_writes(True))
        rep = ListReporter()
        result = await run_rollback(engine, confirmed=True, backup=backup.path, reporter=rep)
        assert result.ok, result
        assert any(e.name == "restore" and "the restore had committed" in e.detail for e in rep.events)
        # Control: the same restore without the mark is not taken as restored (the database alone
        # cannot show it: the app's rows make it look like neither the backup nor a sure failure).
        engine.target = FaultyTarget(LocalTarget(), on_script=fails_then_the_app_writes(False))
        with pytest.raises(OpsError):
            await run_rollback(engine, confirmed=True, backup=backup.path)
    finally:
        app.close()
