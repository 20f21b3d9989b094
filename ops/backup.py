"""Phase 2.1 of the runbook, done right: a consistent `.backup` on the host, verified.

Never `cp` of a live database (DESIGN rule 1): `.backup` reads through the WAL, so commits
that still live only in `-wal` are in the copy. The copy is written under a temporary name
and only renamed to the runbook's `<db>.pre-<label>-<YYYYmmdd_HHMMSS>` once it has passed
integrity_check, so a failed or interrupted backup never looks like a good one.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from ops import hostfs
from ops import offsite as offsite_copy
from ops.context import Engine, Phase, PhaseRun, Run, Step
from ops.errors import OpsError, UsageError
from ops.journal import BackupRecord
from ops.outcome import DONE, UNCHANGED
from ops.reporter import Reporter
from ops.retention import keep_within_limits
from ops.schema import DbState, read_state
from ops.sqlite_cli import disk_full, dot_quote, require_sqlite, run_sql, sh_quote
from ops.targets.base import DiskFull, ShResult, Target, phase_timeout_text
from ops.targets.upload import PARTIAL_SUFFIX
from ops.units import short_hash, size

log = logging.getLogger(__name__)

BACKUP = Phase("backup", takes_lock=True)  # writes a copy on the volume: one at a time with migrate and rollback

LABEL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SIDE_FILES = ("", "-journal", "-wal", "-shm")  # a SQLite file and what SQLite may leave beside it


@dataclass(frozen=True)
class Taken:
    """What take_backup leaves: the recorded backup, the free space before it, its user_version,
    and its off-host copy when one was asked for."""

    record: BackupRecord
    free: int
    user_version: int
    offsite: offsite_copy.Offsite | None


@dataclass(frozen=True)
class BackupResult:
    ok: bool
    path: str
    bytes: int
    sha256: str
    integrity: str
    counts: dict[str, int]
    fingerprint: str
    user_version: int
    free_bytes: int
    seconds: float
    offsite: dict[str, str] | None = None  # {"path", "sha256"} when a second copy was asked for

    @property
    def error(self) -> str:
        return ""  # a failed backup raises; a result is a verified backup

    @property
    def outcome(self) -> str:
        return DONE if self.ok else UNCHANGED  # a backup only reads the live database

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_label(label: str) -> str:
    if not LABEL_RE.match(label or ""):
        raise UsageError(
            f"the backup label {label[:80]!r} is not allowed",
            hint="Use 1-64 characters from A-Z a-z 0-9 . _ - (it becomes part of a file name).",
        )
    return label


def backup_path(db: str, label: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{db}.pre-{check_label(label)}-{stamp}"


async def ensure_space(run: Run, db: str, dest: str) -> tuple[int, int]:
    """Refuse before writing anything when the volume cannot hold another copy (rule 3)."""
    engine = run.engine
    async with Step(run, "free space", "df -P on the volume") as step:
        found = await hostfs.sizes(engine.target, db, db + "-wal")
        if db not in found:
            raise OpsError(f"there is no database at {db} on {engine.target.name}", hint="Check DB_PATH.")
        need = int((found[db] + found.get(db + "-wal", 0)) * engine.free_space_margin) + 1024 * 1024
        free = await hostfs.free_bytes(engine.target, dest)
        step.detail = f"{size(free)} free, {size(need)} needed"
        if free < need:
            raise DiskFull(
                f"not enough free space for a backup: {size(free)} free on the volume, about {size(need)} needed",
                hint=f"Nothing was written. `python -m ops prune` says which old backups can go (`--yes` removes "
                f"them; lower KEEP_BACKUPS_HOST to keep fewer), or {engine.target.grow_volume_text()}; then retry.",
            )
    return free, need


async def snapshot(run: Run, db: str, dest: str, *, step_name: str = "backup") -> None:
    """`.backup` the live database into ``dest`` (which must not exist) on the host."""
    engine = run.engine
    async with Step(run, step_name, f".backup into {dest}"):
        # One read transaction around the copy. Without it the CLI's `.backup` copies 100 pages a
        # step, lets go of its read lock in between and starts again from page 1 after any commit
        # by the app: on a database that takes longer to copy than the app's commit interval, it
        # never finishes. Inside the transaction every step reads the same snapshot (commits still
        # only in `-wal` included); in WAL mode the app's writers are not held up by it.
        body = f"BEGIN;\nSELECT count(*) FROM sqlite_master;\n.backup {dot_quote(dest)}\nCOMMIT;\n"
        try:
            sql = await run_sql(
                engine.target, db, body, busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s
            )
        except OpsError as exc:  # the target timed out or could not reach the host
            await _remove_quietly(engine, dest)
            raise OpsError(f".backup did not finish: {phase_timeout_text(exc, engine.phase_timeout_s)}",
                           hint=_unfinished_hint(dest)) from exc
        require_sqlite(sql, "the backup")
        if not sql.result.ok:
            await _remove_quietly(engine, dest)
            error = sql.error_text or "exit " + str(sql.result.exit_code)
            raise OpsError(f"sqlite3 .backup failed: {error}",
                           hint=_backup_failure_hint(sql.result, error, dest, engine.target))


def _unfinished_hint(dest: str) -> str:
    """After a timeout or a dropped connection: the remote sqlite3 may still be writing ``dest``."""
    if dest.endswith(PARTIAL_SUFFIX):
        leftover = (f"a `{PARTIAL_SUFFIX}` file is never listed as a backup, and the next backup removes it")
    else:
        leftover = "remove it by hand if it is still there after a while"
    return ("A backup only reads the database: the live database is unchanged. The unfinished copy was removed and "
            f"nothing was recorded as a backup (a remote sqlite3 still running after a dropped connection may "
            f"write {dest} once more: {leftover}). Check the host (`status`), then retry.")


def _backup_failure_hint(result: ShResult, error: str, dest: str, target: Target) -> str:
    if disk_full(error):
        return ("The volume ran out of space while the copy was written. The unfinished copy was removed and "
                "nothing was kept; the live database is unchanged. Delete old backups (`backups` lists them) "
                f"or {target.grow_volume_text()}, then retry.")
    if result.session_lost:
        return _unfinished_hint(dest)
    return "Nothing was kept; the live database is unchanged. If the database is busy, retry in a quiet moment."


async def _remove_quietly(engine: Engine, *paths: str) -> None:
    """Best-effort clean-up on a failure path: the original error is what the operator needs."""
    try:
        await hostfs.remove(engine.target, *paths)
    except OpsError as exc:
        log.warning("could not remove %s: %s", ", ".join(paths), exc.message)


async def mmap_for(target: Target, path: str) -> int:
    """The mmap budget for reading ``path`` through (ops.hostfs.mmap_budget); 0 when unknown."""
    try:
        size_now = (await hostfs.sizes(target, path)).get(path, 0)
        return hostfs.mmap_budget(await hostfs.memory_available(target), size_now)
    except OpsError:
        return 0


async def verify_file(
    run: Run, path: str, *, integrity: str = "full", step_name: str = "verify backup"
) -> tuple[BackupRecord, DbState]:
    """integrity_check, counts, schema fingerprint, size and sha256 of a backup file (rule 2)."""
    engine = run.engine
    async with Step(run, step_name, f"integrity, counts, sha256 of {path}") as step:
        # integrity_check and the hash only read the file: run them side by side.
        try:
            mmap = await mmap_for(engine.target, path)
            state, facts = await asyncio.gather(
                read_state(engine.target, path, integrity=integrity, busy_timeout_ms=engine.busy_timeout_ms, fk=False,
                           mmap_bytes=mmap),
                hostfs.facts(engine.target, path),
            )
        except OpsError as exc:
            raise OpsError(f"the backup {path} failed verification: {exc.message}",
                           hint="Do not rely on this file; take a new backup.") from exc
        record = BackupRecord(
            path=path, created_at=time.time(), bytes=facts.bytes, sha256=facts.sha256,
            integrity=state.integrity, counts=state.counts, fingerprint=state.fingerprint, run_id=run.run_id or None,
        )
        step.detail = f"{state.integrity}, {size(facts.bytes)}, sha256 {short_hash(facts.sha256)}"
        if state.integrity != "ok":
            raise OpsError(
                f"the backup {path} failed integrity_check: {state.integrity[:300]}",
                hint="Do not rely on this file. Take a new backup; if that fails too, check the live database.",
            )
        return record, state


async def take_backup(run: Run, label: str, *, offsite: bool = False) -> Taken:
    """Space check, `.backup` to a temporary name, verify, rename, record. ``offsite``: the copy off
    the host (ops.offsite) is fetched beside the verification, both reading the same finished file,
    and put in place only once its sha256 is the verified one."""
    engine = run.engine
    db = engine.db_path
    final = backup_path(db, label)
    free, need = await ensure_space(run, db, final)
    for _ in range(3):
        # A name is the label and the second: a backup taken again within the same second (a migrate
        # right after a rollback) waits for the next second's name rather than failing.
        if final not in await hostfs.sizes(engine.target, final):
            break
        await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)
        final = backup_path(db, label)
    else:
        raise OpsError(f"{final} already exists", hint="Use another label; the database was not changed.")
    partial = final + PARTIAL_SUFFIX
    # Unfinished copies of earlier failed backups only take space (this run holds the lock).
    await remove_stale_partials(engine, db)
    copied: offsite_copy.Copied | None = None
    fetching: asyncio.Task[offsite_copy.Copied] | None = None
    try:
        await snapshot(run, db, partial)
        if offsite:
            async with asyncio.TaskGroup() as both:  # one failing stops the other
                verifying = both.create_task(verify_file(run, partial))
                fetching = both.create_task(offsite_copy.fetch_copy(run, partial, posixpath.basename(final), need))
            (record, state), copied = verifying.result(), fetching.result()
        else:
            record, state = await verify_file(run, partial)
        await hostfs.move(engine.target, partial, final)
    except BaseException as exc:
        await _remove_quietly(engine, *(partial + extra for extra in SIDE_FILES))
        if copied is None and fetching is not None and fetching.done() and not fetching.cancelled() \
                and fetching.exception() is None:
            copied = fetching.result()  # fetched, but its backup failed its checks: not kept
        if copied is not None:
            await offsite_copy.drop(run, copied)
        if isinstance(exc, BaseExceptionGroup):  # the TaskGroup's: the first error says what happened
            raise exc.exceptions[0] from None
        raise
    record = BackupRecord(**{**asdict(record), "path": final})
    await engine.journal.record_backup(engine.key, record)
    off = await offsite_copy.settle_copy(run, copied, record) if copied is not None else None
    return Taken(record, free, state.user_version, off)


async def remove_stale_partials(engine: Engine, db: str) -> None:
    # The quoted database path is literal; only the `*` between it and the suffix is a glob. A copy
    # killed while it was written or checked also leaves its -journal, -wal and -shm.
    globs = " ".join(f"{sh_quote(db)}.pre-*{sh_quote(PARTIAL_SUFFIX + extra)}" for extra in SIDE_FILES)
    await engine.target.sh(f"rm -f -- {globs}", timeout=hostfs.FACT_TIMEOUT_S)


async def run_backup(engine: Engine, *, label: str = "manual", reporter: Reporter | None = None,
                     actor: str = "cli", offsite: bool = False) -> BackupResult:
    """``offsite``: also keep a second copy off the app host (ops.offsite), as migrate always does."""
    check_label(label)
    async with PhaseRun(engine, BACKUP, reporter, actor) as run:
        taken = await take_backup(run, label, offsite=offsite)
        record, free, user_version, off = taken.record, taken.free, taken.user_version, taken.offsite
        await keep_within_limits(run)
        result = BackupResult(
            ok=True, path=record.path, bytes=record.bytes, sha256=record.sha256, integrity=record.integrity,
            counts=record.counts, fingerprint=record.fingerprint, user_version=user_version, free_bytes=free,
            seconds=round(run.elapsed, 3), offsite={"path": off.path, "sha256": off.sha256} if off else None,
        )
        run.table("rows per table in the backup", ["table", "rows"], [[t, n] for t, n in sorted(record.counts.items())])
        await run.done(result)
        return result
