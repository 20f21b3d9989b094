"""The one procedure that applies a migration: shared by the preflight rehearsal and migrate.

One sqlite3 session in the CLI's ``-safe`` mode, ``-bail`` and a busy timeout, foreign keys
off, everything inside ``BEGIN IMMEDIATE … COMMIT``. The schema-drift guard, the foreign-key
check, the file's own checks, the predicted table list and the row counts all run inside that
transaction; a failing guard is an INSERT that violates a NOT NULL constraint, which stops the
CLI (``-bail``) before COMMIT, so SQLite rolls the whole transaction back. Nothing is
half-applied, whatever the exit code says. The file's statements are the ones lint kept
(``Migration.statements``), each as written, so what runs is what the report shows.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ops import fk_check
from ops.migrations import Migration
from ops.schema import DbState
from ops.sqlite_cli import (
    CANON_EXPR,
    USER_TABLE_SQL,
    SqlRun,
    busy,
    emit,
    error_line,
    event_sql,
    run_sql,
    sql_ident,
    sql_literal,
)
from ops.sqltext import ascii_lower, tokenize, without_comments
from ops.tables import predict, user_tables
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
    # sqlite3 itself reported the error, so its session is over; otherwise (a dropped or killed
    # connection) the remote sqlite3 may still be running.
    sqlite_reported: bool = field(default=True)
    tables_after: tuple[str, ...] = ()
    tables_predicted: tuple[str, ...] = ()
    # child tables whose foreign key was checked through their index (ops.fk_check)
    fk_indexed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.committed and not self.failed_step


def _guard(name: str, condition: str) -> str:
    # NOT NULL, not CHECK: no pragma (ignore_check_constraints) can switch a NOT NULL off.
    return f"INSERT INTO {GUARD} VALUES({sql_literal(name)}, nullif(coalesce(({condition}), 0), 0));"


@dataclass(frozen=True)
class Session:
    """The session's SQL, and where each of the file's statements sits in it (for error lines)."""

    body: str
    statement_lines: tuple[tuple[int, int], ...]  # (line in the here-document, line in the file)
    tables_after: tuple[str, ...]


def _count_into(phase: str, tables: list[str]) -> list[str]:
    """Static counts (the CLI's -safe mode allows no generated SQL): one INSERT per table."""
    return [f"INSERT INTO {COUNTS} SELECT {sql_literal(phase)}, name, (SELECT count(*) FROM {sql_ident(t)}) "
            f"FROM sqlite_master WHERE type='table' AND lower(name) = lower({sql_literal(t)});" for t in tables] + [
        f"SELECT {event_sql('count', CountFields.format(phase=sql_literal(phase)))} FROM {COUNTS} "
        f"WHERE phase={sql_literal(phase)} ORDER BY tbl;"]


CountFields = "'phase',phase,'table',tbl,'rows',n"
LIVE_TABLES = (f"(SELECT coalesce(group_concat(n, char(31)), '') FROM (SELECT lower(m.name) AS n FROM sqlite_master m "
               f"WHERE {USER_TABLE_SQL} ORDER BY 1))")


def build_session(migration: Migration, before: DbState, *, allow_row_loss: tuple[str, ...] = ()) -> Session:
    """The whole sqlite3 session: guards and counts around the file's statements, one transaction."""
    predicted = predict(before.table_infos, migration.effects)
    tables_after = user_tables(predicted)
    indexed = fk_check.indexed_keys(before, migration, predicted)
    head = [
        "PRAGMA foreign_keys=OFF;",
        emit("step", name="'begin'"),
        "BEGIN IMMEDIATE;",
        emit("step", name="'locked'"),
        f"CREATE TEMP TABLE {GUARD.split('.')[1]}(what TEXT, ok INTEGER NOT NULL);",
        f"CREATE TEMP TABLE {CHECKS.split('.')[1]}(i INTEGER, value);",
        f"CREATE TEMP TABLE {COUNTS.split('.')[1]}(phase TEXT, tbl TEXT, n INTEGER);",
        emit("step", name="'drift'"),
        _guard("schema unchanged since preflight", f"{CANON_EXPR} = {sql_literal(before.canon)}"),
        emit("step", name="'counts_before'"),
        *_count_into("before", before.counted),
        emit("step", name="'migration'"),
    ]
    lines: list[str] = list(head)
    placed: list[tuple[int, int]] = []
    at = sum(part.count("\n") + 1 for part in lines) + 2  # line 1 of the here-document is ".bail on"
    for stmt in migration.statements:
        placed.append((at, stmt.line))
        lines.append(stmt.text)
        at += stmt.text.count("\n") + 1
    expected = chr(31).join(sorted(ascii_lower(t) for t in tables_after))
    lines += [
        emit("step", name="'fk_check'"),
        # pragma_foreign_key_check's rows, inside the write lock: through the child's index where
        # that is exact (ops.fk_check), the pragma itself everywhere else.
        *fk_check.check_sql(indexed, FK, MAX_FK_REPORTED),
        f"SELECT {event_sql('fk_violation', FkFields)} FROM {FK};",
        *([f"SELECT {event_sql('fk_indexed', FkPlanFields)} FROM {fk_check.PLAN} WHERE fast ORDER BY tbl;"]
          if indexed else []),
        _guard("foreign keys", f"NOT EXISTS (SELECT 1 FROM {FK})"),
    ]
    for i, check in enumerate(migration.checks):
        lines += [
            emit("step", name=sql_literal(f"check {i + 1}")),
            f"INSERT INTO {CHECKS} SELECT {i}, (\n{check_sql(check)}\n);",
            f"SELECT {event_sql('check', CheckFields)} FROM {CHECKS} WHERE i={i};",
            _guard(f"check {i + 1}", f"SELECT value = 1 FROM {CHECKS} WHERE i={i}"),
        ]
    lines += [
        emit("step", name="'tables'"),
        emit("tables_after", names=LIVE_TABLES),
        _guard("tables as predicted", f"{LIVE_TABLES} = {sql_literal(expected)}"),
        emit("step", name="'counts_after'"),
        *_count_into("after", tables_after),
        emit("step", name="'row_loss'"),
        _guard("no table lost rows", row_loss_condition(migration.row_loss_allowed(allow_row_loss))),
        f"DROP TABLE {GUARD};",
        f"DROP TABLE {COUNTS};",
        f"DROP TABLE {FK};",
        f"DROP TABLE {CHECKS};",
        *fk_check.cleanup_sql(indexed),
        emit("step", name="'commit'"),
        "COMMIT;",
        emit("committed", ok="1"),
    ]
    return Session("\n".join(lines) + "\n", tuple(placed), tuple(tables_after))


FkFields = "'table',tbl,'rowid',rid,'parent',parent"
FkPlanFields = "'table',tbl"
CheckFields = "'i',i,'value',value"


def check_sql(check: str) -> str:
    """A ``-- check:`` as it runs: its tokens without comments (lint has made sure it is one SELECT)."""
    return without_comments(tokenize(check.strip().rstrip(";")))


def row_loss_condition(allowed: tuple[str, ...]) -> str:
    """True when no table that exists before and after has fewer rows after.

    A dropped table is absent after and so not compared: DROP TABLE is a lint warning that
    every report shows. Rows a migration deletes on purpose are allowed per table, by the
    file's ``-- allow-row-loss: TABLE`` or by the operator when the run is requested.
    """
    exempt = (f" AND lower(b.tbl) NOT IN ({', '.join(sql_literal(ascii_lower(t)) for t in allowed)})"
              if allowed else "")
    return (
        f"NOT EXISTS (SELECT 1 FROM {COUNTS} b JOIN {COUNTS} a ON lower(a.tbl) = lower(b.tbl) AND a.phase = 'after' "
        f"WHERE b.phase = 'before' AND a.n < b.n{exempt})"
    )


async def apply_migration(
    target: Target,
    db: str,
    migration: Migration,
    *,
    before: DbState,
    busy_timeout_ms: int,
    timeout: float,
    allow_row_loss: tuple[str, ...] = (),
) -> ApplyOutcome:
    # Off the event loop: writing the session replays the file's schema changes (ops.fk_check), up
    # to a second for a pathological file, and the bot must keep answering meanwhile.
    session = await asyncio.to_thread(build_session, migration, before, allow_row_loss=allow_row_loss)
    run = await run_sql(target, db, session.body, busy_timeout_ms=busy_timeout_ms, timeout=timeout, safe=True)
    return outcome_from_run(run, migration, session)


def file_line(session: Session, heredoc_line: int | None) -> int | None:
    """The file's line for a line sqlite3 named in its here-document, when it is one of the file's statements."""
    if heredoc_line is None:
        return None
    found = None
    for doc_line, line in session.statement_lines:
        if doc_line <= heredoc_line:
            found = line + (heredoc_line - doc_line)
    return found


def outcome_from_run(run: SqlRun, migration: Migration, session: Session) -> ApplyOutcome:
    steps = [e["name"] for e in run.of("step")]
    committed = bool(run.of("committed"))
    failed_step = "" if committed else (steps[-1] if steps else "start")
    line = error_line(run)
    mig_line = file_line(session, line) if failed_step == "migration" else None
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
        fk_indexed=tuple(str(e["table"]) for e in run.of("fk_indexed")),
        exit_code=run.result.exit_code,
        seconds=run.result.seconds,
        tables_after=tuple(str(e["names"]) for e in run.of("tables_after")),
        tables_predicted=session.tables_after,
        sqlite_reported=committed or line is not None or busy(run.result.stderr),
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
    if step == "tables":
        seen = (outcome.tables_after[0].split(chr(31)) if outcome.tables_after else [])
        return (f"the migration left other tables than its statements say (expected "
                f"{', '.join(outcome.tables_predicted) or 'none'}; found {', '.join(seen) or 'none'}); nothing was "
                "committed")
    if step == "row_loss":
        lost = [f"{t}: {outcome.counts_before[t]} → {n}" for t, n in outcome.counts_after.items()
                if t in outcome.counts_before and n < outcome.counts_before[t]]
        return ("rows would be lost (" + "; ".join(lost) + "); if that is intended, allow it for that table when "
                "you request the run (--allow-row-loss TABLE, or the allow_row_loss option)")
    if step.startswith("check "):
        index = int(step.split()[1]) - 1
        return f"{step} did not hold: {migration.checks[index]}"
    return f"failed at {step}: {outcome.error}"
