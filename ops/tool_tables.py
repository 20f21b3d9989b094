"""Migration tools' own bookkeeping tables, read (never written) beside opsbot's ledger.

A team that once ran its migrations with goose, dbmate, Prisma… has that tool's table in the
database. opsbot shows what it says, in the tool's own terms, so a person can compare; it never
decides what is applied from it and never writes into it. ``KNOWN`` lists the tables and what
their rows mean, as each tool's documentation describes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops.sqlite_cli import emit, run_sql


@dataclass(frozen=True)
class ToolTable:
    tool: str
    table: str
    meaning: str
    version: str        # SQL for the version (or name) a row records
    applied: str        # SQL that is true when the row counts as applied ("1" when every row does)
    needs: tuple[str, ...] = ()  # the columns its SQL reads (and that tell it from a table of the same name)
    lacks: tuple[str, ...] = ()  # columns it does not have (dbmate's table has no `dirty`)


KNOWN: tuple[ToolTable, ...] = (
    ToolTable("goose", "goose_db_version",
              "one row per up (is_applied=1) or down (is_applied=0); a version is applied when its newest "
              "row says so; version 0 is goose's own first row", "version_id",
              "is_applied AND id = (SELECT max(g.id) FROM goose_db_version g "
              "WHERE g.version_id = goose_db_version.version_id) AND version_id <> 0",
              needs=("id", "version_id", "is_applied")),
    ToolTable("golang-migrate", "schema_migrations",
              "one row: the version the database is at; dirty=1 means a migration failed half-way and "
              "golang-migrate refuses to go on until it is fixed by hand", "version", "NOT dirty",
              needs=("version", "dirty")),
    ToolTable("dbmate", "schema_migrations",
              "one row per applied migration, keyed by the version prefix of its file name (Rails keeps "
              "the same table)", "version", "1", needs=("version",), lacks=("dirty",)),
    ToolTable("sqlx", "_sqlx_migrations",
              "one row per migration run; success=0 means it failed and sqlx stops there", "version", "success",
              needs=("version", "success")),
    ToolTable("diesel", "__diesel_schema_migrations",
              "one row per applied migration (the folder's version prefix) with when it ran", "version", "1",
              needs=("version",)),
    ToolTable("prisma", "_prisma_migrations",
              "one row per migration folder; applied when finished_at is set and rolled_back_at is not",
              "migration_name", "finished_at IS NOT NULL AND rolled_back_at IS NULL",
              needs=("migration_name", "finished_at", "rolled_back_at")),
    ToolTable("drizzle", "__drizzle_migrations",
              "one row per applied migration: the sha256 of its SQL and the journal's timestamp", "hash", "1",
              needs=("hash",)),
    ToolTable("flyway", "flyway_schema_history",
              "one row per script run, in installed_rank order; success=0 marks a failed one", "coalesce(version, "
              "script)", "success", needs=("version", "script", "success")),
    ToolTable("atlas", "atlas_schema_revisions",
              "one row per applied version; applied < total or an error means it stopped part-way",
              "version", "applied = total AND coalesce(error, '') = ''",
              needs=("version", "applied", "total", "error")),
)


def present(tables: set[str], columns: dict[str, tuple[str, ...]]) -> list[ToolTable]:
    """The known tables this database has (dbmate and golang-migrate share a name: told apart by
    golang-migrate's ``dirty`` column)."""
    found, seen = [], set()
    for t in KNOWN:
        have = columns.get(t.table, ())
        if t.table in tables and t.table not in seen and all(c in have for c in t.needs) \
                and not any(c in have for c in t.lacks):
            found.append(t)
            seen.add(t.table)
    return found


async def read(target: Any, db: str, tables: list[ToolTable], *, busy_timeout_ms: int,
               timeout: float = 60.0) -> tuple[dict[str, Any], ...]:
    """What each table says: its rows' versions, applied or not. Read-only (-safe, one read transaction);
    every SQL word here is opsbot's own, nothing from the database or a file."""
    if not tables:
        return ()
    body = "BEGIN;\n" + "\n".join(
        f"SELECT {emit_fields(t)} FROM \"{t.table}\";" for t in tables) + "\nCOMMIT;\n"
    run = await run_sql(target, db, body, busy_timeout_ms=busy_timeout_ms, timeout=timeout, safe=True)
    if not run.result.ok:  # said, not taken for "nothing applied"
        return tuple({"tool": t.tool, "table": t.table, "meaning": t.meaning, "applied": [], "rows": None,
                      "error": run.error_text or f"sqlite3 exited {run.result.exit_code}",
                      "written_by_opsbot": False} for t in tables)
    out = []
    for t in tables:
        rows = [e for e in run.of("tool_row") if e.get("tool") == t.tool]
        applied = list(dict.fromkeys(str(r["version"]) for r in rows if r.get("applied")))
        out.append({"tool": t.tool, "table": t.table, "meaning": t.meaning, "applied": applied,
                    "rows": len(rows), "written_by_opsbot": False})
    return tuple(out)


def emit_fields(t: ToolTable) -> str:
    # emit() builds "SELECT json_object(...);": its arguments are reused here per row.
    return emit("tool_row", tool=f"'{t.tool}'", version=t.version, applied=f"CASE WHEN {t.applied} THEN 1 ELSE 0 END"
                )[len("SELECT "):-1]
