"""Phase: a restore drill. Prove the newest backup restores before the night it is needed.

The newest verified backup is restored into a scratch database on this machine (never the live
one, never on the app host): from its off-host copy when there is one, else fetched from the
host. The scratch file then gets integrity_check and a row count per table, and both, with the
schema fingerprint and the file's sha256, are compared with what was recorded when the backup was
taken. Any difference fails the drill (the bot posts an alert); the scratch file is removed.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ops import hostfs
from ops.backups import list_backups
from ops.context import Engine, Phase, PhaseRun, Step
from ops.errors import OpsError
from ops.outcome import DONE, UNCHANGED
from ops.reporter import Reporter, Status
from ops.schema import read_state
from ops.targets.local import LocalTarget
from ops.units import short_hash, size

DRILL = Phase("drill", takes_lock=False)  # reads a backup; restores only into a scratch file here


@dataclass(frozen=True)
class DrillResult:
    ok: bool
    backup: str
    source: str  # "offsite" (the copy on this machine) | "host" (fetched for the drill)
    taken_at: float
    integrity: str
    counts: dict[str, int]
    differences: tuple[str, ...]
    seconds: float
    run_id: int = 0

    @property
    def error(self) -> str:
        return "" if self.ok else "the drill found the backup unfit: " + "; ".join(self.differences)

    @property
    def outcome(self) -> str:
        return DONE if self.ok else UNCHANGED  # the live database is never touched

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def run_drill(engine: Engine, *, reporter: Reporter | None = None, actor: str = "cli") -> DrillResult:
    async with PhaseRun(engine, DRILL, reporter, actor) as run:
        listing = await list_backups(engine)
        known = await engine.journal.backups(engine.key)
        verified = [b for b in listing.backups if b.path in known and known[b.path].verified]
        if not verified:
            raise OpsError("there is no verified backup to drill",
                           hint="Take one first: `backup` (or /migrate backup).")
        entry = verified[0]
        record = known[entry.path]
        work = engine.work_dir / f"drill-{run.run_id}"
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        try:
            copy = work / "backup.db"
            async with Step(run, "copy", f"{entry.name} to a scratch folder here") as step:
                copied = False
                if record.offsite_path:
                    try:  # pruned meanwhile (a run's retention): then the host's copy
                        await asyncio.to_thread(shutil.copyfile, record.offsite_path, copy)
                        copied = True
                    except FileNotFoundError:
                        pass
                if copied:
                    source = "offsite"
                elif entry.on_host:
                    await engine.target.fetch(entry.path, copy, timeout=engine.phase_timeout_s)
                    source = "host"
                else:
                    raise OpsError(f"{entry.name} is neither on the host nor off it any more",
                                   hint="Take a new backup; then drill again.")
                facts = await asyncio.to_thread(hostfs.local_facts, str(copy))
                step.detail = f"{size(facts.bytes)} from the {'off-host copy' if source == 'offsite' else 'host'}"
            scratch = work / "restored.db"
            try:
                async with Step(run, "restore", "into a scratch database (.restore, as a rollback would)"):
                    await asyncio.to_thread(_restore, copy, scratch)
                async with Step(run, "check", "integrity_check and rows per table of the restored copy") as step:
                    state = await read_state(LocalTarget(), str(scratch), integrity="full",
                                             busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
                    step.detail = f"integrity {state.integrity}, {sum(state.counts.values()):,} rows"
                differences = _compare(record, facts.sha256, state)
                integrity, counts = state.integrity, state.counts
            except (OpsError, sqlite3.DatabaseError) as exc:  # the drill's finding, not a crash
                message = exc.message if isinstance(exc, OpsError) else str(exc)
                differences = [f"it does not restore: {message[:200]}"]
                if facts.sha256 != record.sha256:
                    differences.append(f"its sha256 is {short_hash(facts.sha256)}, recorded "
                                       f"{short_hash(record.sha256)}")
                integrity, counts = message[:200], {}
            for d in differences:
                run.step("compare", Status.FAILED, d)
            if not differences:
                run.step("compare", Status.DONE, "sha256, schema, integrity and every table's rows match the record")
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        result = DrillResult(ok=not differences, backup=entry.path, source=source, taken_at=entry.taken_at,
                             integrity=integrity, counts=counts, differences=tuple(differences),
                             seconds=round(run.elapsed, 3), run_id=run.run_id)
        await run.done(result)
        return result


def _restore(copy: Path, scratch: Path) -> None:
    """What `.restore` does, with Python's sqlite3 backup API: page by page into a new database."""
    src = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    dst = sqlite3.connect(scratch)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _compare(record: Any, sha256: str, state: Any) -> list[str]:
    out = []
    if record.sha256 and sha256 != record.sha256:
        out.append(f"its sha256 is {short_hash(sha256)}, recorded {short_hash(record.sha256)}")
    if state.integrity != "ok":
        out.append(f"integrity_check: {state.integrity[:200]}")
    if record.fingerprint and state.fingerprint != record.fingerprint:
        out.append(f"schema {short_hash(state.fingerprint)}, recorded {short_hash(record.fingerprint)}")
    for table in sorted(set(record.counts) | set(state.counts)):
        was, now = record.counts.get(table), state.counts.get(table)
        if was != now:
            out.append(f"{table}: {now if now is not None else 'missing'} rows, recorded {was}")
    return out


async def last_drill(engine: Engine) -> dict[str, Any] | None:
    """The newest drill of this environment, for status: when, and whether it passed."""
    run = await engine.journal.last_finished(engine.key, "drill", since=0.0)
    if run is None or run.finished_at is None:
        return None
    return {"run_id": run.id, "ok": run.state == "succeeded", "at": run.finished_at,
            "age_s": round(time.time() - run.finished_at)}
