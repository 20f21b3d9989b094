"""Lint: what of a migration file runs, what is normalised away, what is refused, and why.

The engine owns the one transaction, keeps foreign keys off and runs ``foreign_key_check``
before COMMIT (DESIGN rules 4 and 5). So the shapes sqlite.org and the tools write for that —
an outer ``BEGIN … COMMIT``, ``PRAGMA foreign_keys``/``defer_foreign_keys``, the file's own
``foreign_key_check``, a drizzle ``COMMIT; PRAGMA foreign_keys=OFF; BEGIN;`` step-out, the CLI's
harmless dot-commands — are dropped with a note. What would split the transaction, cannot run
inside one, or reaches outside the database is refused before anything runs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from ops.sqltext import CliLine, Script, Statement, Token

# Functions and table-valued functions/modules that reach outside the database, run SQL given
# as text (sha3_query would let a file build statements lint never sees), or touch raw pages.
OUTSIDE = {
    "load_extension": "loads native code into the session",
    "edit": "starts an editor on the host",
    "readfile": "reads a file on the host",
    "writefile": "writes a file on the host",
    "fsdir": "lists the host's files",
    "lsdir": "lists the host's files",
    "zipfile": "reads and writes zip files on the host",
    "zipfile_cds": "reads zip files on the host",
    "fts3_tokenizer": "can register native tokenizers by pointer",
    "sha3_query": "runs SQL given as text, out of lint's sight",
    "sqlite_dbpage": "writes raw database pages",
    "sqlite_dbdata": "reads raw database pages",
    "sqlite_dbptr": "reads raw database pages",
}
SAFE_MODULES = {"fts3", "fts4", "fts5", "fts5vocab", "rtree", "rtree_i32", "geopoly"}
SCHEMA_TABLES = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
RESERVED_PREFIX = "_opsbot"
HARMLESS_DOTS = {"bail", "echo", "timeout", "headers", "mode"}
NEUTRAL_PRAGMAS = {"foreign_keys", "defer_foreign_keys", "foreign_key_check"}
REFUSED_PRAGMAS = {
    "journal_mode": "cannot change inside a transaction, and the journal mode is the app's choice: set it in the "
                    "app's connection code",
    "writable_schema": "lets SQL rewrite sqlite_master directly, which can corrupt the database",
    "schema_version": "rewrites the schema cookie by hand, which can corrupt the database",
    "ignore_check_constraints": "lets the migration write rows that break the tables' CHECK constraints",
}
QUIET_PRAGMAS = {"user_version", "application_id", "legacy_alter_table", "recursive_triggers", "table_info",
                 "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list",
                 "integrity_check", "quick_check", "optimize", "table_list", "function_list",
                 "collation_list", "database_list"}
TX_WORDS = {"begin", "commit", "end", "rollback", "savepoint", "release"}


@dataclass(frozen=True)
class Finding:
    level: str  # "error" refuses the file; "warning" is shown in every report
    message: str
    line: int = 0

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.level}: {where}{self.message}"


@dataclass(frozen=True)
class TableEffect:
    op: str  # create | drop | rename
    name: str
    new_name: str = ""
    virtual: bool = False
    if_exists: bool = False  # IF EXISTS / IF NOT EXISTS


@dataclass(frozen=True)
class Plan:
    statements: tuple[Statement, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...]
    effects: tuple[TableEffect, ...] = field(default=())


def _sig(stmt: Statement) -> tuple[Token, ...]:
    return stmt.tokens


def _kind(stmt: Statement) -> str:
    toks = _sig(stmt)
    k = 0
    while k < len(toks) and toks[k].kind == "word" and toks[k].name in ("explain", "query", "plan"):
        k += 1
    return toks[k].name if k < len(toks) and toks[k].kind == "word" else ""


def pragma_name(stmt: Statement) -> tuple[str, bool]:
    """(pragma name, whether it sets a value) for a PRAGMA statement."""
    toks = [t for t in _sig(stmt) if t.kind != "semi"]
    names = toks[1:]
    if len(names) >= 3 and names[1].kind == "dot":
        names = names[2:]
    name = names[0].name if names else ""
    sets = len(names) > 1 and names[1].text == "="
    args = len(names) > 1 and names[1].kind == "lparen"
    return name, sets or (args and name not in QUIET_PRAGMAS and name not in NEUTRAL_PRAGMAS)


def scan_tokens(tokens: tuple[Token, ...] | list[Token], line: int) -> list[Finding]:
    """Refusals that apply wherever a token appears: in a statement, a trigger body, a check."""
    found: list[Finding] = []
    toks = [t for t in tokens if t.significant]
    for k, tok in enumerate(toks):
        if tok.kind not in ("word", "ident"):
            continue
        name = tok.name
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        called = nxt is not None and nxt.kind == "lparen"
        prev = toks[k - 1] if k else None
        if name in OUTSIDE and (called or name in ("fsdir", "zipfile", "sqlite_dbpage", "sqlite_dbdata",
                                                   "sqlite_dbptr", "lsdir")):
            if prev is not None and prev.kind == "dot" and not called:
                continue  # a column named like the function: t.readfile
            found.append(Finding("error", f"{tok.spelled}() is not allowed: it {OUTSIDE[name]}", tok.line))
        elif name.startswith(RESERVED_PREFIX):
            found.append(Finding("error", f"{tok.spelled} is a name opsbot reserves for its own guards", tok.line))
    found += _schema_writes(toks)
    return found


def _schema_writes(toks: list[Token]) -> list[Finding]:
    found = []
    for k, tok in enumerate(toks):
        if tok.kind != "word" or tok.name not in ("into", "update", "from"):
            continue
        if tok.name == "from" and not (k and toks[k - 1].kind == "word" and toks[k - 1].name == "delete"):
            continue
        j = k + 1
        if tok.name == "update" and j + 1 < len(toks) and toks[j].name == "or":
            j += 2
        if j + 2 < len(toks) and toks[j + 1].kind == "dot":
            j += 2
        if j < len(toks) and toks[j].kind in ("word", "ident", "string") and toks[j].name in SCHEMA_TABLES:
            found.append(Finding("error", f"writes to {toks[j].spelled}: the schema table is SQLite's own; "
                                          "change the schema with CREATE/ALTER/DROP", toks[j].line))
    return found


def _table_name(toks: tuple[Token, ...], k: int) -> tuple[str, str, int]:
    """(schema, name as written, index after) of a possibly qualified name at ``k``."""
    if k + 2 < len(toks) and toks[k + 1].kind == "dot":
        return toks[k].name, toks[k + 2].spelled, k + 3
    return "", toks[k].spelled if k < len(toks) else "", k + 1


def effects_of(stmt: Statement) -> list[TableEffect]:
    toks = _sig(stmt)
    w = [t.name if t.kind == "word" else "" for t in toks]
    if not w or w[0] not in ("create", "drop", "alter"):
        return []
    k = 1
    if w[0] == "create":
        temp = k < len(w) and w[k] in ("temp", "temporary")
        k += temp
        virtual = k < len(w) and w[k] == "virtual"
        k += virtual
        if k >= len(w) or w[k] != "table":
            return []
        k += 1
        cond = w[k:k + 3] == ["if", "not", "exists"]
        k += 3 if cond else 0
        schema, name, _ = _table_name(toks, k)
        if temp or schema == "temp":
            return []
        return [TableEffect("create", name, virtual=virtual, if_exists=cond)]
    if w[0] == "drop" and w[1:2] == ["table"]:
        k = 2
        cond = w[k:k + 2] == ["if", "exists"]
        k += 2 if cond else 0
        schema, name, _ = _table_name(toks, k)
        return [] if schema == "temp" else [TableEffect("drop", name, if_exists=cond)]
    if w[0] == "alter" and w[1:2] == ["table"]:
        schema, name, k = _table_name(toks, 2)
        if w[k:k + 2] == ["rename", "to"] and k + 2 < len(toks) and schema != "temp":
            return [TableEffect("rename", name, new_name=toks[k + 2].spelled)]
    return []


def _statement_findings(stmt: Statement) -> list[Finding]:
    toks = _sig(stmt)
    kind = _kind(stmt)
    if not kind:
        return [Finding("error", f"this is not an SQL statement SQLite accepts (it starts with {toks[0].text!r})",
                        stmt.line)]
    found = scan_tokens(toks, stmt.line)
    if kind in ("attach", "detach"):
        found.append(Finding("error", f"{kind.upper()} reaches outside the database being migrated", stmt.line))
    elif kind == "vacuum":
        found.append(Finding("error", "VACUUM cannot run inside a transaction; run it on its own after the migration",
                             stmt.line))
    elif kind == "pragma":
        name, sets = pragma_name(stmt)
        if name in REFUSED_PRAGMAS and (sets or name != "schema_version"):
            found.append(Finding("error", f"PRAGMA {name} {REFUSED_PRAGMAS[name]}", stmt.line))
        elif sets and name not in QUIET_PRAGMAS and name not in NEUTRAL_PRAGMAS:
            found.append(Finding("warning", f"PRAGMA {name} changes a setting; check it belongs in a migration",
                                 stmt.line))
    elif kind == "create":
        w = stmt.words
        if "virtual" in w[:3] and "using" in w:
            module = w[w.index("using") + 1] if w.index("using") + 1 < len(w) else ""
            if module not in SAFE_MODULES:
                found.append(Finding("error", f"virtual table module {module or '?'} is not one opsbot can vouch "
                                              f"for (allowed: {', '.join(sorted(SAFE_MODULES))})", stmt.line))
    found += _data_warnings(stmt, kind)
    return found


def _data_warnings(stmt: Statement, kind: str) -> list[Finding]:
    toks = _sig(stmt)
    w = [t.name if t.kind == "word" else "" for t in toks]
    found = []
    if kind == "drop" and w[1:2] == ["table"]:
        name = effects_of(stmt)[0].name if effects_of(stmt) else "?"
        found.append(Finding("warning", f"DROP TABLE {name} deletes the table and all its rows", stmt.line))
    if kind == "alter" and "drop" in w:
        found.append(Finding("warning", f"ALTER TABLE {_table_name(toks, 2)[1]} DROP COLUMN deletes a column's data",
                             stmt.line))
    if kind in ("delete", "update", "with", "replace"):
        depth, verb, where = 0, "", False
        for tok in toks:
            depth += tok.kind == "lparen"
            depth -= tok.kind == "rparen"
            if depth == 0 and tok.kind == "word":
                if not verb and tok.name in ("delete", "update"):
                    verb = tok.name.upper()
                elif verb and tok.name == "where":
                    where = True
        if verb and not where:
            found.append(Finding("warning", f"{verb} without WHERE touches every row", stmt.line))
    return found


def _dot_findings(cli: CliLine) -> tuple[list[Finding], str]:
    if not cli.is_dot:
        return [], f"line {cli.line}: `#` line skipped (the sqlite3 CLI reads it as a comment)"
    cmd = cli.command
    full = next((h for h in HARMLESS_DOTS if cmd and h.startswith(cmd) and len(cmd) >= 2), "")
    if full:
        return [], f"line {cli.line}: dropped the CLI setting `.{full}` (the engine sets bail, timeout and output)"
    return [Finding("error", f"sqlite3 dot-command .{cmd or '?'} is not allowed in a migration (only "
                             f"{', '.join('.' + d for d in sorted(HARMLESS_DOTS))} are, and they are dropped)",
                    cli.line)], ""


def plan(script: Script) -> Plan:
    findings: list[Finding] = []
    notes: list[str] = []
    for cli in script.cli_lines:
        more, note = _dot_findings(cli)
        findings += more
        if note:
            notes.append(note)
    for line, text in script.terminators:
        notes.append(f"line {line}: `{text}` ends the statement before it (the sqlite3 CLI's terminator)")
    statements = list(script.statements)
    last = script.unfinished
    if last is not None and sqlite3.complete_statement(last.text + ";"):
        # sqlite3 (and executescript) run a last statement that only lacks its `;`: so do we.
        statements.append(Statement(last.line, last.text + ";", last.tokens))
        notes.append(f"line {last.line}: added the `;` the last statement lacks (the sqlite3 CLI runs it as well)")
    elif last is not None:
        findings.append(Finding("error", "the file ends inside an unfinished statement (an open string, comment, "
                                         "bracket or trigger body)", last.line))
    kept, tx_findings, tx_notes = _transaction_shape(statements)
    findings += tx_findings
    notes += tx_notes
    effects: list[TableEffect] = []
    for stmt in kept:
        findings += _statement_findings(stmt)
        effects += effects_of(stmt)
    if not kept and not findings:
        notes.append("the file has no SQL statements to run (only comments): it is a no-op")
    findings.sort(key=lambda f: (f.level != "error", f.line))
    return Plan(tuple(kept), tuple(findings), tuple(notes), tuple(effects))


def _tx(stmt: Statement) -> str:
    kind = _kind(stmt)
    if kind == "pragma" and pragma_name(stmt)[0] in NEUTRAL_PRAGMAS:
        return "neutral"
    return kind if kind in TX_WORDS else ""


def _transaction_shape(stmts: list[Statement]) -> tuple[list[Statement], list[Finding], list[str]]:
    """Drop the file's outer BEGIN/COMMIT, foreign-key pragmas and step-outs; refuse real splits."""
    tx = [_tx(s) for s in stmts]
    drop: set[int] = set()
    notes: list[str] = []
    findings: list[Finding] = []
    neutral = [i for i, t in enumerate(tx) if t == "neutral"]
    if neutral:
        lines = ", ".join(str(stmts[i].line) for i in neutral)
        notes.append(f"dropped the file's PRAGMA foreign_keys / defer_foreign_keys / foreign_key_check (line "
                     f"{lines}): the engine keeps foreign keys off and runs foreign_key_check before COMMIT")
        drop.update(neutral)
    real = [i for i, t in enumerate(tx) if t != "neutral"]
    opened = False
    if real and tx[real[0]] == "begin":
        drop.add(real[0])
        opened = True
        notes.append(f"dropped the file's own BEGIN (line {stmts[real[0]].line}): the engine runs the whole file "
                     "in one BEGIN IMMEDIATE … COMMIT")
    if real and tx[real[-1]] in ("commit", "end") and real[-1] not in drop:
        drop.add(real[-1])
        opened = False
        notes.append(f"dropped the file's own COMMIT (line {stmts[real[-1]].line}): the engine commits once, after "
                     "every check passed")
    rest = [i for i in real if i not in drop]
    for pos, i in enumerate(rest):
        if i in drop:
            continue
        t, line = tx[i], stmts[i].line
        if t in ("commit", "end"):
            nxt = rest[pos + 1] if pos + 1 < len(rest) else None
            if nxt is not None and tx[nxt] == "begin":
                drop.update({i, nxt})
                notes.append(f"folded the COMMIT … BEGIN at lines {line}–{stmts[nxt].line} into the one "
                             "transaction (it only stepped out to set PRAGMA foreign_keys)")
                continue
            findings.append(Finding("error", f"{t.upper()} commits part of the migration early; the engine commits "
                                             "once, after every check passed", line))
        elif t == "begin":
            findings.append(Finding("error", "a second BEGIN would split the one transaction the migration runs in",
                                    line))
        elif t == "rollback":
            findings.append(Finding("error", "ROLLBACK ends the engine's transaction; a failing statement already "
                                             "rolls everything back", line))
        elif t in ("savepoint", "release"):
            findings.append(Finding("error", f"{t.upper()} splits the engine's transaction; remove it", line))
    if opened:
        findings.append(Finding("error", "the file's BEGIN is never committed: run as written, sqlite3 would roll "
                                         "everything back at the end", stmts[real[0]].line))
    return [s for i, s in enumerate(stmts) if i not in drop], findings, notes


def lint_check(check: str, index: int, line: int) -> list[Finding]:
    """A ``-- check:`` header must be one SELECT (it is wrapped as a subquery) and reach nothing outside."""
    from ops.sqltext import tokenize

    toks = [t for t in tokenize(check.strip().rstrip(";")) if t.significant]
    bad = Finding("error", f"check {index} must be a single SELECT that returns 1 when it holds", line)
    if not toks or toks[0].kind != "word" or toks[0].name not in ("select", "with", "values"):
        return [bad]
    depth = 0
    for tok in toks:
        depth += tok.kind == "lparen"
        depth -= tok.kind == "rparen"
        if depth < 0 or tok.kind == "semi":
            return [bad]
    if depth:
        return [bad]
    return [Finding(f.level, f"check {index}: {f.message}", line) for f in scan_tokens(toks, line)]
