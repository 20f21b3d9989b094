"""Lint reads statements as SQLite does: harmless shapes are normalised, escapes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.errors import OpsError, UsageError
from ops.migrations import load, parse_headers


def lint_file(tmp_path: Path, sql: str | bytes, name: str = "m.sql"):
    path = tmp_path / name
    path.write_bytes(sql if isinstance(sql, bytes) else sql.encode())
    return load(tmp_path, name)


def errors(tmp_path: Path, sql: str) -> list[str]:
    return [str(f) for f in lint_file(tmp_path, sql).errors]


@pytest.mark.parametrize(
    "sql, word, line",
    [
        ("CREATE TABLE a(x);\nCOMMIT;\nCREATE TABLE b(x);", "COMMIT", 2),
        ("BEGIN;\nCREATE TABLE a(x);\nBEGIN;\nCOMMIT;", "second BEGIN", 3),
        ("CREATE TABLE a(x);\nEND TRANSACTION;\nCREATE TABLE b(x);", "END", 2),
        ("CREATE TABLE a(x);\nROLLBACK;", "ROLLBACK", 2),
        ("SAVEPOINT s1; CREATE TABLE a(x);", "SAVEPOINT", 1),
        ("CREATE TABLE a(x);\nRELEASE s1;", "RELEASE", 2),
        ("VACUUM;", "VACUUM", 1),
        ("vacuum into '/tmp/x.db';", "VACUUM", 1),
        ("ATTACH DATABASE '/etc/x.db' AS x;", "ATTACH", 1),
        ("/* hi */ attach '/tmp/x' as y;", "ATTACH", 1),
        ("EXPLAIN ATTACH 'x' AS y;", "ATTACH", 1),
        ("DETACH x;", "DETACH", 1),
        ("PRAGMA journal_mode = DELETE;", "journal_mode", 1),
        ("PRAGMA main.journal_mode=WAL;", "journal_mode", 1),
        ("PRAGMA writable_schema = 1;", "writable_schema", 1),
        ("PRAGMA schema_version = 7;", "schema_version", 1),
        ("PRAGMA ignore_check_constraints = ON;", "ignore_check_constraints", 1),
        ("UPDATE sqlite_master SET sql = 'x' WHERE name = 'a';", "sqlite_master", 1),
        ("INSERT INTO main.sqlite_schema VALUES(1,2,3,4,5);", "sqlite_schema", 1),
        ("DELETE FROM \"sqlite_master\" WHERE 1;", "sqlite_master", 1),
        ("CREATE TABLE a(x);\n.shell rm -rf /\n", ".shell", 2),
        ("CREATE TABLE a(x);\n.system id\n", ".system", 2),
        (".output /tmp/x\nSELECT 1;", ".output", 1),
        ("SELECT load_extension('/tmp/evil.so');", "load_extension", 1),
        ("SELECT \"load_extension\"('/tmp/evil.so');", "load_extension", 1),
        ("SELECT [writefile]('/tmp/x', 'y');", "writefile", 1),
        ("SELECT WriteFile /* c */ ('/tmp/x', 'y');", "WriteFile", 1),
        ("SELECT readfile('/proc/self/environ');", "readfile", 1),
        ("SELECT edit('x', 'vi');", "edit", 1),
        ("SELECT name FROM fsdir('/');", "fsdir", 1),
        ("CREATE VIRTUAL TABLE z USING zipfile('/tmp/a.zip');", "zipfile", 1),
        ("SELECT sha3_query('DR' || 'OP TABLE users');", "sha3_query", 1),
        ("INSERT INTO sqlite_dbpage VALUES (1, zeroblob(4096));", "sqlite_dbpage", 1),
        ("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT writefile('/tmp/x', new.x); END;", "writefile", 1),
        ("UPDATE temp._opsbot_counts SET n = 0;", "_opsbot", 1),
        ("DROP TABLE _opsbot_guard;", "_opsbot", 1),
        ("CREATE VIRTUAL TABLE c USING csv(filename='/etc/passwd');", "module csv", 1),
        ("CREATE TABLE a(x /* open comment", "unfinished", 1),
        ("CREATE TABLE a(x);\nINSERT INTO a VALUES('never closed);\n", "unfinished", 2),
        ("CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1;\n", "unfinished", 1),
        ("BEGIN;\nCREATE TABLE a(x);\n", "never committed", 1),
    ],
)
def test_refused_with_its_line(tmp_path: Path, sql: str, word: str, line: int) -> None:
    found = errors(tmp_path, sql)
    assert any(word in message and f"line {line}:" in message for message in found), found


def test_multiline_comment_then_dot_line_is_sql_not_a_dot_command(tmp_path: Path) -> None:
    # The CLI has a statement buffered (the open comment), so `.shell` is SQL text, not a command:
    # SQLite would refuse it as a syntax error, and lint refuses it as not SQL.
    m = lint_file(tmp_path, "/* a\n b */\n.shell touch /tmp/pwned\nSELECT 1;\n")
    assert [f.line for f in m.errors] == [3] and "not an SQL statement" in m.errors[0].message


def test_trigger_bodies_strings_and_comments_are_not_statements(tmp_path: Path) -> None:
    m = lint_file(tmp_path, """
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE b SET n = n + 1 WHERE id = new.id;
    END;
    INSERT INTO notes VALUES ('BEGIN; COMMIT; VACUUM; .shell; readfile(x)');
    -- COMMIT in a comment is fine
    /* ATTACH too */ SELECT "a;b", [c;d], `e;f`;
    """)
    assert m.errors == ()
    assert [s.line for s in m.statements] == [2, 5, 7]


def test_sqlite_org_twelve_steps_are_normalised_not_refused(tmp_path: Path) -> None:
    m = lint_file(tmp_path, "PRAGMA foreign_keys=off;\nBEGIN TRANSACTION;\nCREATE TABLE new_x(a);\n"
                            "INSERT INTO new_x SELECT a FROM x;\nDROP TABLE x;\nALTER TABLE new_x RENAME TO x;\n"
                            "PRAGMA foreign_key_check;\nCOMMIT;\nPRAGMA foreign_keys=on;\n")
    assert m.errors == ()
    assert m.sql.startswith("CREATE TABLE new_x") and "COMMIT" not in m.sql and "PRAGMA" not in m.sql
    notes = " ".join(m.notes)
    assert "own BEGIN" in notes and "own COMMIT" in notes and "foreign_keys" in notes


def test_drizzle_step_out_is_folded(tmp_path: Path) -> None:
    m = lint_file(tmp_path, "CREATE TABLE a(x);\nCOMMIT;\nPRAGMA foreign_keys=OFF;\nBEGIN;\nCREATE TABLE b(y);\n")
    assert m.errors == ()
    assert "folded the COMMIT … BEGIN at lines 2–4" in " ".join(m.notes)
    assert m.sql == "CREATE TABLE a(x);\nCREATE TABLE b(y);\n"


@pytest.mark.parametrize("pragma", ["PRAGMA foreign_keys = OFF;", "PRAGMA foreign_keys=0;",
                                    "pragma FOREIGN_KEYS = true;", "PRAGMA defer_foreign_keys = ON;",
                                    "PRAGMA foreign_key_check;", "PRAGMA foreign_key_check(a);"])
def test_foreign_key_pragmas_anywhere_are_dropped(tmp_path: Path, pragma: str) -> None:
    m = lint_file(tmp_path, f"CREATE TABLE a(x);\n{pragma}\nCREATE TABLE b(x);\n")
    assert m.errors == () and "PRAGMA" not in m.sql.upper() and m.notes


def test_cli_lines_the_cli_understands(tmp_path: Path) -> None:
    m = lint_file(tmp_path, ".bail on\n.timeout 5000\n.headers off\n.mode list\n.echo off\n# a CLI comment\n"
                            "CREATE TABLE a(x)\ngo\nCREATE TABLE b(x);\n")
    assert m.errors == ()
    assert len(m.statements) == 2
    assert sum("dropped the CLI setting" in n for n in m.notes) == 5
    assert any("`#` line" in n for n in m.notes) and any("`go`" in n for n in m.notes)


def test_a_last_statement_without_its_semicolon_runs_as_the_cli_runs_it(tmp_path: Path) -> None:
    m = lint_file(tmp_path, "CREATE TABLE a(x);\nUPDATE a SET x = 1 WHERE x = 2\n")
    assert m.errors == () and m.sql.endswith("WHERE x = 2;\n") and any("line 2: added the `;`" in n for n in m.notes)


def test_bom_and_comment_only_files(tmp_path: Path) -> None:
    m = lint_file(tmp_path, b"\xef\xbb\xbfCREATE TABLE a(x);\n")
    assert m.errors == () and any("byte-order mark" in n for n in m.notes)
    empty = lint_file(tmp_path, "-- nothing to do yet\n/* really */\n", "e.sql")
    assert empty.errors == () and empty.statements == () and any("no-op" in n for n in empty.notes)


def test_warnings_for_destructive_statements(tmp_path: Path) -> None:
    m = lint_file(tmp_path, "DROP TABLE a;\nDELETE FROM b;\nUPDATE c SET x = 1;\nALTER TABLE d DROP COLUMN e;\n"
                            "DELETE FROM f WHERE id = 1;\nUPDATE g SET x = (SELECT y FROM h WHERE h.id = 1);\n")
    found = [str(w) for w in m.warnings]
    assert any("line 1: DROP TABLE a" in w for w in found)
    assert any("line 2: DELETE without WHERE" in w for w in found)
    assert any("line 3: UPDATE without WHERE" in w for w in found)
    assert any("line 4: ALTER TABLE d DROP COLUMN" in w for w in found)
    assert any("line 6: UPDATE without WHERE" in w for w in found)  # the WHERE is the subquery's
    assert len([w for w in found if "without WHERE" in w]) == 3


def test_headers_come_from_real_comments_only() -> None:
    sql = ("-- check: SELECT 1\n-- manual: bot works\n-- requires: a, b\n-- allow-row-loss: logs\n"
           "INSERT INTO t VALUES ('\n-- check: SELECT 0\n');\n")
    h = parse_headers(sql)
    assert h == {"check": [(1, "SELECT 1")], "manual": [(2, "bot works")], "requires": [(3, "a, b")],
                 "allow-row-loss": [(4, "logs")]}


@pytest.mark.parametrize("check", ["DELETE FROM a", "SELECT 1); DROP TABLE a; SELECT (1", "SELECT 1) OR (1",
                                   "SELECT readfile('/etc/passwd') IS NULL", "SELECT 1; SELECT 2",
                                   "SELECT count(*) FROM temp._opsbot_counts"])
def test_check_must_be_a_single_harmless_select(tmp_path: Path, check: str) -> None:
    m = lint_file(tmp_path, f"-- check: {check}\nCREATE TABLE z(x);\n")
    assert any("check 1" in f.message and f.line == 1 for f in m.errors), m.findings


@pytest.mark.parametrize("name", ["../etc/passwd.sql", "a;rm -rf.sql", "x" * 300 + ".sql", "$(id).sql", "a.txt", ""])
def test_hostile_names_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "mig").mkdir()
    with pytest.raises(UsageError):
        load(tmp_path / "mig", name)


def test_non_utf8_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_bytes(b"CREATE TABLE \xff\xfe(x);")
    with pytest.raises(OpsError, match="UTF-8"):
        load(tmp_path, "bad.sql")


def test_shipped_migration_is_clean() -> None:
    m = load(Path(__file__).resolve().parent.parent / "migrations", "0001_remove_suspend.sql")
    assert m.errors == ()
    assert len(m.checks) == 3 and m.requires == ("user_settings", "activity_logs", "suspend_history")
