"""Retention: keep the newest KEEP_BACKUPS_HOST backups on the host and KEEP_BACKUPS_OFFSITE copies
off it, per environment, pruning the oldest first; never the last good way back.

Only backups opsbot took (the journal knows them) are pruned; one made by hand from the runbook is
listed, never removed. Whatever the counts, these are kept: the newest verified backup, any taken
in the last day, and the backup of every migrate run that changed the database and is not rolled
back within the last week (its Rollback button restores it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from ops import hostfs
from ops.backups import BackupEntry, list_backups
from ops.context import Engine, Phase, PhaseRun, Run
from ops.errors import OpsError
from ops.reporter import Reporter, Status

log = logging.getLogger(__name__)
DAY = 86400.0
RUN_GUARD_S = 7 * DAY


@dataclass(frozen=True)
class Pruned:
    ok: bool
    env: str
    applied: bool  # False: only what would be removed (no --yes)
    host: tuple[str, ...]  # backups removed from the host (or that would be)
    offsite: tuple[str, ...]  # off-host copies removed (or that would be)
    kept: dict[str, str]  # path → why it is kept although beyond the counts

    @property
    def error(self) -> str:
        return ""

    @property
    def outcome(self) -> str:
        return "done"  # backups only: the database is not touched

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Removing backups takes the environment's lock: never while a rollback checks, uploads or restores one.
PRUNE = Phase("prune", takes_lock=True)


async def run_prune(engine: Engine, *, apply: bool, reporter: Reporter | None = None,
                    actor: str = "cli") -> Pruned:
    """`python -m ops prune`: what would go (no lock: it only looks), or, with ``apply``, a locked
    run that removes it."""
    if not apply:
        return await prune(engine, apply=False)
    async with PhaseRun(engine, PRUNE, reporter, actor) as run:
        done = await prune(engine, run)
        await run.done(done)
        return done


async def protected(engine: Engine, entries: tuple[BackupEntry, ...], now: float) -> dict[str, str]:
    """Backups that are never pruned, and why."""
    known = await engine.journal.backups(engine.key)
    keep: dict[str, str] = {}
    newest = next((e for e in entries if e.path in known and known[e.path].verified), None)
    if newest is not None:
        keep[newest.path] = "the newest verified backup"
    for e in entries:
        record = known.get(e.path)
        if record is None:
            continue
        if now - record.created_at < DAY:
            keep.setdefault(e.path, "taken in the last day")
        if record.run_id:
            run = await engine.journal.run(record.run_id)
            # An interrupted run may have applied its change (its outcome was never written).
            if run and run.phase == "migrate" and (run.outcome in ("done", "changed", "unknown")
                                                   or run.state in ("interrupted", "running")) \
                    and not run.undone_by and now - run.started_at < RUN_GUARD_S:
                keep.setdefault(e.path, f"the way back of run #{run.id} (its Rollback button)")
    return keep


async def plan(engine: Engine, now: float | None = None) -> tuple[list[BackupEntry], list[BackupEntry], dict[str, str]]:
    """(host backups to remove, off-host copies to remove, kept beyond the counts and why)."""
    now = time.time() if now is None else now
    listing = await list_backups(engine)
    known = await engine.journal.backups(engine.key)
    ours = [e for e in listing.backups if e.path in known]  # newest first; hand-made ones are not ours
    keep = await protected(engine, listing.backups, now)
    host = [e for e in ours if e.on_host][engine.keep_host:]
    away = [e for e in ours if e.offsite_path][engine.keep_offsite:]
    kept = {e.path: keep[e.path] for e in host + away if e.path in keep}
    return [e for e in host if e.path not in keep], [e for e in away if e.path not in keep], kept


async def prune(engine: Engine, run: Run | None = None, *, apply: bool = True, now: float | None = None) -> Pruned:
    """``now``: the clock the protections are judged by (tests move it instead of editing rows)."""
    host, away, kept = await plan(engine, now)
    if apply:
        for e in host:
            await hostfs.remove(engine.target, e.path)
            if not e.offsite_path:
                await engine.journal.forget_backup(engine.key, e.path)
        for e in away:
            try:
                await asyncio.to_thread(os.remove, e.offsite_path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OpsError(f"could not remove the off-host copy {e.offsite_path}: {exc.strerror}",
                               hint="Check the permissions of the backups folder.") from exc
            if e.on_host and e not in host:
                await engine.journal.record_offsite(engine.key, e.path, "", "")
            else:
                await engine.journal.forget_backup(engine.key, e.path)
        if host or away:
            log.info("retention on %s: removed %d host backup(s), %d off-host cop(ies)", engine.env_name,
                     len(host), len(away))
    return Pruned(True, engine.env_name, apply, tuple(e.path for e in host), tuple(e.offsite_path for e in away),
                  kept)


async def keep_within_limits(run: Run) -> None:
    """After a backup: prune beyond the counts, as a step of the run that made it. A failure here
    is only said: it never fails the backup or the migration it follows."""
    try:
        done = await prune(run.engine, run)
    except OpsError as exc:
        run.step("retention", Status.WARNING, f"old backups were not pruned: {exc.message}")
        return
    run.step("retention", Status.DONE, f"removed {len(done.host)} old backup(s) on the host, {len(done.offsite)} "
                                       "off it" if done.host or done.offsite else "nothing beyond the counts")
