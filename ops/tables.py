"""Which tables hold user rows, before a migration and (predicted from its statements) after.

The row counts and the row-loss guard run inside the migration's session, in the sqlite3 CLI's
``-safe`` mode, where SQL cannot be generated at run time: so the tables to count after the file
ran are predicted from its CREATE/DROP/ALTER … RENAME statements, and a guard inside the
transaction checks the prediction against sqlite_master before anything is counted. FTS and
R*Tree shadow tables, virtual tables and ``sqlite_*`` tables hold no user rows of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ops.lint import TableEffect
from ops.sqlite_cli import SHADOW_SUFFIXES
from ops.sqltext import ascii_lower


@dataclass(frozen=True)
class TableInfo:
    name: str
    virtual: bool


def user_tables(tables: Iterable[TableInfo]) -> list[str]:
    """The tables whose rows are counted, by the same rule as ops.sqlite_cli.USER_TABLE_SQL."""
    items = list(tables)
    virtual = {t.name for t in items if t.virtual}
    shadows = {v + s for v in virtual for s in SHADOW_SUFFIXES}
    return sorted((t.name for t in items
                   if not t.virtual and not ascii_lower(t.name).startswith("sqlite") and t.name not in shadows),
                  key=ascii_lower)


def predict(before: Iterable[TableInfo], effects: Iterable[TableEffect]) -> list[TableInfo]:
    """The main schema's tables after ``effects``, applied in order the way SQLite would."""
    now: dict[str, TableInfo] = {ascii_lower(t.name): t for t in before}
    for e in effects:
        key = ascii_lower(e.name)
        if e.op == "create" and key not in now:
            now[key] = TableInfo(e.name, e.virtual)
        elif e.op == "drop":
            gone = now.pop(key, None)
            if gone is not None and gone.virtual:  # its shadow tables go with it
                for suffix in SHADOW_SUFFIXES:
                    now.pop(key + suffix, None)
        elif e.op == "rename" and key in now:
            old = now.pop(key)
            now[ascii_lower(e.new_name)] = TableInfo(e.new_name, old.virtual)
            for suffix in SHADOW_SUFFIXES if old.virtual else ():  # and are renamed with it
                shadow = now.pop(key + suffix, None)
                if shadow is not None:
                    now[ascii_lower(e.new_name + suffix)] = TableInfo(e.new_name + suffix, False)
    return list(now.values())


def rebuilt(effects: Iterable[TableEffect]) -> list[str]:
    """Tables the file drops (or renames away) and then creates again under the same name."""
    gone: set[str] = set()
    again: dict[str, str] = {}
    for e in effects:
        key = ascii_lower(e.name)
        if e.op == "drop" or e.op == "rename":
            gone.add(key)
        if e.op == "create" and key in gone:
            again[key] = e.name
        if e.op == "rename" and ascii_lower(e.new_name) in gone:
            again[ascii_lower(e.new_name)] = e.new_name
    return sorted(again.values(), key=ascii_lower)
