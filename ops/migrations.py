"""Migration files: finding them, reading their header comments, and linting them.

The engine owns the transaction, so a file may not open, end or split one, and may not do
what SQLite refuses inside one (VACUUM, journal-mode changes) or reach outside the database
(ATTACH, load_extension, sqlite3 dot-commands such as ``.shell``).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError, UsageError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.sql$")
MAX_BYTES = 5 * 1024 * 1024

# (minimum sqlite version, regex, feature) for features older hosts lack.
VERSION_NEEDS: tuple[tuple[tuple[int, int, int], str, str], ...] = (
    ((3, 35, 0), r"\bDROP\s+COLUMN\b", "ALTER TABLE … DROP COLUMN"),
    ((3, 25, 0), r"\bRENAME\s+COLUMN\b", "ALTER TABLE … RENAME COLUMN"),
    ((3, 35, 0), r"\bRETURNING\b", "RETURNING"),
    ((3, 37, 0), r"\)\s*STRICT\b", "STRICT tables"),
    ((3, 31, 0), r"\bGENERATED\s+ALWAYS\b", "generated columns"),
    ((3, 24, 0), r"\bON\s+CONFLICT\b[^;]*\bDO\b", "UPSERT"),
    ((3, 38, 0), r"->>", "the ->> operator"),
)


@dataclass(frozen=True)
class Finding:
    level: str  # "error" refuses the file; "warning" is shown in every report
    message: str
    line: int = 0

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.level}: {where}{self.message}"


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path
    sql: str
    sha256: str
    checks: tuple[str, ...]
    manual: tuple[str, ...]
    requires: tuple[str, ...]
    allow_row_loss: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")

    def needs_version(self) -> list[tuple[tuple[int, int, int], str]]:
        body = strip_comments_and_strings(self.sql)
        return [(v, what) for v, rx, what in VERSION_NEEDS if re.search(rx, body, re.IGNORECASE)]


def list_migrations(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file() and NAME_RE.match(p.name))


def load(directory: Path, name: str) -> Migration:
    """Read and lint a migration by file name. Names are plain file names, nothing else."""
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"{name[:80]!r} is not a migration name",
            hint="Give the file name of a .sql file in MIGRATIONS_DIR (letters, digits, . _ -), e.g. "
            "0001_remove_suspend.sql.",
        )
    path = directory / name
    if not path.is_file():
        known = ", ".join(list_migrations(directory)) or "none"
        raise UsageError(f"no migration {name} in {directory}", hint=f"Known migrations: {known}.")
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise OpsError(f"{name} is larger than {MAX_BYTES // 1024 // 1024} MiB", hint="Split the migration.")
    try:
        sql = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OpsError(
            f"{name} is not valid UTF-8 (byte {exc.start})", hint="Save the file as UTF-8 and try again."
        ) from exc
    headers = parse_headers(sql)
    findings = lint(sql) + lint_checks(headers["check"])
    return Migration(
        name=name,
        path=path,
        sql=sql,
        sha256=hashlib.sha256(raw).hexdigest(),
        checks=tuple(headers["check"]),
        manual=tuple(headers["manual"]),
        requires=tuple(t for v in headers["requires"] for t in split_names(v)),
        allow_row_loss=tuple(t for v in headers["allow-row-loss"] for t in split_names(v)),
        findings=tuple(findings),
    )


HEADER_RE = re.compile(r"^\s*--\s*(check|manual|requires|allow-row-loss)\s*:\s*(.+?)\s*$", re.IGNORECASE)


def parse_headers(sql: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"check": [], "manual": [], "requires": [], "allow-row-loss": []}
    for line in sql.splitlines():
        match = HEADER_RE.match(line)
        if match:
            found[match.group(1).lower()].append(match.group(2).rstrip(";").strip())
    return found


def split_names(value: str) -> list[str]:
    return [n.strip().strip('"') for n in value.split(",") if n.strip()]


def strip_comments_and_strings(sql: str) -> str:
    """Replace comments and string literals by spaces, keeping line breaks (for line numbers)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", sql[i:end]))
            i = end
        elif ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if sql[j] == close and sql.startswith(close * 2, j) and close != "]":
                    j += 2
                    continue
                if sql[j] == close:
                    break
                j += 1
            keep = ch if ch != "'" else "'"
            inner = re.sub(r"[^\n]", " ", sql[i + 1 : j])
            out.append(keep + inner + (close if j < n else ""))
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def statements(sql: str) -> list[tuple[int, str]]:
    """Split into complete statements (trigger bodies stay whole), with their first line."""
    result: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for lineno, line in enumerate(sql.splitlines(keepends=True), start=1):
        if not buf and not line.strip():
            continue
        if not buf:
            start = lineno
        buf.append(line)
        text = "".join(buf)
        if sqlite3.complete_statement(text):
            result.append((start, text))
            buf = []
    if buf and strip_comments_and_strings("".join(buf)).strip():
        result.append((start, "".join(buf)))
    return result


REFUSED_START = {
    "BEGIN": "opens a transaction: the engine wraps the whole file in BEGIN IMMEDIATE … COMMIT itself",
    "COMMIT": "commits part of the migration early: the engine commits once, after every check passed",
    "END": "commits part of the migration early: the engine commits once, after every check passed",
    "ROLLBACK": "ends the engine's transaction: a failing statement already rolls everything back",
    "SAVEPOINT": "splits the engine's transaction; remove it",
    "RELEASE": "splits the engine's transaction; remove it",
    "VACUUM": "cannot run inside a transaction; run it separately after the migration",
    "ATTACH": "reaches outside the database being migrated",
    "DETACH": "reaches outside the database being migrated",
}
REFUSED_PRAGMAS = {
    "journal_mode": "cannot change inside a transaction; the journal mode is the app's choice",
    "foreign_keys": "is silently ignored inside a transaction; the engine keeps foreign keys off and runs "
    "PRAGMA foreign_key_check before COMMIT",
    "writable_schema": "can corrupt the database",
    "locking_mode": "would keep the app locked out after the migration",
    "synchronous": "is a connection setting of the app, not part of a migration",
}


def lint(sql: str) -> list[Finding]:
    findings: list[Finding] = []
    clean = strip_comments_and_strings(sql)
    for lineno, line in enumerate(clean.splitlines(), start=1):
        if line.lstrip().startswith("."):
            findings.append(Finding("error", "sqlite3 dot-commands (lines starting with '.') are not allowed", lineno))
    if re.search(r"\bload_extension\s*\(", clean, re.IGNORECASE):
        findings.append(Finding("error", "load_extension() is not allowed in a migration"))
    for lineno, text in statements(sql):
        findings += lint_statement(lineno, strip_comments_and_strings(text))
    if not any(strip_comments_and_strings(t).strip(" \n\t;") for _, t in statements(sql)):
        findings.append(Finding("error", "the file has no SQL statements"))
    return findings


def lint_statement(lineno: int, text: str) -> list[Finding]:
    words = re.findall(r"[A-Za-z_]+", text)
    if not words:
        return []
    first = words[0].upper()
    upper = text.upper()
    if first in REFUSED_START:
        return [Finding("error", f"{first} {REFUSED_START[first]}", lineno)]
    if first == "PRAGMA":
        name = words[1].lower() if len(words) > 1 else ""
        if name in REFUSED_PRAGMAS:
            return [Finding("error", f"PRAGMA {name} {REFUSED_PRAGMAS[name]}", lineno)]
        if name not in ("user_version", "application_id") and "=" not in text and "(" not in text:
            return []
        if name not in ("user_version", "application_id"):
            return [Finding("warning", f"PRAGMA {name} changes a setting; check it belongs in a migration", lineno)]
        return []
    found: list[Finding] = []
    if first == "DROP" and re.match(r"\s*DROP\s+TABLE\b", upper):
        found.append(Finding("warning", "DROP TABLE deletes a table and all its rows", lineno))
    if re.search(r"\bALTER\s+TABLE\b.*\bDROP\s+(COLUMN\s+)?", upper, re.DOTALL) and first == "ALTER":
        found.append(Finding("warning", "DROP COLUMN deletes a column's data", lineno))
    if first in ("DELETE", "UPDATE", "WITH") and not re.search(r"\bCREATE\s+TRIGGER\b", upper):
        verb = "DELETE" if re.search(r"\bDELETE\b", upper) else "UPDATE" if re.search(r"\bUPDATE\b", upper) else ""
        if verb and not re.search(r"\bWHERE\b", upper):
            found.append(Finding("warning", f"{verb} without WHERE touches every row", lineno))
    return found


def lint_checks(checks: list[str]) -> list[Finding]:
    findings = []
    for i, check in enumerate(checks, start=1):
        body = strip_comments_and_strings(check).strip().rstrip(";")
        first = (re.findall(r"[A-Za-z]+", body) or [""])[0].upper()
        if first not in ("SELECT", "WITH", "VALUES") or ";" in body:
            findings.append(Finding("error", f"check {i} must be a single SELECT that returns 1 when it holds"))
    return findings


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)
