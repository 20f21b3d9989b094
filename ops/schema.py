"""What a database looks like: schema, fingerprint, counts, and the difference between two."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ops import hostfs
from ops.errors import OpsError
from ops.sqlite_cli import (
    CANON_EXPR,
    NoDatabase,
    counts_fragment,
    emit,
    event_sql,
    io_trouble,
    require_sqlite,
    run_sql,
    tmp_name,
)
from ops.tables import TableInfo, user_tables
from ops.targets.base import DiskFull, Target
from ops.units import size

READ_TIMEOUT_S = 900.0
log = logging.getLogger(__name__)


def full_volume_hint(target: Target) -> str:
    return (f"Free space on the app's volume (old backups: `backups` lists them) or {target.grow_volume_text()}, "
            "then retry.")


@dataclass(frozen=True)
class SchemaObject:
    type: str
    name: str
    tbl_name: str
    sql: str


@dataclass(frozen=True)
class DbState:
    """One consistent look at a database (taken inside a single read transaction)."""

    objects: tuple[SchemaObject, ...]
    columns: dict[str, tuple[str, ...]]
    counts: dict[str, int]
    canon: str
    user_version: int
    journal_mode: str
    page_size: int
    page_count: int
    sqlite_version: str
    integrity: str = ""
    fk_violations: int = 0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.canon)

    @property
    def bytes(self) -> int:
        return self.page_size * self.page_count

    def names(self, kind: str) -> set[str]:
        return {o.name for o in self.objects if o.type == kind}

    @property
    def tables(self) -> set[str]:
        return {n for n in self.names("table") if not n.startswith("sqlite_")}

    @property
    def table_infos(self) -> list[TableInfo]:
        return [TableInfo(o.name, o.sql.upper().startswith("CREATE VIRTUAL")) for o in self.objects
                if o.type == "table"]

    @property
    def counted(self) -> list[str]:
        """The tables whose rows the migration's guards count."""
        return user_tables(self.table_infos)


def fingerprint(canon: str) -> str:
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


OBJECT_FIELDS = "'type',type,'name',name,'tbl_name',tbl_name,'sql',coalesce(sql,'')"
COLUMN_FIELDS = "'table',m.name,'name',p.name"
INTEGRITY_FIELDS = "'result',(SELECT group_concat({pragma}, char(10)) FROM (SELECT * FROM pragma_{pragma} LIMIT 20))"


def state_sql(tmpfile: str, *, integrity: str = "", counts: bool = True, fk: bool = True) -> str:
    """SQL printing a DbState's events; run it inside a transaction for consistency."""
    parts = [
        emit(
            "meta",
            user_version="(SELECT user_version FROM pragma_user_version)",
            journal_mode="(SELECT journal_mode FROM pragma_journal_mode)",
            page_size="(SELECT page_size FROM pragma_page_size)",
            page_count="(SELECT page_count FROM pragma_page_count)",
            sqlite_version="sqlite_version()",
            canon=CANON_EXPR,
        ),
        f"SELECT {event_sql('object', OBJECT_FIELDS)} FROM sqlite_master ORDER BY type,name;",
        f"SELECT {event_sql('column', COLUMN_FIELDS)} FROM sqlite_master m "
        "JOIN pragma_table_info(m.name) p WHERE m.type='table' ORDER BY m.name, p.cid;",
    ]
    if counts:
        parts.append(counts_fragment("now", tmpfile))
    if integrity:
        pragma = "quick_check" if integrity == "quick" else "integrity_check"
        parts.append(
            f"SELECT {event_sql('integrity', INTEGRITY_FIELDS.format(pragma=pragma))};"
        )
        if fk:
            parts.append(emit("fk", violations="(SELECT count(*) FROM pragma_foreign_key_check)"))
    return "\n".join(parts) + "\n"


def state_from_events(events: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> DbState:
    meta = next((e for e in events if e["opsbot"] == "meta"), None)
    if meta is None:
        raise OpsError("the database returned no schema information", hint="Check DB_PATH.")
    objects = tuple(
        SchemaObject(e["type"], e["name"], e["tbl_name"], e["sql"])
        for e in events
        if e["opsbot"] == "object"
    )
    columns: dict[str, list[str]] = {}
    for e in events:
        if e["opsbot"] == "column":
            columns.setdefault(e["table"], []).append(e["name"])
    counts = {e["table"]: int(e["rows"]) for e in events if e["opsbot"] == "count"}
    integ = next((e for e in events if e["opsbot"] == "integrity"), None)
    fk = next((e for e in events if e["opsbot"] == "fk"), None)
    return DbState(
        objects=objects,
        columns={t: tuple(c) for t, c in columns.items()},
        counts=counts,
        canon=meta["canon"],
        user_version=int(meta["user_version"]),
        journal_mode=str(meta["journal_mode"]),
        page_size=int(meta["page_size"]),
        page_count=int(meta["page_count"]),
        sqlite_version=str(meta["sqlite_version"]),
        integrity=(integ or {}).get("result") or "",
        fk_violations=int((fk or {}).get("violations") or 0),
    )


async def read_state(
    target: Target,
    db: str,
    *,
    busy_timeout_ms: int = 10000,
    integrity: str = "",
    counts: bool = True,
    timeout: float = READ_TIMEOUT_S,
    after_writers: bool = False,
    fk: bool = True,
    mmap_bytes: int = 0,
) -> DbState:
    """Read schema, counts and (optionally) integrity in one read transaction.

    With ``after_writers``, the read takes the write lock first (BEGIN IMMEDIATE), so it waits
    for a writer still at work, such as a migration whose connection to the host dropped while the
    remote sqlite3 went on: what it reads is the state after that writer finished.
    """
    tmp = tmp_name("state")
    begin = "BEGIN IMMEDIATE;" if after_writers else "BEGIN;"
    # Memory-mapped reads are faster only while the whole file fits in free memory (ops.hostfs.mmap_budget).
    mmap = f"PRAGMA mmap_size={int(mmap_bytes)};\n" if mmap_bytes > 0 else ""
    body = mmap + begin + "\n" + state_sql(tmp, integrity=integrity, counts=counts, fk=fk) + "ROLLBACK;\n"
    run = await run_sql(
        target, db, body, busy_timeout_ms=busy_timeout_ms, timeout=timeout, tmpfiles=(tmp,)
    )
    require_sqlite(run, "reading the database")
    if not run.result.ok or not run.first("meta"):
        error = run.error_text or "no output"
        if io_trouble(error) and (free := await hostfs.full_volume(target, db)) is not None:
            raise DiskFull(f"could not read the database {db}: its volume is full ({size(free)} free; {error})",
                           hint=full_volume_hint(target))
        raise OpsError(
            f"could not read the database {db}: {run.error_text or 'no output'}",
            hint="Check DB_PATH and that the app host can open the file; then retry.",
        )
    return state_from_events(run.events)


async def read_state_retrying(target: Target, db: str, *, delays: tuple[float, ...], **kwargs: Any) -> DbState:
    """``read_state``, tried again after each of ``delays`` when it fails: after a change the
    outcome must come from the database, and one failed connection must not make it unknown."""
    for delay in (*delays, None):
        try:
            return await read_state(target, db, **kwargs)
        except NoDatabase:
            raise
        except OpsError as exc:
            if delay is None:
                raise
            log.warning("reading %s failed (%s); trying again in %.0f s", db, exc.message, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SchemaDiff:
    tables_added: tuple[str, ...] = ()
    tables_removed: tuple[str, ...] = ()
    columns_added: dict[str, tuple[str, ...]] = field(default_factory=dict)
    columns_removed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    indexes_added: tuple[str, ...] = ()
    indexes_removed: tuple[str, ...] = ()
    other_added: tuple[str, ...] = ()
    other_removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = [f"+ table {t}" for t in self.tables_added]
        out += [f"- table {t}" for t in self.tables_removed]
        out += [f"+ column {t}.{c}" for t, cs in self.columns_added.items() for c in cs]
        out += [f"- column {t}.{c}" for t, cs in self.columns_removed.items() for c in cs]
        out += [f"+ index {i}" for i in self.indexes_added]
        out += [f"- index {i}" for i in self.indexes_removed]
        out += [f"+ {o}" for o in self.other_added]
        out += [f"- {o}" for o in self.other_removed]
        out += [f"~ {o} (definition changed)" for o in self.changed]
        return out


def diff_states(before: DbState, after: DbState) -> SchemaDiff:
    tb, ta = before.tables, after.tables
    kept = sorted(tb & ta)
    cols_added = {t: tuple(c for c in after.columns.get(t, ()) if c not in before.columns.get(t, ())) for t in kept}
    cols_removed = {t: tuple(c for c in before.columns.get(t, ()) if c not in after.columns.get(t, ())) for t in kept}
    ib, ia = before.names("index"), after.names("index")
    other_b = {f"{o.type} {o.name}" for o in before.objects if o.type in ("view", "trigger")}
    other_a = {f"{o.type} {o.name}" for o in after.objects if o.type in ("view", "trigger")}
    sql_b = {(o.type, o.name): o.sql for o in before.objects}
    changed = sorted(
        f"{o.type} {o.name}"
        for o in after.objects
        if (o.type, o.name) in sql_b and sql_b[(o.type, o.name)] != o.sql
        and not o.name.startswith("sqlite_")
    )
    return SchemaDiff(
        tables_added=tuple(sorted(ta - tb)),
        tables_removed=tuple(sorted(tb - ta)),
        columns_added={t: c for t, c in cols_added.items() if c},
        columns_removed={t: c for t, c in cols_removed.items() if c},
        indexes_added=tuple(sorted(i for i in ia - ib if not i.startswith("sqlite_"))),
        indexes_removed=tuple(sorted(i for i in ib - ia if not i.startswith("sqlite_"))),
        other_added=tuple(sorted(other_a - other_b)),
        other_removed=tuple(sorted(other_b - other_a)),
        changed=tuple(changed),
    )


@dataclass(frozen=True)
class CountChange:
    table: str
    before: int | None
    after: int | None

    @property
    def delta(self) -> int:
        return (self.after or 0) - (self.before or 0)

    @property
    def lost_rows(self) -> bool:
        return self.before is not None and self.after is not None and self.after < self.before


def count_changes(before: dict[str, int], after: dict[str, int]) -> tuple[CountChange, ...]:
    names = sorted(set(before) | set(after))
    return tuple(CountChange(t, before.get(t), after.get(t)) for t in names)


def count_rows(changes: tuple[CountChange, ...]) -> list[list[Any]]:
    """Rows for a before → after table, flagging tables that lost rows."""
    rows = []
    for c in changes:
        flag = "LOST ROWS" if c.lost_rows else ("dropped" if c.after is None else ("new" if c.before is None else ""))
        rows.append([c.table, c.before if c.before is not None else "-",
                     c.after if c.after is not None else "-", f"{c.delta:+d}", flag])
    return rows
