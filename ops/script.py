"""`preflight NAME --print-script`: the exact sqlite3 session migrate would run, run nothing.

It reads the live schema (a read transaction, nothing else) because the session's guards are
bound to it: the drift guard's schema text and the tables counted before and after.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ops.apply import build_session
from ops.context import Engine
from ops.migrations import load
from ops.schema import read_state
from ops.sqlite_cli import session_script


@dataclass(frozen=True)
class ScriptResult:
    ok: bool
    migration: str
    sha256: str
    tool: str
    notes: tuple[str, ...]
    lint: tuple[str, ...]
    script: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def print_script(engine: Engine, name: str, *, allow_row_loss: tuple[str, ...] = ()) -> ScriptResult:
    migration = load(engine.migrations_dir, name)
    lint = tuple(str(f) for f in migration.findings)
    if migration.errors:
        return ScriptResult(False, migration.name, migration.sha256, migration.tool, migration.notes, lint, "",
                            f"{migration.name} is refused by lint: nothing of it would run")
    before = await read_state(engine.target, engine.db_path, counts=False, busy_timeout_ms=engine.busy_timeout_ms)
    session = build_session(migration, before, allow_row_loss=allow_row_loss)
    script = session_script(engine.db_path, session.body, busy_timeout_ms=engine.busy_timeout_ms, safe=True)
    return ScriptResult(True, migration.name, migration.sha256, migration.tool, migration.notes, lint, script, "")
