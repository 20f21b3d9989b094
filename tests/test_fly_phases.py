"""The same phases through flyctl: the stand-in `fly` runs each `sh -c` script exactly as Fly's
ssh server would (no shell around it), so these prove the quoting and the procedure hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ops.backup import run_backup
from ops.context import Engine
from ops.errors import OpsError
from ops.migrate import run_migrate
from ops.preflight import run_preflight
from ops.rollback import run_rollback
from tests.conftest import dump, make_db
from tests.fakefly.plugin import FakeFly


@pytest.fixture
def fly_engine(engine: Engine, fakefly: FakeFly, tmp_path: Path) -> Engine:
    # A hostile volume path: quotes, spaces and $ must survive flyctl and sh -c.
    db = tmp_path / "vol 'data' $X" / "app.db"
    make_db(db)
    engine.db_path = str(db)
    engine.target = fakefly.target()
    return engine


async def test_full_cycle_over_flyctl(fly_engine: Engine, fakefly: FakeFly) -> None:
    db = Path(fly_engine.db_path)
    original = dump(db)
    pre = await run_preflight(fly_engine, "0001_remove_suspend.sql")
    assert pre.ok, pre.error
    mig = await run_migrate(fly_engine, "0001_remove_suspend.sql", confirmed=True,
                            expected_fingerprint=pre.fingerprint)
    assert mig.ok and mig.counts["activity_logs"] == pre.counts_after["activity_logs"]
    rb = await run_rollback(fly_engine, confirmed=True)
    assert rb.ok and dump(db) == original
    argvs = fakefly.argvs()
    ssh = [a for a in argvs if a[:2] == ["ssh", "console"]]
    assert ssh and all(a[a.index("-C") + 1] == "sh -s" for a in ssh)  # scripts go on stdin
    assert all("--machine" in a for a in ssh)
    assert any(a[:3] == ["ssh", "sftp", "get"] for a in argvs)
    assert ["apps", "restart", fakefly.app] in argvs
    assert not any("scale" in a for a in argvs)
    assert all(fakefly.token not in " ".join(a) for a in argvs)
    assert all(c["env"]["FLY_API_TOKEN"] for c in fakefly.calls())


async def test_dropped_connection_during_migrate_is_verified_not_trusted(fly_engine: Engine, fakefly: FakeFly) -> None:
    """flyctl dies mid-migration but the remote sqlite3 finishes: the result must say so."""
    fakefly.add_fault("ssh", "drop", match="BEGIN IMMEDIATE", times=1, after_s=0)
    result = await run_migrate(fly_engine, "0001_remove_suspend.sql", confirmed=True)
    assert not result.ok
    con = sqlite3.connect(fly_engine.db_path)
    applied = con.execute("PRAGMA user_version").fetchone()[0] == 8
    con.close()
    # The remote sqlite3 went on and committed: the report waits for it and says so, rather
    # than reading the old schema too early and calling the database "unchanged".
    assert applied
    assert result.database_unchanged is False and result.committed
    assert "did not confirm COMMIT" in result.hint and "verify" in result.hint


async def test_no_started_machine(fly_engine: Engine, fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "abc123", "state": "stopped"}])
    with pytest.raises(OpsError) as info:
        await run_backup(fly_engine, label="x")
    assert "fly machine start" in info.value.hint


async def test_hang_during_backup_times_out_and_leaves_no_backup(fly_engine: Engine, fakefly: FakeFly) -> None:
    fly_engine.phase_timeout_s = 2
    fakefly.add_fault("ssh", "hang", match=".backup")
    with pytest.raises(OpsError, match="did not finish"):
        await run_backup(fly_engine, label="hang")
    fakefly.clear_faults()
    assert not list(Path(fly_engine.db_path).parent.glob("*.pre-hang-*"))
    assert await fly_engine.journal.lock_for(fly_engine.key) is None
