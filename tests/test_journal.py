"""The journal: one mutating run per target, and runs of dead processes marked interrupted."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ops.backup import BACKUP
from ops.coderevert import CODE_REVERT
from ops.context import Phase
from ops.emergency import EMERGENCY_STOP, START
from ops.journal import Journal, LockHeld, LockInfo
from ops.migrate import MIGRATE
from ops.preflight import PREFLIGHT
from ops.rollback import ROLLBACK
from ops.verify import VERIFY
from tests.conftest import REPO


async def start(journal: Journal, phase: Phase, target: str, actor: str) -> int:
    return await journal.start_run(phase.name, target, actor, lock=phase.takes_lock)


async def test_lock_is_per_target_and_released(journal: Journal) -> None:
    first = await start(journal, MIGRATE, "fly:a", "alice")
    with pytest.raises(LockHeld) as info:
        await start(journal, BACKUP, "fly:a", "bob")
    assert "alice is already running migrate" in info.value.message and "since" in info.value.message
    await start(journal, BACKUP, "fly:b", "bob")  # another target is free
    await start(journal, VERIFY, "fly:a", "bob")  # read-only phases take no lock
    await journal.finish_run(first, "succeeded", {})
    await start(journal, BACKUP, "fly:a", "bob")


async def test_a_lock_released_while_starting_is_taken_again(tmp_path: Path) -> None:
    """The holder finishes between our failed lock insert and our look at the lock: the retry must
    take the lock itself (control: a retry without it would leave a migrate running unlocked, and
    the backup below would start beside it)."""
    holder = await Journal.open(tmp_path / "j.db")

    class Racing(Journal):
        async def lock_for(self, target: str) -> LockInfo | None:
            await holder.finish_run(first, "succeeded", {})  # the release races in here
            return await super().lock_for(target)

    first = await start(holder, MIGRATE, "fly:a", "alice")
    racing = Racing((await Journal.open(tmp_path / "j.db")).db)
    try:
        second = await start(racing, MIGRATE, "fly:a", "bob")
        held = await Journal.lock_for(racing, "fly:a")
        assert held is not None and held.run_id == second
        with pytest.raises(LockHeld):
            await start(holder, BACKUP, "fly:a", "carol")
    finally:
        await racing.close()
        await holder.close()


def test_each_phase_declares_whether_it_takes_the_lock() -> None:
    """What changes or copies the database runs one at a time; what reads, and the emergency
    actions (which must work while a stuck run holds the lock), take none."""
    assert {p.name for p in (BACKUP, MIGRATE, ROLLBACK, CODE_REVERT) if p.takes_lock} == {
        "backup", "migrate", "rollback", "code-revert"}
    assert not any(p.takes_lock for p in (PREFLIGHT, VERIFY, EMERGENCY_STOP, START))


async def test_run_of_a_killed_process_is_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    code = (
        "import asyncio, os\n"
        "from ops.journal import Journal\n"
        "async def main():\n"
        f"    j = await Journal.open({str(path)!r})\n"
        "    rid = await j.start_run('migrate', 'local', 'alice', migration='m.sql', lock=True)\n"
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
    await journal.start_run("migrate", "local", "alice", lock=True)
    assert await journal.mark_interrupted() == []


async def test_a_runs_result_is_read_through_its_record(journal: Journal) -> None:
    """The keys other modules need of a run's summary are the record's properties (one place decodes them)."""
    done = await start(journal, MIGRATE, "fly:a", "alice")
    await journal.finish_run(done, "succeeded", {"allow_row_loss": ["events"], "counts_before": {"events": 3},
                                                  "counts": {"events": 1}})
    running = await start(journal, PREFLIGHT, "fly:a", "alice")
    record, unfinished = await journal.run(done), await journal.run(running)
    assert record is not None and unfinished is not None
    assert (record.allow_row_loss, record.counts_before, record.counts) == (("events",), {"events": 3}, {"events": 1})
    assert (unfinished.allow_row_loss, unfinished.counts_before, unfinished.counts) == ((), {}, {})


def test_only_the_journal_runs_sql_on_its_connection() -> None:
    """Outside ops/journal.py no module calls the journal's private queries or its connection
    (read from the syntax tree). Three classes keep their own tables on the journal's connection
    (approvals, the emergency checklist, the health monitor's checks and pauses): named here."""
    found = []
    for path in sorted([*REPO.glob("ops/**/*.py"), *REPO.glob("bot/*.py"), *REPO.glob("cogs/*.py")]):
        if path.name in ("journal.py", "journal_schema.py", "journal_keys.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("_one", "_all", "_runs", "db") \
                    and "journal" in ast.unparse(node.value):
                found.append(f"{path.name}: {ast.unparse(node)}")
    assert found == ["approvals.py: journal.db", "checklist.py: journal.db", "monitor.py: journal.db"], found
