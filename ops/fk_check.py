"""The foreign-key check inside the migration's write lock, at the speed of the child's index.

``PRAGMA foreign_key_check`` reads every row of every child table and looks its parent up, one
row at a time, while the app's writers wait. For the common key (one column referencing an
``INTEGER PRIMARY KEY`` parent) the same verdict comes from the child's index: the distinct key
values, each looked up once. This module writes that check, and keeps it exact:

- It only says whether a child table *may* have a violation. A table it finds anything in is
  then checked by the pragma, and only the pragma's rows are reported or guarded on; so the
  report is the pragma's, and a false alarm costs time, never a refusal.
- The index path never misses what the pragma finds. The pragma (pragma.c) skips NULL keys and
  finds the parent with ``OP_SeekRowid``, which applies NUMERIC affinity to the child's value;
  the path compares ``rowid = +value``: the ``+`` strips the child column's affinity, so the
  comparison applies NUMERIC affinity to it in the same way (text '5' finds rowid 5, 5.0 does, 5.5
  and blobs do not). ``DISTINCT … COLLATE BINARY`` merges only values equal under BINARY (the
  same text or blob bytes, or the same number), which get the same answer.
- Whether a table may take this path is decided *inside the transaction, after the file ran*,
  from the database itself (the plan table): the child's definition is the one read before the
  migration, it has exactly one foreign key, of one column and no generated columns, onto a
  rowid table whose key is that table's ``INTEGER PRIMARY KEY`` (one ``pk`` column declared
  ``INTEGER``, no ``pk`` index: not WITHOUT ROWID, not ``PRIMARY KEY DESC``), and the name used for
  the rowid is not one of the parent's columns. Any other table, or any doubt, is checked by the
  pragma per table, as before.

The session is static SQL (the sqlite3 CLI's ``-safe`` mode), so the tables that may take the path
are chosen when the session is written: tables read before the migration and named by no CREATE,
ALTER or DROP of the file (so their columns are the ones the drift guard vouches for), onto a parent
that still has a rowid after the file: the file's CREATE, ALTER and DROP statements are replayed on
an empty copy of the schema here (no rows, no ATTACH) to learn it. Nothing of that replay is
trusted inside the transaction: the plan reads the real database again. Only on a host whose
sqlite3 has the table-valued pragmas the plan reads (3.31 or newer).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ops.migrations import Migration
from ops.schema import DbState
from ops.sqlite_cli import sql_ident, sql_literal
from ops.sqltext import ascii_lower
from ops.tables import TableInfo, user_tables

log = logging.getLogger(__name__)

PLAN = "temp._opsbot_fkplan"
HITS = "temp._opsbot_fkhit"
ROWID_NAMES = ("rowid", "_rowid_", "oid")
MIN_SQLITE = (3, 31, 0)
DDL = {"create", "alter", "drop"}
REPLAY_BUDGET_S = 1.0  # over empty tables a real schema change takes milliseconds


@dataclass(frozen=True)
class IndexedKey:
    """A child table whose one foreign key may be checked through an index (see the module doc)."""

    child: str
    column: str
    parent: str
    child_sql: str  # its definition before the migration, compared inside the transaction
    rowid: str  # the name that reaches the parent's rowid


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(".")[:3])
    except ValueError:
        return (0,)


def _named_by_ddl(migration: Migration) -> set[str]:
    """Every name a CREATE, ALTER or DROP statement of the file spells (tables, columns, anything)."""
    names: set[str] = set()
    for stmt in migration.statements:
        words = stmt.words
        if words and words[0] in DDL:
            names |= {t.name for t in stmt.tokens if t.kind in ("word", "ident", "string")}
    return names


def _schema_copy(before: DbState) -> sqlite3.Connection:
    """The tables and indexes read before the migration, without rows, for SQLite to describe."""
    db = sqlite3.connect(":memory:")
    for kind in ("table", "index"):
        for obj in before.objects:
            if obj.type != kind or not obj.sql or ascii_lower(obj.name).startswith("sqlite_"):
                continue
            try:
                db.execute(obj.sql)
            except sqlite3.Error:  # a module or feature this Python's SQLite lacks: no path for it
                log.debug("not described for the foreign-key plan: %s %s", kind, obj.name)
    return db


def _covered(db: sqlite3.Connection, child: str, column: str) -> bool:
    """The child's key column is its rowid, or leads an index of the whole table in BINARY order."""
    pk = db.execute("SELECT name, upper(type) FROM pragma_table_info(?) WHERE pk > 0", (child,)).fetchall()
    if len(pk) == 1 and ascii_lower(pk[0][0]) == ascii_lower(column) and pk[0][1] == "INTEGER":
        return True
    for idx, partial in db.execute("SELECT name, partial FROM pragma_index_list(?)", (child,)).fetchall():
        if partial:
            continue
        first = db.execute("SELECT name, coll FROM pragma_index_xinfo(?) WHERE seqno = 0", (idx,)).fetchone()
        if first and first[0] is not None and ascii_lower(first[0]) == ascii_lower(column) and first[1] == "BINARY":
            return True
    return False


def _only_schema(action: int, *_: object) -> int:
    """The replay touches the in-memory copy's schema and nothing else (no ATTACH: no files)."""
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def _replay_ddl(db: sqlite3.Connection, migration: Migration) -> bool:
    """The file's CREATE, ALTER and DROP statements on the empty copy, for the parents' shape after it.

    Bounded: a CREATE TABLE … AS SELECT over a recursive CTE that never ends is stopped after
    REPLAY_BUDGET_S (and the table gets the pragma)."""
    deadline = time.monotonic() + REPLAY_BUDGET_S
    db.set_authorizer(_only_schema)
    db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        for stmt in migration.statements:
            if stmt.words and stmt.words[0] in DDL:
                db.execute(stmt.text)
    except sqlite3.Error as exc:  # the session will say what is wrong; here: no index path at all
        log.debug("the foreign-key plan could not replay the file's schema changes: %s", exc)
        return False
    finally:
        db.set_authorizer(None)
        db.set_progress_handler(None, 0)
    return True


def _rowid_name(db: sqlite3.Connection, parent: str) -> str:
    """A name that reaches the parent's rowid after the file ran ("" if none does: WITHOUT ROWID)."""
    columns = {ascii_lower(r[0]) for r in db.execute("SELECT name FROM pragma_table_info(?)", (parent,))}
    for name in ROWID_NAMES:
        if name in columns:
            continue
        try:
            db.execute(f"SELECT {name} FROM main.{sql_ident(parent)} WHERE 0")
        except sqlite3.Error:
            return ""
        return name
    return ""


def indexed_keys(before: DbState, migration: Migration, tables_after: Iterable[TableInfo]) -> tuple[IndexedKey, ...]:
    """The child tables the session may check through an index (the rest go to the pragma)."""
    if _version(before.sqlite_version) < MIN_SQLITE:
        return ()
    after = {ascii_lower(t.name) for t in tables_after}
    touched = _named_by_ddl(migration)
    sql_of = {o.name: o.sql for o in before.objects if o.type == "table"}
    db = _schema_copy(before)
    try:
        keys = []
        for child in user_tables(before.table_infos):
            if ascii_lower(child) in touched or child not in sql_of:
                continue
            fks = db.execute('SELECT "table", "from" FROM pragma_foreign_key_list(?)', (child,)).fetchall()
            if len(fks) == 1 and ascii_lower(fks[0][0]) in after and _covered(db, child, fks[0][1]):
                keys.append((child, fks[0][1], fks[0][0]))
        if not keys or not _replay_ddl(db, migration):
            return ()
        found = []
        for child, column, parent in keys:
            rowid = _rowid_name(db, parent) if db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE", (parent,)).fetchone() \
                else ""
            if rowid:
                found.append(IndexedKey(child, column, parent, sql_of[child], rowid))
        return tuple(found)
    finally:
        db.close()


def _may_take_path(key: IndexedKey) -> str:
    """SQL, true when the database after the file still has the shape the index path relies on."""
    c, p = sql_literal(key.child), sql_literal(key.parent)
    return (
        f"(SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = {c} COLLATE NOCASE "
        f"AND sql = {sql_literal(key.child_sql)}) = 1 "
        f"AND (SELECT count(*) FROM pragma_foreign_key_list({c}, 'main')) = 1 "
        f"AND NOT EXISTS (SELECT 1 FROM pragma_table_xinfo({c}, 'main') WHERE hidden <> 0) "
        f"AND EXISTS (SELECT 1 FROM pragma_foreign_key_list({c}, 'main') f "
        f"WHERE f.\"from\" = {sql_literal(key.column)} COLLATE NOCASE AND f.\"table\" = {p} COLLATE NOCASE "
        f"AND (SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = {p} COLLATE NOCASE) = 1 "
        f"AND (SELECT count(*) FROM pragma_table_info({p}, 'main') WHERE pk > 0) = 1 "
        f"AND EXISTS (SELECT 1 FROM pragma_table_info({p}, 'main') t WHERE t.pk = 1 AND upper(t.type) = 'INTEGER' "
        f"AND (f.\"to\" IS NULL OR t.name = f.\"to\" COLLATE NOCASE)) "
        f"AND NOT EXISTS (SELECT 1 FROM pragma_index_list({p}, 'main') WHERE origin = 'pk') "
        f"AND NOT EXISTS (SELECT 1 FROM pragma_table_info({p}, 'main') WHERE name = {sql_literal(key.rowid)} "
        f"COLLATE NOCASE))"
    )


def check_sql(keys: tuple[IndexedKey, ...], into: str, limit: int) -> list[str]:
    """Statements that fill ``into`` (tbl, rid, parent) with ``PRAGMA foreign_key_check``'s rows.

    With no indexed keys this is the one pragma over the whole database, as it always was.
    """
    if not keys:
        return [f"CREATE TEMP TABLE {into.split('.')[1]} AS SELECT \"table\" AS tbl, rowid AS rid, parent "
                f"FROM pragma_foreign_key_check LIMIT {limit};"]
    lines = [f"CREATE TEMP TABLE {PLAN.split('.')[1]}(tbl TEXT PRIMARY KEY, fast INTEGER NOT NULL);",
             f"CREATE TEMP TABLE {HITS.split('.')[1]}(tbl TEXT PRIMARY KEY);"]
    for key in keys:
        name = sql_literal(ascii_lower(key.child))
        lines.append(f"INSERT INTO {PLAN} SELECT {name}, ({_may_take_path(key)});")
        # The distinct key values through the index, each looked up once; LIMIT 0 (the plan said
        # no) reads nothing.
        # Every name qualified: unqualified, a parent column called v would be read instead of
        # the child's value (the innermost FROM is searched first) and hide every violation.
        lines.append(
            f"INSERT INTO {HITS} SELECT {name} WHERE EXISTS (SELECT 1 FROM (SELECT DISTINCT "
            f"_opsbot_c.{sql_ident(key.column)} COLLATE BINARY AS v FROM main.{sql_ident(key.child)} AS _opsbot_c "
            f"WHERE _opsbot_c.{sql_ident(key.column)} IS NOT NULL "
            f"LIMIT coalesce((SELECT -1 FROM {PLAN} WHERE tbl = {name} AND fast), 0)) AS _opsbot_k "
            f"WHERE NOT EXISTS (SELECT 1 FROM main.{sql_ident(key.parent)} AS _opsbot_p "
            f"WHERE _opsbot_p.{key.rowid} = +_opsbot_k.v));")
    # Every other table, and any the index path found something in, through the pragma itself.
    lines.append(
        f"CREATE TEMP TABLE {into.split('.')[1]} AS SELECT k.\"table\" AS tbl, k.rowid AS rid, k.parent AS parent "
        f"FROM main.sqlite_master m, pragma_foreign_key_check(m.name, 'main') k WHERE m.type = 'table' "
        f"AND (NOT coalesce((SELECT fast FROM {PLAN} WHERE tbl = m.name COLLATE NOCASE), 0) "
        f"OR EXISTS (SELECT 1 FROM {HITS} WHERE tbl = m.name COLLATE NOCASE)) LIMIT {limit};")
    return lines


def cleanup_sql(keys: tuple[IndexedKey, ...]) -> list[str]:
    return [f"DROP TABLE {PLAN};", f"DROP TABLE {HITS};"] if keys else []
