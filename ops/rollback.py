"""Phase 3.1 of the runbook, done right: restore a verified backup with `.restore`.

Never `cp` over a live WAL database (DESIGN rule 9): stale `-wal`/`-shm` files would corrupt
it. `.restore` goes through SQLite's backup API into the live file, in one write transaction,
waiting for the app's writers with a busy timeout. The result is checked against the backup.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from ops.backup import verify_file
from ops.backups import BackupEntry, list_backups
from ops.context import Engine, PhaseRun, Run, Step
from ops.errors import OpsError, UsageError
from ops.journal import BackupRecord
from ops.reporter import Reporter, Status
from ops.schema import read_state
from ops.sqlite_cli import dot_quote, require_sqlite, run_sql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RollbackResult:
    ok: bool
    backup: str
    backup_taken_at: str
    counts: dict[str, int]
    integrity: str
    user_version: int
    fingerprint: str
    restart: str
    warning: str
    skipped_backups: tuple[str, ...]
    seconds: float
    run_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pick(entries: tuple[BackupEntry, ...], path: str | None) -> list[BackupEntry]:
    """Candidates in the order to try: the named one only, or every backup newest first."""
    if path:
        chosen = [e for e in entries if e.path == path or e.name == path]
        if not chosen:
            names = ", ".join(e.name for e in entries[:5]) or "none"
            raise UsageError(f"{path} is not a backup of this database",
                             hint=f"Name one listed by `backups` (newest: {names}).")
        return chosen
    if not entries:
        raise OpsError("there is no backup of this database to roll back to", hint="Nothing was changed.")
    # Verified ones first (newest first within each group); unverified ones are verified now.
    return sorted(entries, key=lambda e: (e.verified == "ok", e.stamp, e.recorded_at), reverse=True)


async def choose_good_backup(
    run: Run, candidates: list[BackupEntry], others: tuple[BackupEntry, ...] = ()
) -> tuple[BackupEntry, BackupRecord, list[str]]:
    """The first candidate that passes integrity_check and matches its recorded sha256."""
    engine, skipped = run.engine, []
    for entry in candidates:
        try:
            record, _ = await verify_file(run, entry.path, step_name="check backup")
        except OpsError as exc:
            skipped.append(f"{entry.name}: {exc.message}")
            continue
        known = await engine.journal.backup(engine.target.name, entry.path)
        if known and known.sha256 and known.sha256 != record.sha256:
            skipped.append(f"{entry.name}: sha256 changed since it was taken ({record.sha256[:12]})")
            run.step("check backup", Status.FAILED, skipped[-1])
            continue
        return entry, record, skipped
    detail = "; ".join(skipped)
    if len(candidates) == 1:
        raise OpsError(f"the backup cannot be used: {detail}", hint=_next_good_hint(candidates[0], others))
    raise OpsError(f"no usable backup: {detail}", hint="Nothing was changed. Take a backup of the current state.")


def _next_good_hint(tried: BackupEntry, others: tuple[BackupEntry, ...]) -> str:
    good = [e for e in others if e.path != tried.path and e.verified == "ok"]
    if good:
        return f"Nothing was changed. The newest backup opsbot verified is {good[0].path}: roll back to that one."
    return "Nothing was changed. Run `backups` and pick another one, or take a backup of the current state."


async def run_rollback(engine: Engine, *, confirmed: bool, backup: str | None = None,
                       reporter: Reporter | None = None, actor: str = "cli") -> RollbackResult:
    if not confirmed:
        raise UsageError("rollback overwrites the live database and needs confirmation",
                         hint="Re-run with --yes. Writes made after the backup will be lost.")
    async with PhaseRun(engine, "rollback", reporter, actor) as run:
        listing = await list_backups(engine)
        entry, record, skipped = await choose_good_backup(run, pick(listing.backups, backup), listing.backups)
        if skipped:
            run.step("check backup", Status.WARNING, f"skipped {len(skipped)} unusable backup(s), using {entry.name}")
        await restore(run, entry.path)
        async with Step(run, "verify", "the database now matches the backup") as step:
            state = await read_state(engine.target, engine.db_path, integrity="full",
                                     busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
            problems = []
            if state.integrity != "ok":
                problems.append(f"integrity_check: {state.integrity[:200]}")
            if state.counts != record.counts:
                problems.append(f"row counts differ from the backup: {state.counts} vs {record.counts}")
            if state.fingerprint != record.fingerprint:
                problems.append("the schema differs from the backup")
            step.detail = f"integrity {state.integrity}, counts and schema match the backup"
            if problems:
                raise OpsError("after the restore, " + "; ".join(problems),
                               hint=f"Run verify; retry the rollback with --backup {entry.path}.")
        async with Step(run, "restart app") as step:
            step.detail = await engine.target.restart()
        taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.taken_at))
        warning = f"Writes made after {taken} (when the backup was taken) are lost."
        run.step("warning", Status.WARNING, warning)
        result = RollbackResult(True, entry.path, taken, state.counts, state.integrity, state.user_version,
                                state.fingerprint, step.detail, warning, tuple(skipped), round(run.elapsed, 3),
                                run.run_id)
        rows = [[t, n] for t, n in sorted(state.counts.items())]
        run.table("rows per table after the rollback", ["table", "rows"], rows)
        await run.finish(True, result.to_dict())
        return result


async def restore(run: Run, backup_path: str) -> None:
    engine = run.engine
    async with Step(run, "restore", f".restore from {backup_path}"):
        sql = await run_sql(engine.target, engine.db_path, f".restore {dot_quote(backup_path)}\n",
                            busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
        require_sqlite(sql, "the restore")
        if not sql.result.ok:
            raise OpsError(
                f".restore failed: {sql.error_text or 'exit ' + str(sql.result.exit_code)}",
                hint="The restore runs in one transaction, so a failure leaves the database as it was; "
                     "run verify to confirm, then retry (the app may hold a long write lock).",
            )
