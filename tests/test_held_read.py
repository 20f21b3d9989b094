"""The preflight's check of its copy runs beside the rehearsal (ops.held_read): it must read the copy
as it was, whatever the rehearsal writes meanwhile, and say when the copy itself is damaged."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from ops.context import Engine
from ops.errors import OpsError
from ops.held_read import held_read
from ops.preflight import run_preflight
from ops.reporter import ListReporter, Status
from ops.schema import read_state
from ops.targets.base import ShResult
from ops.targets.local import LocalTarget
from tests.conftest import make_db
from tests.faults.target import FaultyTarget


def _write(db: Path, sql: str) -> None:
    subprocess.run(["sqlite3", str(db)], input=sql, text=True, check=True, capture_output=True)


# About a second of work inside the held transaction before the state is read: a writer started at
# the same moment commits long before the read begins.
SLOW = "SELECT count(*) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000) " \
       "SELECT i FROM n);\n"


async def test_the_held_read_sees_the_database_as_it_was_on_entry(tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    make_db(db, users=40, logs=400)
    as_it_was = await read_state(LocalTarget(), str(db))
    async with held_read(db, integrity="full", mmap_bytes=0, busy_timeout_ms=5000, timeout=60, then=SLOW) as state:
        # another connection changes the schema and the rows, and commits, while the read is busy
        _write(db, "DELETE FROM activity_logs WHERE id % 2 = 0; DROP TABLE suspend_history;")
        read = await state()
    now = await read_state(LocalTarget(), str(db))
    assert read.counts == as_it_was.counts and read.fingerprint == as_it_was.fingerprint
    assert read.integrity == "ok"
    # control: a read started after the commit sees it
    assert now.counts != as_it_was.counts and "suspend_history" not in now.tables


async def test_a_copy_that_cannot_be_read_is_refused_before_anything_writes(tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OpsError, match="could not read"):
        async with held_read(db, integrity="full", mmap_bytes=0, busy_timeout_ms=1000, timeout=60):
            raise AssertionError("the block runs only once the read transaction is open")


async def test_preflight_checks_the_copy_beside_the_rehearsal(engine: Engine, app_db: Path) -> None:
    rep = ListReporter()
    before = sqlite3.connect(app_db)
    counts = {t: before.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("suspend_history", "user_settings")}
    before.close()
    result = await run_preflight(engine, "0001_remove_suspend.sql", reporter=rep)
    assert result.ok and result.integrity_before == "ok"
    # what the check read is the copy before the rehearsal dropped suspend_history
    assert {t: result.counts_before[t] for t in counts} == counts
    assert "suspend_history" not in result.counts_after
    order = [(e.name, e.status) for e in rep.events if e.name in ("inspect copy", "rehearse", "inspect result")]
    assert order.index(("inspect copy", Status.RUNNING)) < order.index(("rehearse", Status.RUNNING))
    assert order.index(("rehearse", Status.DONE)) < order.index(("inspect copy", Status.DONE)), order


async def test_a_damaged_copy_fails_the_preflight(engine: Engine, app_db: Path) -> None:
    """The check beside the rehearsal still decides: a copy whose integrity_check fails is a failed
    preflight (the live database may be damaged), not a rehearsal that happened to pass."""
    def damage_the_snapshot(script: str, result: ShResult) -> None:
        if ".backup" not in script:
            return
        for snap in engine.work_dir.rglob("snapshot.db"):
            # An index that lost its entries: every read still works, integrity_check does not pass.
            con = sqlite3.connect(snap)
            root, = con.execute("SELECT rootpage FROM sqlite_master WHERE name='idx_user_settings_guild'").fetchone()
            page_size, = con.execute("PRAGMA page_size").fetchone()
            con.close()
            data = bytearray(snap.read_bytes())
            at = (root - 1) * page_size
            data[at + 3:at + 5] = b"\x00\x00"  # the leaf's cell count
            snap.write_bytes(bytes(data))

    engine.target = FaultyTarget(engine.target, on_script=damage_the_snapshot)
    rep = ListReporter()
    result = await run_preflight(engine, "0001_remove_suspend.sql", reporter=rep)
    assert not result.ok and result.error.startswith("integrity_check of the copy failed"), result.error
    assert any(e.name == "inspect copy" and e.status is Status.FAILED for e in rep.events)


async def test_a_preflight_stopped_inside_the_rehearsal_leaves_no_step_running(
    engine: Engine, app_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy's check is reported by hand beside the rehearsal: when the rehearsal stops with an
    error (here: its sqlite3 killed), the check's step still ends, failed."""
    from ops import preflight

    async def killed(*args: object, **kwargs: object) -> None:
        raise OpsError("the rehearsal's sqlite3 was killed")

    monkeypatch.setattr(preflight, "apply_migration", killed)
    rep = ListReporter()
    with pytest.raises(OpsError, match="was killed"):
        await run_preflight(engine, "0001_remove_suspend.sql", reporter=rep)
    copy_steps = [e.status for e in rep.events if e.name == "inspect copy"]
    assert copy_steps[0] is Status.RUNNING and copy_steps[-1] is Status.FAILED, copy_steps
