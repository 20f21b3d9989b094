"""Migration files: finding them, reading them as SQLite does, their header comments, lint.

A file is read in three steps: its tool's layout gives the *up* part (ops.layouts), the sqlite3
CLI's rules give its statements (ops.sqltext), and lint decides what runs, what is normalised
away with a note and what is refused (ops.lint). ``Migration.sql`` is exactly the SQL that
runs, one statement per line group, each as the file wrote it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError, UsageError
from ops.layouts import Source, discover, sections
from ops.lint import Finding, TableEffect, lint_check, plan
from ops.sqltext import Statement, comments, read_script

__all__ = ["Finding", "Migration", "list_migrations", "load", "parse_headers", "parse_version", "resolve_name"]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
MAX_BYTES = 5 * 1024 * 1024
BOM = "\ufeff"

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
class Migration:
    name: str
    path: Path
    sql: str  # what runs: the kept statements, in order
    sha256: str  # of the file as it is on disk
    checks: tuple[str, ...]
    manual: tuple[str, ...]
    requires: tuple[str, ...]
    allow_row_loss: tuple[str, ...]
    findings: tuple[Finding, ...]
    tool: str = "plain"
    notes: tuple[str, ...] = ()
    down: str | None = None
    statements: tuple[Statement, ...] = ()
    effects: tuple[TableEffect, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")

    def row_loss_allowed(self, operator: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The tables that may lose rows: the file's ``-- allow-row-loss:`` and the operator's word."""
        return tuple(dict.fromkeys(self.allow_row_loss + tuple(operator)))

    @property
    def sql_sha256(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def needs_version(self) -> list[tuple[tuple[int, int, int], str]]:
        body = " ".join(" ".join(t.text for t in s.tokens if t.kind not in ("string",)) for s in self.statements)
        return [(v, what) for v, rx, what in VERSION_NEEDS if re.search(rx, body, re.IGNORECASE)]


def list_migrations(directory: Path) -> list[str]:
    """Names in the order the folder's tool applies them."""
    return [s.name for s in discover(directory)]


NAME_HINT = ("Give the file name of a migration in MIGRATIONS_DIR (letters, digits, . _ -), e.g. "
             "0001_remove_suspend.sql.")


def resolve_name(directory: Path, given: str) -> str:
    """The CLI's argument: a name, or a path (tab completion gives ``migrations/0001_x.sql``) to a
    migration inside MIGRATIONS_DIR, which names that migration. The bot takes names only."""
    if "/" not in given and "\\" not in given:
        return given
    return _name_from_path(directory, given, {s.name: s for s in discover(directory)})


def _find(directory: Path, name: str) -> Source:
    if not NAME_RE.match(name or ""):
        raise UsageError(f"{(name or '')[:80]!r} is not a migration name", hint=NAME_HINT)
    found = {s.name: s for s in discover(directory)}
    if name not in found:
        known = ", ".join(found) or "none"
        raise UsageError(f"no migration {name} in {directory}", hint=f"Known migrations: {known[:1500]}.")
    return found[name]


def _name_from_path(directory: Path, given: str, found: dict[str, Source]) -> str:
    """A path (tab completion gives ``migrations/0001_x.sql``) names the migration it is inside the folder."""
    root = directory.resolve()
    target = Path(given).resolve()
    if target != root and root not in target.parents:
        raise UsageError(f"{given[:120]} is outside MIGRATIONS_DIR ({directory})",
                         hint="Give the file name of a migration in MIGRATIONS_DIR: migrations run only from there "
                              "(move the file in first).")
    for source in found.values():
        if target in (source.path.resolve(), (source.entry or source.path).resolve()):
            return source.name
    raise UsageError(f"{given[:120]} is not a migration in {directory}",
                     hint=f"Give the file name of a migration: {', '.join(found)[:1500] or 'none'}.")


def _refuse_links(directory: Path, source: Source) -> None:
    root = directory.resolve()
    for p in {source.path, source.entry or source.path, *( [source.down_path] if source.down_path else [])}:
        if p.is_symlink() or (p.parent != directory and p.parent.is_symlink()):
            raise OpsError(f"{source.name} is a symbolic link", hint="Migrations must be regular files inside "
                           "MIGRATIONS_DIR: copy the file there instead of linking it.")
        if root not in p.resolve().parents:
            raise OpsError(f"{source.name} resolves outside MIGRATIONS_DIR", hint="Copy the file into MIGRATIONS_DIR.")


def _read(path: Path, name: str) -> tuple[bytes, str]:
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise OpsError(f"{name} is larger than {MAX_BYTES // 1024 // 1024} MiB", hint="Split the migration.")
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OpsError(f"{name} is not valid UTF-8 (byte {exc.start})",
                       hint="Save the file as UTF-8 and try again.") from exc


def load(directory: Path, name: str) -> Migration:
    """Find, read and lint a migration. Names are looked up among what the folder holds, never built into paths."""
    source = _find(directory, name)
    _refuse_links(directory, source)
    raw, text = _read(source.path, source.name)
    notes: list[str] = []
    if text.startswith(BOM):
        text = text[1:]
        notes.append("removed the UTF-8 byte-order mark at the start of the file")
    down = _read(source.down_path, source.name)[1].lstrip(BOM) if source.down_path else None
    parts = sections(source, text, down)
    script = read_script(parts.up, breakpoints=parts.breakpoints)
    lint = plan(script)
    headers = parse_headers(text)
    findings = [Finding("error", msg, line) for line, msg in parts.errors] + list(lint.findings)
    for i, (line, check) in enumerate(headers["check"], start=1):
        findings += lint_check(check, i, line)
    return Migration(
        name=source.name,
        path=source.path,
        sql="".join(s.text + "\n" for s in lint.statements),
        sha256=hashlib.sha256(raw).hexdigest(),
        checks=tuple(c for _, c in headers["check"]),
        manual=tuple(m for _, m in headers["manual"]),
        requires=tuple(t for _, v in headers["requires"] for t in split_names(v)),
        allow_row_loss=tuple(t for _, v in headers["allow-row-loss"] for t in split_names(v)),
        findings=tuple(sorted(findings, key=lambda f: (f.level != "error", f.line))),
        tool=parts.tool,
        notes=tuple(notes) + parts.notes + lint.notes,
        down=parts.down,
        statements=lint.statements,
        effects=lint.effects,
    )


HEADER_RE = re.compile(r"^\s*(check|manual|requires|allow-row-loss)\s*:\s*(.+?)\s*$", re.IGNORECASE)


def parse_headers(sql: str) -> dict[str, list[tuple[int, str]]]:
    """``-- check:`` and friends, from real comments only (not from inside a string)."""
    found: dict[str, list[tuple[int, str]]] = {"check": [], "manual": [], "requires": [], "allow-row-loss": []}
    for line, text in comments(sql):
        match = HEADER_RE.match(text)
        if match:
            found[match.group(1).lower()].append((line, match.group(2).rstrip(";").strip()))
    return found


def split_names(value: str) -> list[str]:
    return [n.strip().strip('"') for n in value.split(",") if n.strip()]


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)
