"""What a rollback would do, known before anyone confirms it, and the rollback as confirmed.

A plan names the backup, what the restore undoes beyond the run it was asked for (a run already
rolled back, later migrations) and whether a stopped app must be started first. Nothing is started
and nothing is written until the plan is confirmed; confirming re-reads the history, and a plan
the history has overtaken is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ops import backups, restore_session, rollback
from ops.backups import BackupEntry
from ops.context import Engine
from ops.emergency import ensure_running
from ops.errors import OpsError
from ops.reporter import Reporter, Status
from ops.schema import read_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryNote:
    """One thing the restore does besides undoing the run it was asked for.

    kind: ``already_undone`` (the run was rolled back before: restoring again throws away every
    write since that rollback), ``unchanged`` (the run changed nothing), ``also_undoes`` (a later
    migration ran after the backup was taken)."""

    kind: str
    run_id: int
    migration: str = ""
    at: float = 0.0
    by_run: int = 0
    who: str = ""


@dataclass(frozen=True)
class RollbackPlan:
    backup: BackupEntry
    run_id: int | None
    notes: tuple[HistoryNote, ...]
    start_first: bool  # no machine is started: one is started after the confirmation, before the restore
    # Rows each table gained (or lost) since the backup: what the rollback throws away. None when
    # it could not be read (a stopped app, a backup opsbot has no counts for).
    rows_since: dict[str, int] | None = None


class HistoryChanged(OpsError):
    """Someone rolled back or migrated while the confirmation was open."""

    def __init__(self, now: tuple[HistoryNote, ...]) -> None:
        super().__init__("nothing was done: the history changed while the confirmation was open",
                         hint="Ask for the rollback again to see what it would undo now.")
        self.notes = now


async def history_notes(engine: Engine, chosen: BackupEntry, run_id: int | None) -> tuple[HistoryNote, ...]:
    """What this restore would undo beyond the run it was asked for, from the journal."""
    journal = engine.journal
    notes: list[HistoryNote] = []
    if run_id:
        run = await journal.run(run_id)
        if run and run.undone_by:
            undo = await journal.run(run.undone_by)
            notes.append(HistoryNote("already_undone", run_id, by_run=run.undone_by,
                                     at=undo.started_at if undo else 0.0,
                                     who=undo.who if undo else ""))
        elif run and run.phase == "migrate" and run.outcome == "unchanged":
            notes.append(HistoryNote("unchanged", run_id))
    record = await journal.backup(engine.key, chosen.path)
    for r in await journal.changes_after_backup(engine.key, record, chosen.taken_at + 1):
        if r.id != run_id and r.id != (record.run_id if record else None) and not r.undone_by \
                and r.phase == "migrate":
            notes.append(HistoryNote("also_undoes", r.id, migration=r.migration or "", at=r.started_at))
    return tuple(notes)


async def _app_stopped(engine: Engine) -> bool:
    machines = await engine.target.machines()
    return bool(machines) and not any(m.state == "started" for m in machines)


async def plan_rollback(engine: Engine, backup_path: str | None, run_id: int | None = None) -> RollbackPlan:
    """Choose the backup and say what restoring it undoes. With every machine stopped the host
    cannot list its files, so the journal's record of the backups is used, and the plan says a
    machine will be started once the rollback is confirmed."""
    stopped = await _app_stopped(engine)
    listing = await (backups.recorded_backups(engine) if stopped else backups.list_backups(engine))
    chosen = rollback.pick(listing.backups, backup_path)[0]
    return RollbackPlan(chosen, run_id, await history_notes(engine, chosen, run_id), stopped,
                        None if stopped else await _rows_since(engine, chosen))


async def _rows_since(engine: Engine, chosen: backups.BackupEntry) -> dict[str, int] | None:
    record = await engine.journal.backup(engine.key, chosen.path)
    if record is None or not record.counts:
        return None
    try:
        live = await read_state(engine.target, engine.db_path, busy_timeout_ms=engine.busy_timeout_ms)
    except OpsError as exc:
        log.warning("could not count the rows written since %s: %s", chosen.name, exc.message)
        return None
    return restore_session.rows_written_since(record, live)


async def check_current(engine: Engine, plan: RollbackPlan) -> None:
    """Refuse a plan the history has overtaken (what was confirmed is no longer what would happen)."""
    now = await history_notes(engine, plan.backup, plan.run_id)
    if now != plan.notes:
        raise HistoryChanged(now)


async def roll_back_as_planned(engine: Engine, plan: RollbackPlan, *, actor: str,
                               reporter: Reporter) -> rollback.RollbackResult:
    """The confirmed rollback: refused when the history moved since the plan, then a stopped app is
    started (a restore needs a running machine), then the backup is restored."""
    await check_current(engine, plan)
    return await start_then_roll_back(engine, backup=plan.backup.path, actor=actor, reporter=reporter)


async def start_then_roll_back(engine: Engine, *, backup: str | None, actor: str,
                               reporter: Reporter) -> rollback.RollbackResult:
    """A confirmed rollback (the channel's confirmation, the CLI's --yes): a stopped app is started
    first, since a restore needs a running machine, then the backup is restored."""
    started = await ensure_running(engine)
    if started:
        reporter.step("start machine", Status.DONE, started)
    return await rollback.run_rollback(engine, confirmed=True, backup=backup, reporter=reporter, actor=actor)
