"""Phase 3.1 of the runbook, done right: restore a verified backup with `.restore`.

Never `cp` over a live WAL database (DESIGN rule 9): stale `-wal`/`-shm` files would corrupt
it. `.restore` goes through SQLite's backup API into the live file, in one write transaction,
waiting for the app's writers with a busy timeout. The result is checked against the backup.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ops import drift, hostfs
from ops.backup import verify_file
from ops.backups import BackupEntry, list_backups
from ops.context import Engine, Phase, PhaseRun, Run, Step
from ops.errors import OpsError, UsageError
from ops.journal import BackupRecord
from ops.reporter import Reporter, Status
from ops.restore_session import Restored, fold_back_wal, restore
from ops.restore_source import Source, remove_staged, stage_for_restore
from ops.schema import read_state, read_state_retrying
from ops.targets.base import DiskFull
from ops.units import short_hash, size

log = logging.getLogger(__name__)

ROLLBACK = Phase("rollback", takes_lock=True)  # changes the database


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
    outcome: str = "done"
    error: str = ""
    hint: str = ""
    app_wrote: dict[str, int] = field(default_factory=dict)
    undid_runs: tuple[int, ...] = ()
    restored_from: str = "host"  # or "offsite": the host's copy was missing or damaged (ops.offsite)

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
) -> tuple[BackupEntry, BackupRecord, list[str], Source]:
    """The first candidate that passes integrity_check and matches its recorded sha256 on the
    host, or else whose off-host copy does once uploaded beside the database."""
    skipped: list[str] = []
    for entry in candidates:
        record, problem = await check_backup(run, entry) if entry.on_host else (None, "gone from the host")
        if record is not None:
            return entry, record, skipped, Source(entry.path, "host")
        staged = await stage_for_restore(run, entry.path, f"{entry.name}: {problem}")
        if staged is not None:
            return entry, staged[0], skipped, staged[1]
        skipped.append(f"{entry.name}: {problem}")
    detail = "; ".join(skipped)
    if len(candidates) == 1:
        raise OpsError(f"the backup cannot be used: {detail}", hint=await _next_good_hint(run, candidates[0], others))
    raise OpsError(f"no usable backup: {detail}", hint="Nothing was changed. Take a backup of the current state.")


async def check_backup(run: Run, entry: BackupEntry) -> tuple[BackupRecord | None, str]:
    """(the file's record, "") when it passes integrity_check and its sha256 is the recorded one.
    A file whose size and sha256 are those of a backup opsbot verified is that same file, byte for
    byte: its integrity_check is not run again."""
    engine = run.engine
    known = await engine.journal.backup(engine.key, entry.path)
    if known is not None and known.verified and known.sha256:
        async with Step(run, "check backup", f"size and sha256 of {entry.path}") as step:
            try:
                facts = await hostfs.facts(engine.target, entry.path)
            except OpsError as exc:
                step.fail(exc.message)
                return None, exc.message
            if facts.sha256 == known.sha256 and facts.bytes == known.bytes:
                step.detail = "the verified file, unchanged (sha256 and size match): integrity_check not repeated"
                return known, ""
            step.fail(f"sha256 changed since it was taken ({short_hash(facts.sha256)})")
            return None, f"sha256 changed since it was taken ({short_hash(facts.sha256)})"
    try:
        record, _ = await verify_file(run, entry.path, step_name="check backup")
    except OpsError as exc:
        return None, exc.message
    known = await engine.journal.backup(engine.key, entry.path)
    if known and known.sha256 and known.sha256 != record.sha256:
        problem = f"sha256 changed since it was taken ({short_hash(record.sha256)})"
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
    async with PhaseRun(engine, ROLLBACK, reporter, actor) as run:
        listing = await list_backups(engine)
        entry, record, skipped, source = await choose_good_backup(run, pick(listing.backups, backup),
                                                                  listing.backups)
        if skipped:
            run.step("check backup", Status.WARNING, f"skipped {len(skipped)} unusable backup(s), using {entry.name}")
        try:
            async with Step(run, "read live", "schema and counts before the restore") as step:
                live = await read_state(engine.target, engine.db_path, busy_timeout_ms=engine.busy_timeout_ms,
                                        timeout=engine.phase_timeout_s)
                step.detail = f"schema {short_hash(live.fingerprint)}, {sum(live.counts.values())} rows"
            await ensure_restore_space(run, entry, record)  # last, right before the restore writes
            run.outcome_on_error = "unknown"
            restored = await restore(run, source.path, record, live, named=entry.path)
        finally:
            await remove_staged(run, source)  # the uploaded copy, once the restore is over either way
        run.outcome_on_error = "changed"
        await drift.after_change(engine, live, restored.state)  # the drift watch's baseline follows
        result = replace(await _after_restore(run, entry, record, restored, tuple(skipped)),
                         restored_from=source.origin)
        await run.done(result)
        return result


async def ensure_restore_space(run: Run, entry: BackupEntry, record: BackupRecord) -> None:
    """`.restore` writes the whole backup through the live database's journal: in WAL mode the
    `-wal` grows to about the backup's size before a checkpoint, so that much must be free."""
    engine = run.engine
    async with Step(run, "free space", "room for the restore's write-ahead log") as step:
        free = await hostfs.free_bytes(engine.target, engine.db_path)
        live = (await hostfs.sizes(engine.target, engine.db_path)).get(engine.db_path, 0)
        # The -wal holds the whole backup; folding it back then grows the file to the backup's size.
        need = int(record.bytes * engine.free_space_margin) + max(0, record.bytes - live) + 1024 * 1024
        step.detail = f"{size(free)} free, {size(need)} needed"
        if free < need:
            raise DiskFull(
                f"not enough free space on the volume to restore {entry.name}: {size(free)} free, about "
                f"{size(need)} needed", hint="Nothing was changed. Delete old backups (`backups` lists "
                f"them) or {engine.target.grow_volume_text()}, then roll back again.")


async def _after_restore(run: Run, entry: BackupEntry, record: BackupRecord, restored: Restored,
                         skipped: tuple[str, ...]) -> RollbackResult:
    """The database is the backup now: check its integrity, restart the app, say what happened."""
    engine = run.engine
    error = hint = ""
    integrity = ""
    await fold_back_wal(run)
    async with Step(run, "verify", "integrity_check of the restored database") as step:
        try:
            checked = await read_state_retrying(engine.target, engine.db_path, integrity="full", counts=False,
                                                fk=False, busy_timeout_ms=engine.busy_timeout_ms,
                                                timeout=engine.phase_timeout_s, delays=engine.read_retry_delays)
            integrity = checked.integrity
        except OpsError as exc:
            step.fail(exc.message)
            error = f"the database was restored from {entry.name}, but could not be read afterwards: {exc.message}"
            hint = "The rollback itself is complete: do not run it again. When the host answers, run verify."
        else:
            step.detail = f"integrity {integrity}; schema and row counts matched the backup in the restoring session"
            if integrity != "ok":
                step.fail(f"integrity {integrity[:200]}")
                error = f"the database was restored from {entry.name}, but integrity_check fails: {integrity[:200]}"
                hint = ("Run verify. The backup itself passed integrity_check before the restore; check the volume "
                        f"({engine.target.status_text()}) before anything else.")
    if restored.app_wrote:
        wrote = ", ".join(f"{t} {n:+d}" for t, n in sorted(restored.app_wrote.items()))
        run.step("app writes", Status.WARNING, f"the app kept writing after the restore ({wrote} rows): those "
                                               "writes are kept")
    restart = ""
    if not error:
        async with Step(run, "restart app") as step:
            try:
                restart = await engine.target.restart()
                step.detail = restart
            except OpsError as exc:
                step.fail(exc.message)
                error = f"the database was restored from {entry.name} and verified, but restarting the app failed: " \
                        f"{exc.message}"
                hint = f"The rollback itself is complete: do not run it again; restart the app. {exc.hint}".strip()
    taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.taken_at))
    warning = f"Writes made after {taken} (when the backup was taken) and before the restore are lost."
    run.step("warning", Status.WARNING, warning)
    state = restored.state
    rows = [[t, n] for t, n in sorted(state.counts.items())]
    run.table("rows per table after the rollback", ["table", "rows"], rows)
    undid = await _mark_undone(run, record, entry)
    return RollbackResult(
        ok=not error, backup=entry.path, backup_taken_at=taken, counts=state.counts, integrity=integrity,
        user_version=state.user_version, fingerprint=state.fingerprint, restart=restart, warning=warning,
        skipped_backups=skipped, seconds=round(run.elapsed, 3), run_id=run.run_id,
        outcome="changed" if error else "done", error=error, hint=hint, app_wrote=restored.app_wrote,
        undid_runs=tuple(undid),
    )


async def _mark_undone(run: Run, record: BackupRecord, entry: BackupEntry) -> list[int]:
    """The runs this restore undid: those that changed the database after the backup was taken."""
    journal = run.engine.journal
    # The journal's record of the backup names the run that took it (``record`` is this check's).
    taken_by = await journal.backup(run.engine.key, entry.path)
    undone = sorted({r.id for r in await journal.changes_after_backup(run.engine.key, taken_by, entry.taken_at)
                     if r.id != run.run_id and not r.undone_by})
    await journal.mark_undone(undone, run.run_id)
    if taken_by is not None and taken_by.run_id:
        await journal.restored_to(run.engine.key, taken_by.run_id)
    return undone
