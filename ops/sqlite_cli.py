"""Talking to a database through the sqlite3 CLI on the app host, via a Target.

Every phase is a sh script that pipes SQL into ``sqlite3`` through a quoted here-document,
so the same text runs on this machine and behind ``fly ssh console`` (which runs no shell
itself: the Target wraps the script in ``sh -c``). Results come back as one JSON object a
line, tagged with a key chosen at random when the process starts (``{"opsbot-1f…": KIND, ...}``),
so a migration's own SELECTs cannot forge an event; any other output (a migration's own rows,
flyctl noise) is ignored. Parsed events carry ``"opsbot": KIND``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shlex
from dataclasses import dataclass
from typing import Any

from ops.errors import OpsError
from ops.targets.base import ShResult, Target

log = logging.getLogger(__name__)

SQLITE_BIN = "sqlite3"
NO_DB_MARK = "opsbot-no-such-database"
NO_DB_EXIT = 66
INSTALL_SQLITE_HINT = "Install it in the app's image (Debian: apt-get install sqlite3; Alpine: apk add sqlite)."
TMP_DIR = "/tmp"
EVENT_KEY = "opsbot-" + secrets.token_hex(8)
_KEY = "'" + EVENT_KEY + "'"

# Tables that hold user rows: not sqlite_*, not virtual, not a virtual table's shadow table
# (ops.tables.user_tables is the same rule in Python). ``m`` is the sqlite_master row.
SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config", "_segments", "_segdir", "_stat",
                   "_node", "_rowid", "_parent")
USER_TABLE_SQL = (
    "m.type='table' AND lower(m.name) NOT LIKE 'sqlite%' AND coalesce(m.sql,'') NOT LIKE 'CREATE VIRTUAL%' "
    "AND NOT EXISTS (SELECT 1 FROM sqlite_master v WHERE v.type='table' AND v.sql LIKE 'CREATE VIRTUAL%' "
    f"AND m.name IN ({', '.join(f'v.name||{chr(39)}{s}{chr(39)}' for s in SHADOW_SUFFIXES)}))"
)


def sh_quote(text: str) -> str:
    return shlex.quote(text)


def dot_quote(path: str) -> str:
    """Quote a file name for a sqlite3 dot-command (``.backup``, ``.restore``, ``.output``).

    Dot-command arguments are not SQL: inside double quotes the CLI resolves C-style
    backslash escapes, and a single quote cannot appear inside single quotes at all.
    """
    escaped = path.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def heredoc(body: str) -> tuple[str, str]:
    """A quoted here-document delimiter that cannot occur in ``body`` (no expansion inside)."""
    while True:
        delim = "OPSBOT_SQL_" + secrets.token_hex(8)
        if delim not in body:
            return f"<<'{delim}'", f"{body}\n{delim}\n"


def sqlite_invocation(db: str, *, busy_timeout_ms: int, safe: bool = False) -> str:
    """The CLI with no ~/.sqliterc; ``safe`` (-safe) for every session that runs file content:
    no ATTACH, no readfile/writefile/edit/load_extension, no dot-command that touches files."""
    flags = ["-bail", "-batch", "-noheader", "-list", "-init", "/dev/null"] + (["-safe"] if safe else [])
    flags += ["-cmd", f".timeout {int(busy_timeout_ms)}"]
    return " ".join([SQLITE_BIN, *map(sh_quote, flags), sh_quote(db)])


def emit(kind: str, **fields: str) -> str:
    """A SELECT printing one tagged JSON line; ``fields`` values are SQL expressions."""
    parts = [_KEY, sql_literal(kind)]
    for key, expr in fields.items():
        parts += [sql_literal(key), expr]
    return f"SELECT json_object({', '.join(parts)});"


def counts_fragment(phase: str, tmpfile: str) -> str:
    """SQL (with dot-commands) printing the row count of every table, in this transaction.

    The table list is only known at run time, so the count queries are generated into a temp
    file and read back in the same session. Only for sessions that run no file content: those
    run in -safe mode, where .output/.read are refused (ops.apply counts a predicted list).
    """
    count = "(SELECT count(*) FROM \"'||replace(name,'\"','\"\"')||'\")"
    lit = sql_literal(phase).replace("'", "''")
    stmt = (f"'SELECT json_object(''{EVENT_KEY}'',''count'',''phase'',{lit},''table'','||quote(name)||"
            f"',''rows'',{count});'")
    line = f"SELECT {stmt} FROM sqlite_master m WHERE {USER_TABLE_SQL} ORDER BY name;"
    return f".output {dot_quote(tmpfile)}\n{line}\n.output stdout\n.read {dot_quote(tmpfile)}\n"


# Canonical schema text: what the fingerprint hashes and what the drift guard compares.
# rootpage is left out on purpose: VACUUM moves tables without changing the schema.
CANON_EXPR = (
    "(SELECT coalesce(group_concat(type||char(31)||name||char(31)||tbl_name||char(31)"
    "||coalesce(sql,''), char(30)),'') FROM (SELECT type,name,tbl_name,sql FROM sqlite_master "
    "WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type,name))"
)


@dataclass(frozen=True)
class SqlRun:
    events: tuple[dict[str, Any], ...]
    result: ShResult
    body_offset: int

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("opsbot") == kind]

    def first(self, kind: str) -> dict[str, Any] | None:
        found = self.of(kind)
        return found[0] if found else None

    @property
    def error_text(self) -> str:
        lines = [ln for ln in self.result.stderr.strip().splitlines() if ln.strip()]
        return "\n".join(lines[-5:])


def event_sql(kind: str, fields: str) -> str:
    """``json_object`` arguments for an event whose other fields are ``fields`` (SQL)."""
    return f"json_object({_KEY},{sql_literal(kind)},{fields})"


def parse_events(stdout: str) -> tuple[dict[str, Any], ...]:
    events = []
    prefix = '{"' + EVENT_KEY + '":'
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith(prefix):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            log.debug("ignoring malformed event line %r", line[:200])
            continue
        event["opsbot"] = event.pop(EVENT_KEY)
        events.append(event)
    return tuple(events)


def session_script(db: str, body: str, *, busy_timeout_ms: int, tmpfiles: tuple[str, ...] = (),
                   safe: bool = False) -> str:
    """The sh script that runs ``body`` in one sqlite3 session (what reaches the host on stdin)."""
    redirect, doc = heredoc(".bail on\n" + body)
    lines = []
    if tmpfiles:
        quoted = " ".join(sh_quote(p) for p in tmpfiles)
        lines.append(f"trap 'rm -f {quoted}' EXIT")
    # sqlite3 would silently create an empty database at a wrong path: refuse instead.
    lines.append(f"[ -f {sh_quote(db)} ] || {{ echo {NO_DB_MARK} >&2; exit {NO_DB_EXIT}; }}")
    lines.append(f"{sqlite_invocation(db, busy_timeout_ms=busy_timeout_ms, safe=safe)} {redirect}")
    return "\n".join(lines) + "\n" + doc


async def run_sql(
    target: Target,
    db: str,
    body: str,
    *,
    busy_timeout_ms: int,
    timeout: float,
    tmpfiles: tuple[str, ...] = (),
    safe: bool = False,
) -> SqlRun:
    """Run ``body`` (SQL and dot-commands) in one sqlite3 session on the target."""
    script = session_script(db, body, busy_timeout_ms=busy_timeout_ms, tmpfiles=tmpfiles, safe=safe)
    result = await target.sh(script, timeout=timeout)
    if NO_DB_MARK in result.stderr and not result.ok:
        raise NoDatabase(
            f"there is no database at {db} on {target.name}",
            hint=f"Check DB_PATH (and that {target.describe()} is the app host). Nothing was created or changed.",
        )
    return SqlRun(parse_events(result.stdout), result, body_offset=1)


# The sqlite3 CLI reports errors only as text on stderr: these three functions are the one place that
# reads it (as ops.targets.flyctl is for flyctl's), so nothing else branches on an error's words.
def busy(text: str) -> bool:
    """sqlite3 gave up waiting for a lock (SQLITE_BUSY, after the busy timeout)."""
    return "database is locked" in text


def disk_full(text: str) -> bool:
    """sqlite3 (SQLITE_FULL) or the shell (ENOSPC) says the volume is full."""
    return "database or disk is full" in text or "No space left on device" in text


def io_trouble(text: str) -> bool:
    """A full volume, or an I/O error, which is how SQLite often meets one (the `-shm` of a WAL
    database cannot grow): worth a look at the free space before blaming anything else."""
    return disk_full(text) or "disk I/O error" in text


class NoDatabase(OpsError):
    """There is no database file at the path: nothing to read, and nothing was created."""


def tmp_name(purpose: str) -> str:
    return f"{TMP_DIR}/opsbot-{purpose}-{secrets.token_hex(6)}.sql"


_ERROR_LINE = re.compile(r"(?:Parse|Runtime) error near line (\d+)")


def error_line(run: SqlRun) -> int | None:
    """The 1-based line of the here-document where sqlite3 stopped, when it says so."""
    match = _ERROR_LINE.search(run.result.stderr)
    return int(match.group(1)) if match else None


def require_sqlite(run: SqlRun, what: str) -> None:
    """Raise when the sqlite3 CLI itself is missing on the host."""
    err = run.result.stderr
    if run.result.exit_code == 127 or "sqlite3: not found" in err or "sqlite3: command not found" in err:
        raise OpsError(
            f"{what}: the sqlite3 CLI is not installed on the app host",
            hint=INSTALL_SQLITE_HINT,
        )
