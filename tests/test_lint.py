"""Lint refuses what would break the engine's transaction or reach outside the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.errors import OpsError, UsageError
from ops.migrations import lint, load, parse_headers


def errors(sql: str) -> list[str]:
    return [f.message for f in lint(sql) if f.level == "error"]


def warnings(sql: str) -> list[str]:
    return [f.message for f in lint(sql) if f.level == "warning"]


@pytest.mark.parametrize(
    "sql, word",
    [
        ("BEGIN; CREATE TABLE a(x); COMMIT;", "BEGIN"),
        ("CREATE TABLE a(x);\nCOMMIT;\nCREATE TABLE b(x);", "COMMIT"),
        ("CREATE TABLE a(x);\nEND TRANSACTION;", "END"),
        ("ROLLBACK;", "ROLLBACK"),
        ("SAVEPOINT s1; CREATE TABLE a(x);", "SAVEPOINT"),
        ("VACUUM;", "VACUUM"),
        ("ATTACH DATABASE '/etc/x.db' AS x;", "ATTACH"),
        ("PRAGMA journal_mode = DELETE;", "journal_mode"),
        ("PRAGMA foreign_keys = ON;", "foreign_keys"),
        ("CREATE TABLE a(x);\n.shell rm -rf /\n", "dot-commands"),
        ("SELECT load_extension('/tmp/evil.so');", "load_extension"),
        ("-- only a comment\n", "no SQL"),
    ],
)
def test_refused(sql: str, word: str) -> None:
    found = errors(sql)
    assert found, f"expected a refusal for {sql!r}"
    assert any(word in message for message in found), found


def test_trigger_bodies_and_strings_are_not_transaction_statements() -> None:
    sql = """
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE b SET n = n + 1 WHERE id = new.id;
    END;
    INSERT INTO notes VALUES ('BEGIN; COMMIT; VACUUM; .shell');
    -- COMMIT in a comment is fine
    /* ATTACH too */
    """
    assert errors(sql) == []


def test_warnings_for_destructive_statements() -> None:
    found = warnings("DROP TABLE a;\nDELETE FROM b;\nUPDATE c SET x = 1;\nALTER TABLE d DROP COLUMN e;\n"
                     "DELETE FROM f WHERE id = 1;")
    assert any("DROP TABLE" in w for w in found)
    assert any("DELETE without WHERE" in w for w in found)
    assert any("UPDATE without WHERE" in w for w in found)
    assert any("DROP COLUMN" in w for w in found)
    assert len([w for w in found if "without WHERE" in w]) == 2


def test_headers() -> None:
    sql = "-- check: SELECT 1\n-- manual: bot works\n-- requires: a, b\n-- allow-row-loss: logs\nSELECT 1;"
    h = parse_headers(sql)
    assert h == {"check": ["SELECT 1"], "manual": ["bot works"], "requires": ["a, b"], "allow-row-loss": ["logs"]}


def test_check_must_be_a_single_select(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text("-- check: DELETE FROM a\nCREATE TABLE z(x);\n")
    m = load(tmp_path, "m.sql")
    assert any("check 1" in f.message for f in m.errors)


@pytest.mark.parametrize("name", ["../etc/passwd.sql", "a;rm -rf.sql", "x" * 300 + ".sql", "$(id).sql", "a.txt", ""])
def test_hostile_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        load(tmp_path, name)


def test_non_utf8_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_bytes(b"CREATE TABLE \xff\xfe(x);")
    with pytest.raises(OpsError, match="UTF-8"):
        load(tmp_path, "bad.sql")


def test_shipped_migration_is_clean() -> None:
    m = load(Path(__file__).resolve().parent.parent / "migrations", "0001_remove_suspend.sql")
    assert m.errors == ()
    assert len(m.checks) == 3 and m.requires == ("user_settings", "activity_logs", "suspend_history")
