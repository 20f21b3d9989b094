"""The preflight's snapshot travels compressed when the host and this machine both have zstd
(issue 15): fewer bytes over the network, the same sha256 check on the unpacked file."""

from __future__ import annotations

from pathlib import Path

from ops.context import Engine
from ops.preflight import run_preflight
from ops.reporter import ListReporter, Status
from tests.conftest import make_db
from tests.fakefly.plugin import FakeFly


async def test_over_flyctl_the_snapshot_is_sent_compressed_and_checked_unpacked(
    engine: Engine, fakefly: FakeFly, tmp_path: Path
) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=300, logs=5000)
    engine.db_path, engine.target = str(db), fakefly.target()
    rep = ListReporter()
    result = await run_preflight(engine, "0001_remove_suspend.sql", reporter=rep)
    assert result.ok, result.error
    done = {e.name: e for e in rep.events if e.status is Status.DONE}
    assert done["compress"].detail.startswith("zstd -1 on the host")
    assert "sha256 matches (sent zstd-compressed:" in done["download"].detail
    fetched = [a for a in fakefly.argvs() if a[:3] == ["ssh", "sftp", "get"]]
    assert len(fetched) == 1 and fetched[0][3].endswith(".zst"), "only the compressed file travels"
    assert not list(db.parent.glob("*.opsbot-snapshot-*")), "the host's snapshot and its .zst are removed"
    assert not list((tmp_path / "state" / "work").rglob("*.zst"))
