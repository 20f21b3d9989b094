"""Phases: recent app logs (error lines marked) and a one-screen status of the app."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ops import hostfs, ledger
from ops.backups import list_backups
from ops.context import Engine
from ops.drill import last_drill
from ops.errors import OpsError
from ops.journal import RunRecord
from ops.monitor import open_incident
from ops.policy import sticky_lock
from ops.schema import read_state

ERROR_RE = re.compile(r"\b(error|exception|traceback|fatal|panic|critical)\b", re.IGNORECASE)


@dataclass(frozen=True)
class LogsResult:
    ok: bool
    lines: tuple[str, ...]
    errors: tuple[int, ...]  # indexes of lines that look like errors

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StatusResult:
    ok: bool
    target: str
    machines: tuple[dict[str, str], ...]
    db_path: str
    db_bytes: int | None
    wal_bytes: int | None
    user_version: int | None
    fingerprint: str
    newest_backup: str
    backups: int
    lock: str
    error: str
    newest_verified_backup: str = ""  # the newest one opsbot verified, and when it was taken
    newest_verified_at: float | None = None
    incident: dict[str, Any] | None = None  # the open health incident: id, kind, since, acked_by
    sticky_lock: dict[str, Any] | None = None  # who holds the environment (ops.policy), and why
    last_drill: dict[str, Any] | None = None  # the newest restore drill (ops.drill): run_id, ok, at, age_s
    # What the ledger flags (ops.ledger.warnings): an applied file edited since or gone, one out of order.
    ledger_warnings: tuple[str, ...] = ()
    # The environment's history adopted from an old key, or one left there and why (ops.history.note).
    history: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def run_logs(engine: Engine, *, lines: int = 50) -> LogsResult:
    lines = max(1, min(lines, 500))
    got = await engine.target.logs(lines)
    return LogsResult(True, tuple(got), tuple(i for i, ln in enumerate(got) if ERROR_RE.search(ln)))


async def run_status(engine: Engine) -> StatusResult:
    target, db = engine.target, engine.db_path
    machines = tuple({"id": m.id, "state": m.state, "region": m.region} for m in await target.machines())
    errors: list[str] = []
    sizes: dict[str, int] = {}
    user_version, fp = None, ""
    try:
        sizes = await hostfs.sizes(target, db, db + "-wal")
        state = await read_state(target, db, counts=False, busy_timeout_ms=engine.busy_timeout_ms)
        user_version, fp = state.user_version, state.fingerprint
    except OpsError as exc:
        errors.append(exc.message)
    backups = await list_backups(engine) if db in sizes else None
    lock = await engine.journal.lock_for(engine.key)
    newest = backups.backups[0].path if backups and backups.backups else ""
    verified = next((b for b in backups.backups if b.verified == "ok"), None) if backups else None
    incident = await open_incident(engine.journal, engine.env)
    held = await sticky_lock(engine.journal, engine.key)
    drilled = await last_drill(engine)
    flagged = ledger.warnings(await ledger.pending_report(engine.journal, engine.key, engine.env_name,
                                                          engine.migrations_dir))
    return StatusResult(
        ok=not errors, target=target.name, machines=machines, db_path=db, db_bytes=sizes.get(db),
        wal_bytes=sizes.get(db + "-wal"), user_version=user_version, fingerprint=fp, newest_backup=newest,
        backups=len(backups.backups) if backups else 0,
        lock=f"{lock.phase} by {lock.holder} (run #{lock.run_id})" if lock else "", error="; ".join(errors),
        newest_verified_backup=verified.path if verified else "",
        newest_verified_at=verified.taken_at if verified else None,
        incident={"id": incident.id, "kind": incident.kind, "since": incident.started_at,
                  "acked_by": incident.acked_by} if incident else None,
        sticky_lock={"reason": held.reason, "by": held.by, "at": held.at} if held else None,
        last_drill=drilled, ledger_warnings=tuple(flagged),
    )


async def last_change(engine: Engine) -> RunRecord | None:
    """The newest run that changed (or set out to change) the database: a migrate or a rollback."""
    return await engine.journal.last_change(engine.key)
