"""Phase 1 of the runbook, done right: rehearse the migration on a consistent copy.

The runbook's `fly ssh sftp get /data/app.db` copies a live WAL database file and can miss
every commit still in `-wal` (DESIGN rule 1). Instead: `.backup` on the host into a snapshot,
download that, check it arrived whole (sha256), then run exactly the procedure `migrate`
uses (ops.apply) on the copy, here.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops import hostfs, ledger, policy, promotion
from ops.apply import apply_migration, describe_failure
from ops.backup import ensure_space, mmap_for, snapshot
from ops.context import Engine, Phase, PhaseRun, Run, Step
from ops.errors import OpsError
from ops.held_read import held_read
from ops.journal import PreflightRecord
from ops.migrations import Migration, load, parse_version
from ops.outcome import DONE, UNCHANGED
from ops.reporter import Reporter, Status
from ops.schema import DbState, count_changes, count_rows, diff_states, read_state
from ops.sqlite_cli import sh_quote
from ops.tables import rebuilt
from ops.targets.base import run_argv
from ops.targets.local import LocalTarget
from ops.units import short_hash, size

log = logging.getLogger(__name__)

PREFLIGHT = Phase("preflight", takes_lock=False)  # reads a consistent snapshot and rehearses here


@dataclass(frozen=True)
class PreflightResult:
    ok: bool
    migration: str
    sha256: str
    fingerprint: str
    lint: tuple[str, ...]
    version_warnings: tuple[str, ...]
    host_sqlite: str
    local_sqlite: str
    schema_diff: tuple[str, ...]
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    lost_rows: tuple[str, ...]
    checks: tuple[dict[str, Any], ...]
    integrity_before: str
    integrity_after: str
    fk_violations: tuple[str, ...]
    user_version_before: int
    user_version_after: int
    error: str
    seconds: float
    run_id: int = 0
    manual: tuple[str, ...] = ()
    tool: str = "plain"
    notes: tuple[str, ...] = ()  # what was normalised: the file as written vs what runs
    allow_row_loss: tuple[str, ...] = ()  # the operator's and the file's, together
    rebuilt: tuple[str, ...] = ()  # tables dropped and created again under the same name
    # When the environment promotes from another: that run, and the tables whose row change differs.
    promoted_from: dict[str, Any] | None = None
    canon: str = field(default="", repr=False)  # the schema text the fingerprint hashes

    @property
    def outcome(self) -> str:
        return DONE if self.ok else UNCHANGED  # a rehearsal on a copy: the live database is only read

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("canon")
        return data


def version_warnings(migration: Migration, host: str, local: str) -> tuple[list[str], list[str]]:
    """(errors, warnings): a feature the host's sqlite3 lacks fails the migration there."""
    errors, warnings = [], []
    for needed, feature in migration.needs_version():
        label = ".".join(map(str, needed))
        if parse_version(host) < needed:
            errors.append(f"{feature} needs sqlite {label}+, the app host has {host}")
        elif parse_version(local) < needed:
            warnings.append(f"{feature} needs sqlite {label}+; the rehearsal here ran on {local}")
    if parse_version(host)[:2] != parse_version(local)[:2]:
        warnings.append(f"sqlite3 differs: host {host}, here {local}; the rehearsal may not match the host exactly")
    return errors, warnings


async def compress_on_host(run: Run, remote: str, packed: str) -> int:
    """zstd -1 the snapshot on the host for the transfer (SQLite files shrink several-fold) when
    both sides have zstd; the bytes to send, or 0 to send it as it is. The sha256 that decides is
    the uncompressed file's, compared after it is unpacked here."""
    engine = run.engine
    if not engine.settings.engine.compress_transfer or not shutil.which("zstd"):
        return 0
    # The compressed file is written beside the snapshot, on the app's volume: only when it fits
    # even uncompressed, so a "read-only" preflight never fills the volume the app writes to.
    snap = (await hostfs.sizes(engine.target, remote)).get(remote, 0)
    free = await hostfs.free_bytes(engine.target, remote)
    if free < int(snap * engine.free_space_margin) + 1024 * 1024:
        run.step("compress", Status.WARNING, f"no room to compress on the host ({size(free)} free): sent as it is")
        return 0
    script = (f"command -v zstd >/dev/null 2>&1 || exit 3; zstd -1 -q -f -o {sh_quote(packed)} -- "
              f"{sh_quote(remote)} && wc -c < {sh_quote(packed)}")
    result = await engine.target.sh(script, timeout=engine.phase_timeout_s)
    if result.exit_code == 3:
        return 0  # the host has no zstd: sent as it is
    if not result.ok or not result.stdout.strip().isdigit():
        run.step("compress", Status.WARNING, "zstd failed on the host; the snapshot is sent uncompressed")
        try:
            await hostfs.remove(engine.target, packed)
        except OpsError as exc:
            log.warning("could not remove %s: %s", packed, exc.message)
        return 0
    sent = int(result.stdout.strip())
    run.step("compress", Status.DONE, f"zstd -1 on the host: {size(sent)} to send")
    return sent


async def fetch_compressed(engine: Engine, packed: str, dest: Path) -> None:
    """Fetch the compressed snapshot and unpack it into ``dest``; a transfer that arrived damaged
    fails here or at the sha256 check after."""
    local_packed = dest.with_name(dest.name + ".zst")
    await engine.target.fetch(packed, local_packed, timeout=engine.phase_timeout_s)
    try:
        done = await run_argv(["zstd", "-d", "-q", "-f", "-o", str(dest), "--", str(local_packed)],
                              timeout=engine.phase_timeout_s, what="unpacking the snapshot",
                              hint="Run preflight again.")
    finally:
        local_packed.unlink(missing_ok=True)
    if not done.ok:
        dest.unlink(missing_ok=True)
        raise OpsError(f"the downloaded snapshot is damaged (zstd: {done.stderr.strip()[:200]})",
                       hint="The transfer was cut short; run preflight again.")


async def download_snapshot(run: Run, dest: Path) -> None:
    """`.backup` on the host, check space first, fetch, compare sha256, delete the host copy.
    When the app host is this machine, `.backup` writes straight into ``dest``: there is nothing
    to transfer, so no second copy and no second hash."""
    engine = run.engine
    if engine.target.here:
        await ensure_space(run, engine.db_path, str(dest.parent))
        await snapshot(run, engine.db_path, str(dest), step_name="snapshot")
        return
    remote = f"{engine.db_path}.opsbot-snapshot-{secrets.token_hex(6)}"
    packed = remote + ".zst"
    await ensure_space(run, engine.db_path, remote)
    try:
        await snapshot(run, engine.db_path, remote, step_name="snapshot")
        compressed = await compress_on_host(run, remote, packed)
        async with Step(run, "download", f"{remote} → {dest.name}") as step:
            # Hash on the host while the file travels: both only read the finished snapshot.
            hashing = asyncio.ensure_future(hostfs.facts(engine.target, remote))
            try:
                if compressed:
                    await fetch_compressed(engine, packed, dest)
                else:
                    await engine.target.fetch(remote, dest, timeout=engine.phase_timeout_s)
            except BaseException as exc:
                # A failed download must not leave the hash running while the snapshot is removed.
                hashing.cancel()
                await asyncio.gather(hashing, return_exceptions=True)
                if isinstance(exc, OpsError):
                    raise OpsError(f"the snapshot could not be downloaded: {exc.message}",
                                   hint="Preflight only reads the live database: it is unchanged. The snapshot "
                                        "on the host and any partial download are removed. Check the connection "
                                        "(`status`), then run preflight again.") from exc
                raise
            remote_facts = await hashing
            local_facts = await asyncio.to_thread(hostfs.local_facts, str(dest))
            if local_facts.sha256 != remote_facts.sha256:
                raise OpsError(
                    f"the downloaded snapshot is damaged (sha256 {short_hash(local_facts.sha256)}, "
                    f"host {short_hash(remote_facts.sha256)}, {local_facts.bytes}/{remote_facts.bytes} bytes)",
                    hint="The transfer was cut short; run preflight again.",
                )
            step.detail = f"{size(remote_facts.bytes)}, sha256 matches" + (
                f" (sent zstd-compressed: {size(compressed)})" if compressed else "")
    finally:
        try:
            await hostfs.remove(engine.target, remote, packed)
        except OpsError as exc:  # keep the original error; this one is only housekeeping
            log.warning("could not remove the snapshot %s: %s", remote, exc.message)


def report_reading(run: Run, migration: Migration) -> None:
    """Every report says how the file was read: its tool, what was normalised, lint's findings."""
    if migration.tool != "plain":
        run.step("read file", Status.DONE, f"{migration.tool} migration")
    for note in migration.notes:
        run.step("normalised", Status.DONE, note)
    for table in rebuilt(migration.effects):
        run.step("rebuilt", Status.DONE, f"{table} is dropped and created again: its rows before and after are "
                                         "compared under the same name")


async def run_preflight(
    engine: Engine, name: str, *, reporter: Reporter | None = None, actor: str = "cli", keep: bool = False,
    allow_row_loss: tuple[str, ...] = (),
) -> PreflightResult:
    migration = load(engine.migrations_dir, name)
    async with PhaseRun(engine, PREFLIGHT, reporter, actor, migration=migration.name,
                        sha256=migration.sha256) as run:
        report_reading(run, migration)
        for finding in migration.findings:
            run.step("lint", Status.FAILED if finding.level == "error" else Status.WARNING, str(finding))
        # The ledger: an applied migration is not rehearsed again; edits and order are flagged.
        # A rehearsal is not stopped by the sticky lock, but a refusal on a locked environment says it.
        async with policy.refusals_say_the_lock(engine.journal, engine.key, engine.env_name):
            await ledger.ensure_not_applied(engine.journal, engine.key, migration, engine.env_name)
            said = ledger.warnings(await ledger.pending_report(engine.journal, engine.key, engine.env_name,
                                                               engine.migrations_dir))
            for warning in said:
                run.step("ledger", Status.WARNING, warning)
            source = await promotion.required_success(engine, migration)  # refused when it has not
        if migration.errors:
            # A file lint refuses can never run: nothing of it goes near the host.
            result = _refused(migration, run)
        else:
            workdir = engine.work_dir / f"preflight-{run.run_id}-{int(time.time())}"
            workdir.mkdir(parents=True, exist_ok=True)
            try:
                result = await _rehearse(run, migration, workdir, allow_row_loss)
            finally:
                if not keep:
                    shutil.rmtree(workdir, ignore_errors=True)
        promoted = None
        if source is not None and result.ok:
            differs = promotion.row_change_differences(source, result.counts_before, result.counts_after)
            run.step("promotion", Status.WARNING if differs else Status.DONE,
                     "; ".join(differs) if differs else
                     f"the row changes match {source.from_env}'s run #{source.run_id}")
            promoted = {"env": source.from_env, "run_id": source.run_id, "row_changes_differ": differs}
        result = PreflightResult(**{**asdict(result), "run_id": run.run_id, "tool": migration.tool,
                                    "promoted_from": promoted,
                                    "notes": migration.notes, "rebuilt": tuple(rebuilt(migration.effects)),
                                    "allow_row_loss": migration.row_loss_allowed(allow_row_loss),
                                    "lint": tuple(result.lint) + tuple(f"ledger: {w}" for w in said)})
        await engine.journal.record_preflight(engine.key, PreflightRecord(
            run.run_id, migration.name, migration.sha256, result.fingerprint, result.canon, result.ok, time.time()))
        await run.done(result)
        return result


async def _rehearse(run: Run, migration: Migration, workdir: Path,
                    allow_row_loss: tuple[str, ...]) -> PreflightResult:
    engine, local = run.engine, LocalTarget()
    async with Step(run, "sqlite versions") as step:
        host_v = await hostfs.sqlite_version(engine.target)
        local_v = await hostfs.sqlite_version(local)
        v_errors, v_warnings = version_warnings(migration, host_v, local_v)
        step.detail = f"host {host_v}, here {local_v}"
    for w in v_warnings:
        run.step("sqlite versions", Status.WARNING, w)
    copy = workdir / "snapshot.db"
    await download_snapshot(run, copy)
    mmap = await mmap_for(local, str(copy))
    schema = await read_state(local, str(copy), counts=False, fk=False)
    if schema.journal_mode != "wal":  # a reader would hold the rehearsal's COMMIT: one after the other
        before = await _inspect_copy(run, copy, mmap)
        return await _rehearse_and_inspect(run, migration, copy, before, before, mmap, host_v, local_v, v_errors,
                                           v_warnings, allow_row_loss)
    # The check of the copy as it was runs beside the rehearsal, in a read transaction opened first
    # (ops.held_read): its integrity_check no longer comes before everything else.
    run.step("inspect copy", Status.RUNNING, "schema, counts, integrity_check (beside the rehearsal)")
    asked: list[bool] = []  # once the check is awaited, _copy_checked reports the step, done or failed
    try:
        async with held_read(copy, integrity="full", mmap_bytes=mmap, busy_timeout_ms=engine.busy_timeout_ms,
                             timeout=engine.phase_timeout_s) as copy_as_it_was:

            async def as_it_was() -> DbState:
                asked.append(True)
                return await copy_as_it_was()

            return await _rehearse_and_inspect(run, migration, copy, schema, as_it_was, mmap, host_v, local_v,
                                               v_errors, v_warnings, allow_row_loss)
    except BaseException:
        if not asked:  # the step is never left running: the phase stopped before the check was read
            run.step("inspect copy", Status.FAILED, "not finished: the preflight stopped")
        raise


async def _inspect_copy(run: Run, copy: Path, mmap: int) -> DbState:
    async with Step(run, "inspect copy", "schema, counts, integrity_check") as step:
        before = await read_state(LocalTarget(), str(copy), integrity="full", fk=False, mmap_bytes=mmap)
        step.detail = _copy_detail(before)
        if before.integrity != "ok":
            step.fail(step.detail)
    return before


def _copy_detail(before: DbState) -> str:
    return f"{sum(before.counts.values())} rows in {len(before.counts)} tables, integrity {before.integrity}"


async def _copy_checked(run: Run, before: DbState | Callable[[], Awaitable[DbState]]) -> DbState:
    """The check of the copy before the rehearsal: done already, or read beside it (said now)."""
    if isinstance(before, DbState):
        return before
    try:
        state = await before()
    except OpsError as exc:
        run.step("inspect copy", Status.FAILED, exc.message)
        raise
    run.step("inspect copy", Status.DONE if state.integrity == "ok" else Status.FAILED, _copy_detail(state))
    return state


async def _rehearse_and_inspect(run: Run, migration: Migration, copy: Path, schema: DbState,
                                checked: DbState | Callable[[], Awaitable[DbState]], mmap: int, host_v: str,
                                local_v: str, v_errors: list[str], v_warnings: list[str],
                                allow_row_loss: tuple[str, ...]) -> PreflightResult:
    """The rehearsal on the copy (planned from ``schema``, the copy before it) and the check of its
    result; ``checked`` is the copy's own check, or the read of it running beside."""
    engine, local = run.engine, LocalTarget()
    errors = [str(f) for f in migration.errors] + v_errors
    missing = [t for t in migration.requires if t not in schema.tables]
    if missing:
        errors.append(f"tables the migration requires are missing: {', '.join(missing)}")
    if errors:
        before = await _copy_checked(run, checked)
        return _result(migration, before, before, host_v, local_v, v_warnings, (), "; ".join(errors), run)
    async with Step(run, "rehearse", "the migrate procedure on the copy") as step:
        outcome = await apply_migration(local, str(copy), migration, before=schema, allow_row_loss=allow_row_loss,
                                        busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
        if not outcome.committed:
            step.fail(describe_failure(outcome, migration))
    after: DbState | None = None
    if outcome.committed:
        async with Step(run, "inspect result", "schema, integrity_check, foreign keys") as step:
            # The rehearsal's transaction already ran foreign_key_check before COMMIT.
            after = await read_state(local, str(copy), integrity="full", fk=False, mmap_bytes=mmap)
            step.detail = f"integrity {after.integrity}, {len(outcome.fk_violations)} foreign-key violations"
            if after.integrity != "ok":
                step.fail(step.detail)
    before = await _copy_checked(run, checked)
    after = after or before
    error = "" if outcome.committed else describe_failure(outcome, migration)
    if outcome.committed and after.integrity != "ok":
        error = f"integrity_check failed after the rehearsal: {after.integrity[:200]}"
    if before.integrity != "ok":  # the copy itself: the live database may be damaged
        error = f"integrity_check of the copy failed: {before.integrity[:200]}"
    checks = tuple({"sql": c.sql, "ok": c.ok, "value": c.value} for c in outcome.checks)
    result = _result(migration, before, after, host_v, local_v, v_warnings, checks, error, run,
                     outcome.counts_after or None, outcome.fk_violations)
    run.table("rows per table (rehearsal)", ["table", "before", "after", "change", ""],
              count_rows(count_changes(result.counts_before, result.counts_after)))
    return result


def _refused(migration: Migration, run: Run) -> PreflightResult:
    error = f"{migration.name} is refused by lint: " + "; ".join(str(f) for f in migration.errors)
    return PreflightResult(
        ok=False, migration=migration.name, sha256=migration.sha256, fingerprint="",
        lint=tuple(str(f) for f in migration.findings), version_warnings=(), host_sqlite="", local_sqlite="",
        schema_diff=(), counts_before={}, counts_after={}, lost_rows=(), checks=(), integrity_before="",
        integrity_after="", fk_violations=(), user_version_before=0, user_version_after=0,
        error=error + " (nothing ran on the app host; fix the file and run preflight again)",
        seconds=round(run.elapsed, 3), manual=migration.manual,
    )


def _result(migration: Migration, before: DbState, after: DbState, host_v: str, local_v: str,
            v_warnings: list[str], checks: tuple[dict[str, Any], ...], error: str, run: Run,
            counts_after: dict[str, int] | None = None, fk: tuple[str, ...] = ()) -> PreflightResult:
    after_counts = counts_after if counts_after is not None else after.counts
    changes = count_changes(before.counts, after_counts)
    return PreflightResult(
        ok=not error, migration=migration.name, sha256=migration.sha256, fingerprint=before.fingerprint,
        lint=tuple(str(f) for f in migration.findings), version_warnings=tuple(v_warnings),
        host_sqlite=host_v, local_sqlite=local_v, schema_diff=tuple(diff_states(before, after).lines()),
        counts_before=before.counts, counts_after=after_counts,
        lost_rows=tuple(c.table for c in changes if c.lost_rows),
        checks=checks, integrity_before=before.integrity, integrity_after=after.integrity, fk_violations=fk,
        user_version_before=before.user_version, user_version_after=after.user_version, error=error,
        seconds=round(run.elapsed, 3), manual=migration.manual, canon=before.canon,
    )
