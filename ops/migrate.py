"""Phase 2.2 of the runbook, done right: migrate online, atomically, after a verified backup.

No scaling the app to zero (it destroys the machines: there would be nothing to ssh into, DESIGN
rule 8): the `BEGIN IMMEDIATE` transaction with a busy timeout makes the app's writers wait a
moment instead. Exit codes are not trusted (rule 7): after a failure the live schema is read
again to say whether the database is unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ops import drift, ledger, offsite, policy, promotion, retention
from ops.apply import ApplyOutcome, apply_migration, describe_failure
from ops.backup import take_backup
from ops.context import Engine, Phase, PhaseRun, Run, Step
from ops.errors import OpsError, UsageError
from ops.health import after_change
from ops.journal import BackupRecord
from ops.migrations import Migration, load
from ops.preflight import report_reading
from ops.reporter import Reporter, Status
from ops.schema import DbState, count_changes, count_rows, read_state, read_state_retrying
from ops.sqlite_cli import disk_full
from ops.targets.base import phase_timeout_text
from ops.units import short_hash

log = logging.getLogger(__name__)

MIGRATE = Phase("migrate", takes_lock=True)  # changes the database


@dataclass(frozen=True)
class MigrateResult:
    ok: bool
    migration: str
    sha256: str
    committed: bool
    database_unchanged: bool | None
    backup: str
    counts_before: dict[str, int]
    counts: dict[str, int]
    lost_rows: tuple[str, ...]
    checks: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    integrity: str
    user_version_before: int
    user_version: int
    fingerprint_before: str
    fingerprint: str
    failed_step: str
    error: str
    hint: str
    lock_seconds: float
    seconds: float
    run_id: int = 0
    manual: tuple[str, ...] = field(default=())
    tool: str = "plain"
    notes: tuple[str, ...] = ()
    allow_row_loss: tuple[str, ...] = ()
    outcome: str = ""  # done | unchanged | changed | unknown (ops.outcome.OUTCOMES)
    # The app's health right after the change (ops.health.after_change): None when not checked.
    health_ok: bool | None = None
    # The backup's second copy off the app host (ops.offsite): {"path", "sha256"}.
    offsite: dict[str, str] | None = None
    volume_snapshot: str = ""  # the platform's snapshot of the volume, when asked for (VOLUME_SNAPSHOT)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def refuse_lint_errors(migration: Migration) -> None:
    if migration.errors:
        raise OpsError(
            f"{migration.name} is refused by lint: " + "; ".join(str(f) for f in migration.errors),
            hint="Fix the file and run preflight again. Nothing ran on the app host.",
        )


def check_ready(migration: Migration, state: DbState, expected_fingerprint: str | None) -> None:
    refuse_lint_errors(migration)
    missing = [t for t in migration.requires if t not in state.tables]
    if missing:
        raise OpsError(
            f"the live database lacks tables the migration requires: {', '.join(missing)}",
            hint="Check DB_PATH points at the right database, or whether this migration already ran (`verify`).",
        )
    if expected_fingerprint and state.fingerprint != expected_fingerprint:
        raise OpsError(
            f"the live schema changed since the preflight (fingerprint {short_hash(state.fingerprint)}, "
            f"preflight saw {short_hash(expected_fingerprint)})",
            hint="Run preflight again and ask for a new approval: the approval covered the old schema.",
        )


async def run_migrate(
    engine: Engine,
    name: str,
    *,
    confirmed: bool,
    expected_fingerprint: str | None = None,
    expected_sha256: str | None = None,
    reporter: Reporter | None = None,
    actor: str = "cli",
    allow_row_loss: tuple[str, ...] = (),
    approvers: int = 1,
) -> MigrateResult:
    """``approvers``: how many distinct people approved (the CLI's --yes is one; the bot passes the
    request's count), checked against the environment's policy."""
    if not confirmed:
        raise UsageError("migrate changes the live database and needs confirmation",
                         hint="Re-run with --yes after reviewing the preflight (the bot passes its approval).")
    migration = load(engine.migrations_dir, name)
    if expected_sha256 and migration.sha256 != expected_sha256:
        raise OpsError(f"{name} changed since it was approved (sha256 {short_hash(migration.sha256)})",
                       hint="Run preflight again and ask for a new approval.")
    async with PhaseRun(engine, MIGRATE, reporter, actor, migration=migration.name,
                        sha256=migration.sha256) as run:
        # The sticky lock first: a locked environment's refusal says so, whatever else is wrong.
        await policy.ensure_not_locked(engine.journal, engine.key, engine.env_name)
        report_reading(run, migration)
        for warning in migration.warnings:
            run.step("lint", Status.WARNING, str(warning))
        # A file lint refuses never reaches the host, not even for a read.
        refuse_lint_errors(migration)
        await ledger.ensure_not_applied(engine.journal, engine.key, migration, engine.env_name)
        policy.ensure_open(engine.policy, engine.env_name)
        policy.ensure_enough_approvers(engine.policy, engine.env_name, migration, allow_row_loss, approvers)
        await promotion.required_success(engine, migration)
        async with Step(run, "check tables", "tables exist, schema matches the preflight") as step:
            before = await read_state(engine.target, engine.db_path, counts=False,
                                      busy_timeout_ms=engine.busy_timeout_ms)
            check_ready(migration, before, expected_fingerprint)
            step.detail = f"schema {short_hash(before.fingerprint)}, user_version {before.user_version}"
        # The backup, verified, and a second copy off the app host before anything changes (a lost
        # volume keeps a way back): the copy is fetched beside the verification.
        record, off = await _verified_backup(run, migration)
        snapshot = await _volume_snapshot(run)
        run.outcome_on_error = "unknown"  # from here until the database says otherwise
        async with Step(run, "apply", "one transaction: the file, its checks, then commit") as step:
            try:
                outcome = await apply_migration(
                    engine.target, engine.db_path, migration, before=before, allow_row_loss=allow_row_loss,
                    busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
            except OpsError as exc:
                # the target timed out, or the host could not be reached: the session's fate is
                # unknown here (rule 7), so it is judged below from the database itself.
                outcome = lost_outcome(phase_timeout_text(exc, engine.phase_timeout_s))
            if not outcome.committed:
                step.fail(describe_failure(outcome, migration))
        attempt = Attempt(migration, before, record.path, migration.row_loss_allowed(allow_row_loss))
        recorded = False
        if outcome.committed:
            # Applied: the ledger says so at once, before anything after the COMMIT can fail or be
            # killed (ops.ledger); the schema it left is added once read.
            await ledger.record(engine.journal, engine.key, migration, run_id=run.run_id, actor=actor,
                                fingerprint_before=before.fingerprint, fingerprint_after="")
            recorded = True
            result = await _after_commit(run, attempt, outcome)
        else:
            result = await _after_failure(run, attempt, outcome)
        if result.committed:  # found applied after a failure too: the database said so
            if not recorded:
                await ledger.record(engine.journal, engine.key, migration, run_id=run.run_id, actor=actor,
                                    fingerprint_before=before.fingerprint, fingerprint_after="")
            await ledger.set_schema_after(engine.journal, run.run_id, result.fingerprint)
            await _move_drift_baseline(engine, before)
        run.table("rows per table", ["table", "before", "after", "change", ""],
                  count_rows(count_changes(result.counts_before, result.counts)))
        result = replace(result, offsite={"path": off.path, "sha256": off.sha256}, volume_snapshot=snapshot)
        await retention.keep_within_limits(run)
        await run.done(result)
        return result


async def _move_drift_baseline(engine: Engine, before: DbState) -> None:
    """The drift watch's baseline follows opsbot's own change (ops.drift.after_change)."""
    try:
        after = await read_state(engine.target, engine.db_path, counts=False, busy_timeout_ms=engine.busy_timeout_ms)
    except OpsError as exc:  # the next drift check compares with the last baseline instead
        log.warning("could not read the schema for the drift watch after the migration: %s", exc.message)
        return
    await drift.after_change(engine, before, after)


async def _volume_snapshot(run: Run) -> str:
    """The platform's own snapshot of the volume, when VOLUME_SNAPSHOT asks for one: one more way
    back beside opsbot's backups. Failing to get it stops nothing: it is said, and the run goes on."""
    if not run.engine.settings.engine.volume_snapshot:
        return ""
    try:
        done = await run.engine.target.snapshot_volume() or "this target has no volumes to snapshot"
    except OpsError as exc:
        run.step("volume snapshot", Status.WARNING, f"not taken: {exc.message} (opsbot's own backups are kept)")
        return ""
    run.step("volume snapshot", Status.DONE, done)
    return done


@dataclass(frozen=True)
class Attempt:
    """What every end of one migrate run shares: the file, the database before it, the backup."""

    migration: Migration
    before: DbState
    backup: str
    allow_row_loss: tuple[str, ...]  # the file's and the operator's, together

    def result(self, run: Run, *, ok: bool, outcome: str, committed: bool, database_unchanged: bool | None,
               counts_before: dict[str, int], counts: dict[str, int], user_version: int, fingerprint: str,
               failed_step: str, error: str, hint: str, lost_rows: tuple[str, ...] = (),
               checks: tuple[dict[str, Any], ...] = (), integrity: str = "", lock_seconds: float = 0.0,
               ) -> MigrateResult:
        """The one place a MigrateResult is made: the keywords are what this end found."""
        m = self.migration
        return MigrateResult(
            ok=ok, outcome=outcome, migration=m.name, sha256=m.sha256, committed=committed,
            database_unchanged=database_unchanged, backup=self.backup, counts_before=counts_before, counts=counts,
            lost_rows=lost_rows, checks=checks, warnings=tuple(str(w) for w in m.warnings), integrity=integrity,
            user_version_before=self.before.user_version, user_version=user_version,
            fingerprint_before=self.before.fingerprint, fingerprint=fingerprint, failed_step=failed_step,
            error=error, hint=hint, lock_seconds=lock_seconds, seconds=round(run.elapsed, 3), run_id=run.run_id,
            manual=m.manual, tool=m.tool, notes=m.notes, allow_row_loss=self.allow_row_loss,
        )


def _checks(outcome: ApplyOutcome) -> tuple[dict[str, Any], ...]:
    return tuple({"sql": c.sql, "ok": c.ok, "value": c.value} for c in outcome.checks)


def backup_label(migration: Migration) -> str:
    """The backup's label: the file's stem, cut to the 64 characters a label may have."""
    return migration.path.stem[:64]


async def _verified_backup(run: Run, migration: Migration) -> tuple[BackupRecord, offsite.Offsite]:
    """No verified backup with its off-host copy, no migration: say so, whatever stopped them."""
    try:
        taken = await take_backup(run, backup_label(migration), offsite=True)
    except offsite.OffsiteFailed:
        raise
    except OpsError as exc:
        raise OpsError(f"the migration did not run, because the backup failed: {exc.message}",
                       hint=f"{exc.hint} The database was not changed.".strip()) from exc
    assert taken.offsite is not None  # asked for: take_backup made it or raised
    return taken.record, taken.offsite


def lost_outcome(error: str) -> ApplyOutcome:
    """The outcome of a session whose end was not seen (timeout, unreachable host)."""
    return ApplyOutcome(committed=False, failed_step="connection", error=error, migration_line=None,
                        counts_before={}, counts_after={}, checks=(), fk_violations=(), exit_code=-1,
                        seconds=0.0, sqlite_reported=False)


async def _after_commit(run: Run, attempt: Attempt, outcome: ApplyOutcome) -> MigrateResult:
    engine, backup = run.engine, attempt.backup
    run.outcome_on_error = "changed"  # the session reported COMMIT: whatever fails now, it is migrated
    error = hint = ""
    async with Step(run, "verify", "integrity_check, foreign keys, counts") as step:
        # foreign_key_check already ran inside the transaction, before COMMIT.
        try:
            after = await read_state_retrying(engine.target, engine.db_path, integrity="full", counts=False,
                                              fk=False, busy_timeout_ms=engine.busy_timeout_ms,
                                              delays=engine.read_retry_delays, timeout=engine.phase_timeout_s)
        except OpsError as exc:
            after = None
            error = f"the migration committed, but the database could not be read afterwards: {exc.message}"
            hint = (f"The migration IS applied (the session reported COMMIT). When the host answers, run verify "
                    f"to check integrity; to undo, roll back to {backup}.")
            step.fail(exc.message)
        else:
            step.detail = f"integrity {after.integrity}, user_version {after.user_version}"
            if after.integrity != "ok":
                error = f"the migration committed, but integrity_check failed afterwards: {after.integrity[:300]}"
                hint = f"Roll back to {backup} now (`rollback --yes`), then investigate."
                step.fail(f"integrity {after.integrity[:200]}")
    changes = count_changes(outcome.counts_before, outcome.counts_after)
    return attempt.result(
        run, ok=not error, outcome="changed" if error else "done", committed=True, database_unchanged=False,
        counts_before=outcome.counts_before, counts=outcome.counts_after,
        lost_rows=tuple(c.table for c in changes if c.lost_rows), checks=_checks(outcome),
        integrity=after.integrity if after else "", user_version=after.user_version if after else -1,
        fingerprint=after.fingerprint if after else "", failed_step="verify" if error else "", error=error,
        hint=hint or f"To undo: rollback to {backup} (writes made after it are lost).",
        lock_seconds=round(outcome.seconds, 3),
    )


async def _after_failure(run: Run, attempt: Attempt, outcome: ApplyOutcome) -> MigrateResult:
    """The session did not report COMMIT. Read the database again instead of trusting that."""
    engine, before, backup = run.engine, attempt.before, attempt.backup
    reason = describe_failure(outcome, attempt.migration)
    try:
        async with Step(run, "confirm unchanged", "re-read the live schema") as step:
            # Wait out a remote sqlite3 that may still run after a dropped connection (rule 7).
            wait = not outcome.sqlite_reported
            now = await read_state_retrying(
                engine.target, engine.db_path, counts=True, after_writers=wait, timeout=engine.phase_timeout_s,
                busy_timeout_ms=int(engine.phase_timeout_s * 1000) if wait else engine.busy_timeout_ms,
                delays=engine.read_retry_delays,
            )
            unchanged = now.fingerprint == before.fingerprint and now.user_version == before.user_version
            if unchanged:
                step.detail = "database unchanged"
            else:
                step.fail("THE SCHEMA CHANGED")
    except OpsError as exc:
        return _unknown_result(run, attempt, outcome, reason, exc)
    if unchanged:
        hint = _unchanged_hint(outcome, engine.busy_timeout_ms, engine.target.grow_volume_text())
    else:
        hint = (f"The database changed although the run did not confirm COMMIT (the connection may have "
                f"dropped while the remote command finished). Run verify now; to undo, roll back to {backup}.")
    return attempt.result(
        run, ok=False, outcome="unchanged" if unchanged else "changed", committed=not unchanged,
        database_unchanged=unchanged, counts_before=outcome.counts_before or now.counts, counts=now.counts,
        checks=_checks(outcome), user_version=now.user_version, fingerprint=now.fingerprint,
        failed_step=outcome.failed_step, error=reason, hint=hint, lock_seconds=round(outcome.seconds, 3),
    )


def _unchanged_hint(outcome: ApplyOutcome, busy_timeout_ms: int, grow_volume: str) -> str:
    """What to do next depends on why the session stopped; the database is as it was either way."""
    checked = "The database is exactly as it was (read again after the failure)."
    if disk_full(outcome.error):
        return (f"{checked} The app host's volume ran out of space while the migration wrote: nothing of it was "
                f"kept. Delete old backups (`backups` lists them) or {grow_volume}, then run the migration again.")
    if outcome.failed_step == "begin":
        return (f"{checked} The app held the write lock longer than the busy timeout ({busy_timeout_ms} ms). "
                "Retry in a quieter moment, or raise BUSY_TIMEOUT_MS (the app's writers wait that long).")
    if not outcome.sqlite_reported:
        return (f"{checked} The connection to the app host failed before the migration committed. Check "
                "the host (`status`), then run the migration again.")
    return f"{checked} The transaction was rolled back. Fix the migration, run preflight again, then retry."


def _unknown_result(run: Run, attempt: Attempt, outcome: ApplyOutcome, reason: str, exc: OpsError) -> MigrateResult:
    """Neither COMMIT nor the state afterwards could be seen: say exactly that, and what settles it."""
    before, backup = attempt.before, attempt.backup
    return attempt.result(
        run, ok=False, outcome="unknown", committed=False, database_unchanged=None, counts_before={}, counts={},
        user_version=-1, fingerprint="", failed_step=outcome.failed_step,
        error=f"{reason}; and the database could not be read afterwards"
              + (" either (the same error)" if exc.message in reason else f": {exc.message}"),
        hint=(f"Whether the migration committed is NOT known yet. It is one transaction: the database is "
              f"either fully migrated or untouched, never half. When the host answers, run verify: "
              f"user_version {before.user_version} and schema {short_hash(before.fingerprint)} mean untouched; "
              f"anything else means it committed, and rollback to {backup} undoes it."),
    )


async def migrate_and_check(engine: Engine, name: str, *, reporter: Reporter, **options: Any) -> MigrateResult:
    """A migration, then the app's health when it committed: what the CLI and an approved request
    both run (the result carries ``health_ok``)."""
    result = await run_migrate(engine, name, reporter=reporter, **options)
    if not result.ok:
        return result
    return replace(result, health_ok=await after_change(engine.settings.health, reporter))
