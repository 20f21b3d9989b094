"""Talking to a database through the sqlite3 CLI on the app host, via a Target.

Every phase is a sh script that pipes SQL into ``sqlite3`` through a quoted here-document,
so the same text runs on this machine and behind ``fly ssh console`` (which runs no shell
itself: the Target wraps the script in ``sh -c``). Results come back as one JSON object a
line, tagged ``{"opsbot": KIND, ...}``; any other output (a migration's own SELECTs, flyctl
noise) is ignored.
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


def sqlite_invocation(db: str, *, busy_timeout_ms: int) -> str:
    flags = ["-bail", "-batch", "-noheader", "-list"]
    flags += ["-cmd", f".timeout {int(busy_timeout_ms)}"]
    return " ".join([SQLITE_BIN, *map(sh_quote, flags), sh_quote(db)])


def emit(kind: str, **fields: str) -> str:
    """A SELECT printing one tagged JSON line; ``fields`` values are SQL expressions."""
    parts = [sql_literal("opsbot"), sql_literal(kind)]
    for key, expr in fields.items():
        parts += [sql_literal(key), expr]
    return f"SELECT json_object({', '.join(parts)});"


def counts_fragment(phase: str, tmpfile: str, *, store: str = "") -> str:
    """SQL (with dot-commands) printing the row count of every table, in this transaction.

    The table list is only known at run time (a migration adds and drops tables), so the
    count queries are generated into a temp file and read back in the same session. With
    ``store``, counts also go into that temp table (phase, tbl, n) for guards to compare.
    """
    count = "(SELECT count(*) FROM \"'||replace(name,'\"','\"\"')||'\")"
    lit = sql_literal(phase).replace("'", "''")
    if store:
        stmt = f"'INSERT INTO {store} VALUES({lit},'||quote(name)||',{count});'"
    else:
        stmt = (
            f"'SELECT json_object(''opsbot'',''count'',''phase'',{lit},''table'','||quote(name)||"
            f"',''rows'',{count});'"
        )
    line = f"SELECT {stmt} FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name;"
    out = f".output {dot_quote(tmpfile)}\n{line}\n.output stdout\n.read {dot_quote(tmpfile)}\n"
    if store:
        out += (f"SELECT json_object('opsbot','count','phase',phase,'table',tbl,'rows',n) FROM {store} "
                f"WHERE phase={sql_literal(phase)} ORDER BY tbl;\n")
    return out


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


def parse_events(stdout: str) -> tuple[dict[str, Any], ...]:
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith('{"opsbot":'):
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            log.debug("ignoring malformed event line %r", line[:200])
    return tuple(events)


async def run_sql(
    target: Target,
    db: str,
    body: str,
    *,
    busy_timeout_ms: int,
    timeout: float,
    tmpfiles: tuple[str, ...] = (),
) -> SqlRun:
    """Run ``body`` (SQL and dot-commands) in one sqlite3 session on the target."""
    redirect, doc = heredoc(".bail on\n" + body)
    lines = []
    if tmpfiles:
        quoted = " ".join(sh_quote(p) for p in tmpfiles)
        lines.append(f"trap 'rm -f {quoted}' EXIT")
    # sqlite3 would silently create an empty database at a wrong path: refuse instead.
    lines.append(f"[ -f {sh_quote(db)} ] || {{ echo {NO_DB_MARK} >&2; exit {NO_DB_EXIT}; }}")
    lines.append(f"{sqlite_invocation(db, busy_timeout_ms=busy_timeout_ms)} {redirect}")
    script = "\n".join(lines) + "\n" + doc
    result = await target.sh(script, timeout=timeout)
    if NO_DB_MARK in result.stderr and not result.ok:
        raise OpsError(
            f"there is no database at {db} on {target.name}",
            hint="Check DB_PATH (and FLY_APP for the fly target). Nothing was created or changed.",
        )
    return SqlRun(parse_events(result.stdout), result, body_offset=1)


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
