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
    skipped: list[str] = []
    for entry in candidates:
        record, problem = await check_backup(run, entry)
        if record is not None:
            return entry, record, skipped
        skipped.append(f"{entry.name}: {problem}")
    detail = "; ".join(skipped)
    if len(candidates) == 1:
        raise OpsError(f"the backup cannot be used: {detail}", hint=await _next_good_hint(run, candidates[0], others))
    raise OpsError(f"no usable backup: {detail}", hint="Nothing was changed. Take a backup of the current state.")


async def check_backup(run: Run, entry: BackupEntry) -> tuple[BackupRecord | None, str]:
    """(the file's record, "") when it passes integrity_check and its sha256 is the recorded one."""
    engine = run.engine
    try:
        record, _ = await verify_file(run, entry.path, step_name="check backup")
    except OpsError as exc:
        return None, exc.message
    known = await engine.journal.backup(engine.target.name, entry.path)
    if known and known.sha256 and known.sha256 != record.sha256:
        problem = f"sha256 changed since it was taken ({record.sha256[:12]})"
        run.step("check backup", Status.FAILED, f"{entry.name}: {problem}")
        return None, problem
    return record, ""


async def _next_good_hint(run: Run, tried: BackupEntry, others: tuple[BackupEntry, ...]) -> str:
    """Name a backup that passes its checks now: a record of an earlier check is not enough, the
    file may have been damaged since."""
    rest = [e for e in others if e.path != tried.path]
    for entry in sorted(rest, key=lambda e: (e.verified == "ok", e.stamp, e.recorded_at), reverse=True):
        record, _ = await check_backup(run, entry)
        if record is not None:
            return f"Nothing was changed. The newest backup that passes its checks now is {entry.path}: " \
                   f"roll back to that one."
    return "Nothing was changed. No other backup passes its checks: take a backup of the current state."


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
        await restore(run, entry.path, record)
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
            try:
                step.detail = await engine.target.restart()
            except OpsError as exc:
                raise OpsError(f"the database was restored from {entry.name} and verified, but restarting the app "
                               f"failed: {exc.message}",
                               hint=f"The rollback itself is complete: do not run it again; restart the app. "
                                    f"{exc.hint}") from exc
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


async def restore(run: Run, backup_path: str, record: BackupRecord) -> None:
    """`.restore`; after any failure, the database itself says whether it was restored (rule 7)."""
    engine = run.engine
    async with Step(run, "restore", f".restore from {backup_path}"):
        try:
            sql = await run_sql(engine.target, engine.db_path, f".restore {dot_quote(backup_path)}\n",
                                busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
        except OpsError as exc:  # flyctl timed out or the host was unreachable: fate unknown
            failure, locked = exc.message, False
        else:
            require_sqlite(sql, "the restore")
            if sql.result.ok:
                return
            failure = f".restore failed: {sql.error_text or 'exit ' + str(sql.result.exit_code)}"
            locked = "database is locked" in sql.result.stderr
    await confirm_restore(run, backup_path, record, failure, wait=not locked)


async def confirm_restore(run: Run, backup_path: str, record: BackupRecord, failure: str, *, wait: bool) -> None:
    """Return when the database matches the backup after all; otherwise raise saying which it is.

    `.restore` writes in one transaction, so the database is either the backup or as it was. After a
    dropped connection the remote sqlite3 may still be writing: with ``wait`` the read takes the
    write lock first, so it sees the state after that writer finished.
    """
    engine = run.engine
    retry = f"Retry the rollback with --backup {backup_path}"
    async with Step(run, "confirm restore", "re-read the database after the failed .restore") as step:
        try:
            now = await read_state(
                engine.target, engine.db_path, after_writers=wait, timeout=engine.phase_timeout_s,
                busy_timeout_ms=int(engine.phase_timeout_s * 1000) if wait else engine.busy_timeout_ms)
        except OpsError as exc:
            raise OpsError(
                f"{failure}; whether the database was restored is NOT known: it could not be read "
                f"afterwards ({exc.message})",
                hint=f"It is one transaction: the database is either the backup or as it was, never half. When "
                     f"the host answers, run verify and compare with the backup's row counts. {retry} if needed.",
            ) from exc
        if now.fingerprint == record.fingerprint and now.counts == record.counts:
            step.detail = "the database matches the backup: the restore completed despite the error"
            run.step("restore", Status.WARNING, f"{failure} — but the database now matches the backup")
            return
        step.detail = "the database does not match the backup: it was not restored"
        hint = (f"The database is as it was before the rollback. {retry} when the host is reachable"
                + (" (the app held the write lock: pick a quieter moment or raise BUSY_TIMEOUT_MS)." if not wait
                   else "."))
        raise OpsError(f"{failure}; checked afterwards: the database does not match the backup, so nothing "
                       f"was restored (.restore is one transaction)", hint=hint)
