"""Small observers for the fault suite: what is on the volume, what is left running, what the
journal holds. They only look; nothing here changes what the product does."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ops.backups import STAMP_RE
from ops.context import Engine
from ops.journal import RunRecord
from tests.waiting import eventually

SUSPEND_OBJECTS = ("suspend_history", "idx_user_settings_suspended")


def backup_names(db: str | Path) -> list[str]:
    """Files beside the database that carry a backup's name (partial copies never do)."""
    db = Path(db)
    return sorted(p.name for p in db.parent.iterdir()
                  if p.name.startswith(db.name + ".pre-") and STAMP_RE.search(p.name))


def leftovers(db: str | Path, marker: str) -> list[str]:
    db = Path(db)
    return sorted(p.name for p in db.parent.iterdir() if marker in p.name)


def schema_state(db: str | Path) -> tuple[int, set[str]]:
    """(user_version, the suspend feature's objects still present)."""
    con = sqlite3.connect(db)
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        cols = {r[1] for r in con.execute("PRAGMA table_info(user_settings)")}
    finally:
        con.close()
    present = {n for n in SUSPEND_OBJECTS if n in names} | ({"is_suspended"} & cols)
    return version, present


def assert_all_or_nothing(db: str | Path) -> int:
    """The migration is one transaction: user_version 7 with every suspend object, or 8 with none."""
    version, present = schema_state(db)
    if version == 7:
        assert present == {*SUSPEND_OBJECTS, "is_suspended"}, f"half-migrated: v7 but only {present}"
    else:
        assert version == 8 and not present, f"half-migrated: v{version} with {present}"
    return version


def processes_in(directory: Path) -> list[int]:
    """Pids whose working directory is ``directory`` (the stand-in fly runs remote commands there)."""
    found = []
    target = str(directory.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") == target:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


async def wait_until_idle(directory: Path, timeout: float = 15.0) -> None:
    """A dropped or stalled flyctl leaves its remote command running: wait for it to end."""
    await eventually(lambda: not processes_in(directory), timeout=timeout, every=0.05,
                     what=f"the remote commands running in {directory} to end")


def journal_text(state_db: str | Path) -> str:
    """Every text value of every table of the journal, for "no secret stored" checks."""
    con = sqlite3.connect(state_db)
    try:
        parts = []
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                parts += [v if isinstance(v, str) else v.decode("utf-8", "replace")
                          for v in row if isinstance(v, str | bytes)]
        return "\n".join(parts)
    finally:
        con.close()


async def assert_released(engine: Engine, *, phase: str) -> RunRecord:
    """The run is recorded failed, with its error, and holds no lock."""
    assert await engine.journal.lock_for(engine.key) is None
    run = (await engine.journal.runs(1, phase=phase))[0]
    assert run.state == "failed" and run.error
    return run
