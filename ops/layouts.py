"""Migration folders as the tools lay them out, and the *up* part of each file.

``MIGRATIONS_DIR`` may be any of: plain numbered ``.sql`` files; goose / sql-migrate / dbmate
files with up and down sections; golang-migrate or sqlx ``N_name.up.sql`` + ``.down.sql``; a
Prisma ``migrations/`` folder (``<timestamp>_<name>/migration.sql``); a drizzle-kit folder
(``meta/_journal.json`` gives the order); Flyway ``V<version>__<name>.sql`` (+ ``U…`` undo);
Diesel ``<version>_<name>/up.sql`` + ``down.sql``; an Atlas directory (``atlas.sum``).
Only the up part ever runs; the down part is kept to show as the author's own undo.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

GOOSE_RE = re.compile(r"^--\s*\+(goose|migrate)\s+(\S+)(.*)$", re.IGNORECASE)
DBMATE_RE = re.compile(r"^--\s*migrate:(up|down)\b(.*)$")
DOWNISH_RE = re.compile(r"^--\s*(?:\+\w+\s+|\w+:\s*|=+\s*|#+\s*)?(down|rollback|undo)\b", re.IGNORECASE)
FLYWAY_RE = re.compile(r"^([VUR])([0-9][0-9._]*)?__(.+)\.sql$")
PAIR_RE = re.compile(r"^([0-9]+)_(.+)\.(up|down)\.sql$")
VERSION_RE = re.compile(r"^([0-9]+)")
DRIZZLE_BREAK = "--> statement-breakpoint"


@dataclass(frozen=True)
class Source:
    name: str  # what users type: a file name, or a folder name for folder layouts
    path: Path  # the file whose up part runs
    tool: str
    down_path: Path | None = None
    order: tuple = field(default=(), compare=False, repr=False)
    entry: Path | None = None  # the folder or file MIGRATIONS_DIR lists (for the symlink check)


@dataclass(frozen=True)
class Sections:
    up: str  # the up part, other lines blanked so line numbers stay the file's
    down: str | None
    notes: tuple[str, ...]
    errors: tuple[tuple[int, str], ...]  # (line, message): the file cannot be split safely
    breakpoints: tuple[str, ...] = ()
    tool: str = "plain"


def _flyway_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.split(r"[._]", version) if p)


def discover(directory: Path) -> list[Source]:
    """Every migration in ``directory`` in the order its tool applies them."""
    if not directory.is_dir():
        return []
    entries = sorted(directory.iterdir(), key=lambda p: p.name)
    if (directory / "meta" / "_journal.json").is_file():
        return _drizzle(directory)
    folders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    if (directory / "migration_lock.toml").is_file() or any((p / "migration.sql").is_file() for p in folders):
        return [Source(p.name, p / "migration.sql", "prisma", None, (p.name,), p)
                for p in folders if (p / "migration.sql").is_file()]
    if any((p / "up.sql").is_file() for p in folders):
        found = [Source(p.name, p / "up.sql", "diesel", p / "down.sql" if (p / "down.sql").is_file() else None,
                        (p.name.split("_", 1)[0], p.name), p) for p in folders if (p / "up.sql").is_file()]
        return sorted(found, key=lambda s: s.order)
    return _files(directory, [p for p in entries if p.name.endswith(".sql") and not p.is_dir()])


def _files(directory: Path, files: list[Path]) -> list[Source]:
    atlas = (directory / "atlas.sum").is_file()
    names = {p.name for p in files}
    versioned: list[Source] = []
    repeatable: list[Source] = []
    for p in files:
        fly = FLYWAY_RE.match(p.name)
        pair = PAIR_RE.match(p.name)
        if fly and fly.group(1) == "V" and fly.group(2):
            undo = directory / f"U{fly.group(2)}__{fly.group(3)}.sql"
            versioned.append(Source(p.name, p, "flyway", undo if undo.name in names else None,
                                    (0, _flyway_key(fly.group(2)), p.name), p))
        elif fly and fly.group(1) == "R" and not fly.group(2):
            repeatable.append(Source(p.name, p, "flyway", None, (2, (), fly.group(3)), p))
        elif fly:
            continue  # undo files belong to their V file
        elif pair:
            if pair.group(3) == "up":
                down = directory / f"{pair.group(1)}_{pair.group(2)}.down.sql"
                versioned.append(Source(p.name, p, "golang-migrate", down if down.name in names else None,
                                        (0, (int(pair.group(1)),), p.name), p))
        elif p.name.endswith(".down.sql"):
            continue
        else:
            match = VERSION_RE.match(p.name)
            order = (0, (int(match.group(1)),), p.name) if match else (1, (), p.name)
            versioned.append(Source(p.name, p, "atlas" if atlas else "plain", None, order, p))
    return sorted(versioned, key=lambda s: s.order) + sorted(repeatable, key=lambda s: s.order)


def _drizzle(directory: Path) -> list[Source]:
    try:
        journal = json.loads((directory / "meta" / "_journal.json").read_text(encoding="utf-8"))
        entries = sorted(journal.get("entries", []), key=lambda e: int(e.get("idx", 0)))
    except (OSError, ValueError, TypeError, AttributeError):
        return []
    found = []
    for e in entries:
        tag = str(e.get("tag", ""))
        path = directory / f"{tag}.sql"
        if tag and "/" not in tag and path.is_file():
            found.append(Source(path.name, path, "drizzle", None, (int(e.get("idx", 0)),), path))
    return found


def sections(source: Source, text: str, down_text: str | None = None) -> Sections:
    """Split ``text`` the way its tool does; only the returned ``up`` ever runs."""
    lines = text.splitlines(keepends=True)
    marked = [(i, m) for i, ln in enumerate(lines, start=1) if (m := GOOSE_RE.match(ln.strip()))]
    dbmate = [(i, m) for i, ln in enumerate(lines, start=1) if (m := DBMATE_RE.match(ln.strip()))]
    if source.tool in ("plain", "atlas") and marked:
        return _annotated(lines, marked)
    if source.tool in ("plain", "atlas") and dbmate:
        return _dbmate(lines, dbmate)
    notes: list[str] = []
    errors: list[tuple[int, str]] = []
    if source.tool in ("plain", "atlas"):
        for i, ln in enumerate(lines, start=1):
            if DOWNISH_RE.match(ln.strip()):
                errors.append((i, f"line {i} looks like the start of a down section ({ln.strip()[:60]!r}) but "
                                  "the file has no up/down markers opsbot knows (goose, sql-migrate, dbmate): split "
                                  "it into an up file and a down file, or mark the sections"))
                break
    if source.tool == "atlas":
        notes += _atlas_directives(lines, errors)
    if source.tool == "drizzle":
        return Sections(text, down_text, tuple(notes), tuple(errors), (DRIZZLE_BREAK,), source.tool)
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if source.tool in ("plain", "golang-migrate") and first.lower().startswith("-- no-transaction"):
        notes.append("the file asks for no transaction (sqlx `-- no-transaction`); opsbot runs it in one anyway: "
                     "everything that cannot run inside one is refused")
    return Sections(text, down_text, tuple(notes), tuple(errors), (), source.tool)


def _blank_outside(lines: list[str], start: int, end: int) -> str:
    """Keep lines start..end-1 (1-based), blank the rest: line numbers stay the file's."""
    return "".join(ln if start <= i < end else ("\n" if ln.endswith("\n") else "")
                   for i, ln in enumerate(lines, start=1))


def _annotated(lines: list[str], marked: list[tuple[int, re.Match[str]]]) -> Sections:
    """goose (``-- +goose Up``) and sql-migrate (``-- +migrate Up``) files."""
    tool = marked[0][1].group(1).lower()
    tool = "goose" if tool == "goose" else "sql-migrate"
    ups = [i for i, m in marked if m.group(2).lower() == "up"]
    downs = [i for i, m in marked if m.group(2).lower() == "down"]
    notes: list[str] = []
    errors: list[tuple[int, str]] = []
    for i, m in marked:
        word = m.group(2).lower()
        if word in ("envsub",) and "on" in m.group(3).lower():
            errors.append((i, f"line {i}: `+{tool} ENVSUB ON` substitutes environment variables into the SQL; "
                              "opsbot never does that (the bot's environment holds its secrets)"))
        elif word in ("no", "notransaction"):
            notes.append(f"the file asks for no transaction (`+{tool} {m.group(2)}{m.group(3)}`); opsbot runs it in "
                         "one anyway: everything that cannot run inside one is refused")
    if len(ups) != 1 or len(downs) > 1 or (downs and downs[0] < ups[0]):
        where = ups[1] if len(ups) > 1 else (downs[0] if downs else (marked[0][0]))
        errors.append((where, f"the {tool} up/down sections cannot be told apart ({len(ups)} Up and {len(downs)} "
                              "Down annotations, Up must come first): the file is refused, never run whole"))
        return Sections("", None, tuple(notes), tuple(errors), (), tool)
    end = downs[0] if downs else len(lines) + 1
    down = "".join(lines[end:]) if downs else None
    kept = "; the Down section is kept as the author's undo" if downs else ""
    notes.insert(0, f"took the {tool} Up section (lines {ups[0] + 1}–{end - 1}){kept}")
    return Sections(_blank_outside(lines, ups[0] + 1, end), down, tuple(notes), tuple(errors), (), tool)


def _dbmate(lines: list[str], marks: list[tuple[int, re.Match[str]]]) -> Sections:
    ups = [i for i, m in marks if m.group(1) == "up"]
    downs = [i for i, m in marks if m.group(1) == "down"]
    notes: list[str] = []
    if len(ups) != 1 or len(downs) > 1 or (downs and downs[0] < ups[0]):
        return Sections("", None, (), ((marks[0][0], "the dbmate `-- migrate:up` / `-- migrate:down` sections cannot "
                                                     "be told apart: the file is refused, never run whole"),), (),
                        "dbmate")
    options = next(m.group(2) for i, m in marks if i == ups[0])
    if re.search(r"transaction\s*:\s*false", options):
        notes.append("the file asks for no transaction (`transaction:false`); opsbot runs it in one anyway: "
                     "everything that cannot run inside one is refused")
    end = downs[0] if downs else len(lines) + 1
    down = "".join(lines[end:]) if downs else None
    kept = "; the down section is kept as the author's undo" if downs else ""
    notes.insert(0, f"took the dbmate up section (lines {ups[0] + 1}–{end - 1}){kept}")
    return Sections(_blank_outside(lines, ups[0] + 1, end), down, tuple(notes), (), (), "dbmate")


def _atlas_directives(lines: list[str], errors: list[tuple[int, str]]) -> list[str]:
    notes = []
    for i, ln in enumerate(lines, start=1):
        text = ln.strip()
        if text.startswith("-- atlas:delimiter"):
            errors.append((i, f"line {i}: a custom Atlas statement delimiter; opsbot reads statements the way SQLite "
                              "does (`;`, trigger bodies kept whole): remove the directive"))
        elif re.match(r"--\s*atlas:txmode\s+none", text):
            notes.append("the file asks for no transaction (`atlas:txmode none`); opsbot runs it in one anyway: "
                         "everything that cannot run inside one is refused")
    return notes
