"""The journal: one mutating run per target, and runs of dead processes marked interrupted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ops.journal import Journal, LockHeld


async def test_lock_is_per_target_and_released(journal: Journal) -> None:
    first = await journal.start_run("migrate", "fly:a", "alice")
    with pytest.raises(LockHeld) as info:
        await journal.start_run("backup", "fly:a", "bob")
    assert "alice is already running migrate" in info.value.message and "since" in info.value.message
    await journal.start_run("backup", "fly:b", "bob")  # another target is free
    await journal.start_run("verify", "fly:a", "bob")  # read-only phases take no lock
    await journal.finish_run(first, "succeeded", {})
    await journal.start_run("backup", "fly:a", "bob")


async def test_run_of_a_killed_process_is_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    code = (
        "import asyncio, os\n"
        "from ops.journal import Journal\n"
        "async def main():\n"
        f"    j = await Journal.open({str(path)!r})\n"
        "    rid = await j.start_run('migrate', 'local', 'alice', migration='m.sql')\n"
        "    await j.add_step(rid, 'backup', 'done', '')\n"
        "    os._exit(9)  # dies without finishing, like SIGKILL\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent, timeout=60)
    journal = await Journal.open(path)
    try:
        gone = await journal.mark_interrupted()
        assert [r.phase for r in gone] == ["migrate"] and gone[0].last_step == "backup"
        assert (await journal.runs())[0].state == "interrupted"
        assert await journal.lock_for("local") is None
        assert await journal.mark_interrupted() == []
    finally:
        await journal.close()


async def test_a_live_run_of_this_process_is_not_interrupted(journal: Journal) -> None:
    await journal.start_run("migrate", "local", "alice")
    assert await journal.mark_interrupted() == []
