"""The one procedure that applies a migration: shared by the preflight rehearsal and migrate.

One sqlite3 session, ``-bail`` and a busy timeout, foreign keys off, everything inside
``BEGIN IMMEDIATE … COMMIT``. The schema-drift guard, the foreign-key check, the file's own
checks and the row counts all run inside that transaction; a failing guard is an INSERT that
violates a CHECK constraint, which stops the CLI (``-bail``) before COMMIT, so SQLite rolls
the whole transaction back. Nothing is half-applied, whatever the exit code says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ops.migrations import Migration
from ops.sqlite_cli import CANON_EXPR, SqlRun, counts_fragment, emit, error_line, run_sql, sql_literal, tmp_name
from ops.targets.base import Target

log = logging.getLogger(__name__)

GUARD = "temp._opsbot_guard"
CHECKS = "temp._opsbot_checks"
COUNTS = "temp._opsbot_counts"
FK = "temp._opsbot_fk"
MAX_FK_REPORTED = 20


@dataclass(frozen=True)
class CheckResult:
    sql: str
    value: str | None

    @property
    def ok(self) -> bool:
        return self.value == "1"


@dataclass(frozen=True)
class ApplyOutcome:
    committed: bool
    failed_step: str
    error: str
    migration_line: int | None
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    checks: tuple[CheckResult, ...]
    fk_violations: tuple[str, ...]
    exit_code: int
    seconds: float
    output_seen: bool = field(default=True)
    # sqlite3 itself reported the error, so its session is over; otherwise (a dropped or killed
    # connection) the remote sqlite3 may still be running.
    sqlite_reported: bool = field(default=True)

    @property
    def ok(self) -> bool:
        return self.committed and not self.failed_step


def _guard(name: str, condition: str) -> str:
    return f"INSERT INTO {GUARD} VALUES({sql_literal(name)}, coalesce(({condition}), 0));"


def build_body(migration: Migration, *, expected_canon: str | None, tmp_before: str, tmp_after: str) -> tuple[str, int]:
    """The session's SQL, and the line (1-based, in the here-document) where the file starts."""
    head = [
        "PRAGMA foreign_keys=OFF;",
        emit("step", name="'begin'"),
        "BEGIN IMMEDIATE;",
        emit("step", name="'locked'"),
        f"CREATE TEMP TABLE {GUARD.split('.')[1]}(what TEXT, ok INTEGER CHECK (ok = 1));",
        f"CREATE TEMP TABLE {CHECKS.split('.')[1]}(i INTEGER, value);",
        f"CREATE TEMP TABLE {COUNTS.split('.')[1]}(phase TEXT, tbl TEXT, n INTEGER);",
    ]
    if expected_canon is not None:
        head += [emit("step", name="'drift'"), _guard("schema unchanged since preflight",
                                                      f"{CANON_EXPR} = {sql_literal(expected_canon)}")]
    head += [emit("step", name="'counts_before'"), counts_fragment("before", tmp_before, store=COUNTS).rstrip("\n"),
             emit("step", name="'migration'")]
    # +2: line 1 of the here-document is ".bail on"; the file starts on the line after head.
    offset = 1 + sum(part.count("\n") + 1 for part in head) + 1
    body_sql = migration.sql if migration.sql.endswith("\n") else migration.sql + "\n"
    tail = [
        ";",
        emit("step", name="'fk_check'"),
        # One scan of pragma_foreign_key_check (a full scan of every child table, inside the
        # write lock): keep what it found, then report and guard from that.
        f"CREATE TEMP TABLE {FK.split('.')[1]} AS SELECT \"table\" AS tbl, rowid AS rid, parent "
        f"FROM pragma_foreign_key_check LIMIT {MAX_FK_REPORTED};",
        f"SELECT json_object('opsbot','fk_violation','table',tbl,'rowid',rid,'parent',parent) FROM {FK};",
        _guard("foreign keys", f"NOT EXISTS (SELECT 1 FROM {FK})"),
    ]
    for i, check in enumerate(migration.checks):
        tail += [
            emit("step", name=sql_literal(f"check {i + 1}")),
            f"INSERT INTO {CHECKS} SELECT {i}, ({check.rstrip(';')});",
            f"SELECT json_object('opsbot','check','i',i,'value',value) FROM {CHECKS} WHERE i={i};",
            _guard(f"check {i + 1}", f"SELECT value = 1 FROM {CHECKS} WHERE i={i}"),
        ]
    tail += [
        emit("step", name="'counts_after'"),
        counts_fragment("after", tmp_after, store=COUNTS).rstrip("\n"),
        emit("step", name="'row_loss'"),
        _guard("no table lost rows", row_loss_condition(migration.allow_row_loss)),
        f"DROP TABLE {GUARD};",
        f"DROP TABLE {COUNTS};",
        f"DROP TABLE {FK};",
        f"DROP TABLE {CHECKS};",
        emit("step", name="'commit'"),
        "COMMIT;",
        emit("committed", ok="1"),
    ]
    return "\n".join(head) + "\n" + body_sql + "\n".join(tail) + "\n", offset


def row_loss_condition(allowed: tuple[str, ...]) -> str:
    """True when no table that exists before and after has fewer rows after.

    A dropped table is absent after and so not compared: DROP TABLE is a lint warning that
    every report shows. A migration that deletes rows on purpose names the table in
    ``-- allow-row-loss: TABLE``.
    """
    exempt = f" AND b.tbl NOT IN ({', '.join(sql_literal(t) for t in allowed)})" if allowed else ""
    return (
        f"NOT EXISTS (SELECT 1 FROM {COUNTS} b JOIN {COUNTS} a ON a.tbl = b.tbl AND a.phase = 'after' "
        f"WHERE b.phase = 'before' AND a.n < b.n{exempt})"
    )


async def apply_migration(
    target: Target,
    db: str,
    migration: Migration,
    *,
    expected_canon: str | None,
    busy_timeout_ms: int,
    timeout: float,
) -> ApplyOutcome:
    tmp_before, tmp_after = tmp_name("before"), tmp_name("after")
    body, offset = build_body(migration, expected_canon=expected_canon, tmp_before=tmp_before, tmp_after=tmp_after)
    run = await run_sql(
        target, db, body, busy_timeout_ms=busy_timeout_ms, timeout=timeout, tmpfiles=(tmp_before, tmp_after)
    )
    return outcome_from_run(run, migration, offset)


def outcome_from_run(run: SqlRun, migration: Migration, offset: int) -> ApplyOutcome:
    steps = [e["name"] for e in run.of("step")]
    committed = bool(run.of("committed"))
    failed_step = "" if committed else (steps[-1] if steps else "start")
    line = error_line(run)
    mig_line = None
    if failed_step == "migration" and line is not None:
        mig_line = line - offset + 1
    checks = tuple(
        CheckResult(migration.checks[int(e["i"])], None if e["value"] is None else str(e["value"]))
        for e in run.of("check")
    )
    fk = tuple(f"{e['table']} rowid {e['rowid']} → {e['parent']}" for e in run.of("fk_violation"))
    return ApplyOutcome(
        committed=committed,
        failed_step=failed_step,
        error="" if committed else (run.error_text or f"sqlite3 exited {run.result.exit_code} with no message"),
        migration_line=mig_line,
        counts_before={e["table"]: int(e["rows"]) for e in run.of("count") if e["phase"] == "before"},
        counts_after={e["table"]: int(e["rows"]) for e in run.of("count") if e["phase"] == "after"},
        checks=checks,
        fk_violations=fk,
        exit_code=run.result.exit_code,
        seconds=run.result.seconds,
        output_seen=bool(run.events),
        sqlite_reported=committed or line is not None or "database is locked" in run.result.stderr,
    )


def describe_failure(outcome: ApplyOutcome, migration: Migration) -> str:
    """One sentence saying where the session stopped and why."""
    step = outcome.failed_step
    if step == "connection" or (step == "start" and not outcome.sqlite_reported):
        # No word from sqlite3 itself: it may never have started, or still be running.
        return f"the migration's session ended without a result from sqlite3 (no COMMIT seen): {outcome.error}"
    if step == "start":
        return f"sqlite3 did not start the migration: {outcome.error}"
    if step == "begin":
        return f"could not get the write lock within the busy timeout (the app holds it): {outcome.error}"
    if step == "drift":
        return "the live schema no longer matches the one the preflight saw (schema drift)"
    if step == "migration":
        where = f" at line {outcome.migration_line} of {migration.name}" if outcome.migration_line else ""
        return f"a statement failed{where}: {outcome.error}"
    if step == "fk_check":
        shown = "; ".join(outcome.fk_violations[:5])
        return f"the migration leaves foreign-key violations: {shown}"
    if step == "row_loss":
        lost = [f"{t}: {outcome.counts_before[t]} → {n}" for t, n in outcome.counts_after.items()
                if t in outcome.counts_before and n < outcome.counts_before[t]]
        return ("rows would be lost (" + "; ".join(lost) + "); if that is intended, declare "
                "`-- allow-row-loss: TABLE` in the migration")
    if step.startswith("check "):
        index = int(step.split()[1]) - 1
        return f"{step} did not hold: {migration.checks[index]}"
    return f"failed at {step}: {outcome.error}"
