"""The ledger: which migrations are applied on each environment, as opsbot applied them.

Every migrate run that committed records the file (name, sha256 of the bytes, sha256 of the SQL
as SQLite reads it: its significant tokens, so comments and spacing do not count), the run, who
asked and who approved, when, and the schema fingerprint before and after. A rollback that undoes
the run marks the entry rolled back (by which run), and the migration is pending again.

Applied-ness is read from here, never guessed from ``user_version`` (shown beside it) nor from a
migration tool's own table (ops.tool_tables reads those, and says what they mean).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from typing import Any

from ops.errors import OpsError
from ops.journal import Journal
from ops.journal_records import LedgerEntry
from ops.migrations import Migration, list_migrations, load


def sql_sha256(migration: Migration) -> str:
    """The SQL that runs, as tokens: a change to comments or whitespace leaves it the same."""
    text = "\n".join(" ".join(t.text for t in s.tokens) for s in migration.statements)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AlreadyApplied(OpsError):
    def __init__(self, name: str, entry: LedgerEntry, env: str) -> None:
        super().__init__(
            f"{name} is already applied on {env}: run #{entry.run_id} applied it "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(entry.applied_at))}",
            hint="Nothing was run. To run it again, roll that run back first (it is then pending again); "
                 "to change the schema further, write a new migration.")
        self.entry = entry


async def record(journal: Journal, target: str, migration: Migration, *, run_id: int, actor: str,
                 fingerprint_before: str, fingerprint_after: str) -> None:
    requester, _, approvers = actor.partition(" + ")
    await journal.add_ledger_entry(
        target, migration.name, sha256=migration.sha256, sql_sha256=sql_sha256(migration), run_id=run_id,
        requester=requester.split(" (")[0], approvers=approvers, applied_at=time.time(),
        fingerprint_before=fingerprint_before, fingerprint_after=fingerprint_after)


async def set_schema_after(journal: Journal, run_id: int, fingerprint: str) -> None:
    await journal.set_ledger_schema_after(run_id, fingerprint)


async def entries(journal: Journal, target: str) -> list[LedgerEntry]:
    """Every entry of this environment, oldest first (rolled-back ones included)."""
    return await journal.ledger_rows(target)


async def applied(journal: Journal, target: str) -> dict[str, LedgerEntry]:
    """The migrations applied now: the newest entry of each name, unless it was rolled back."""
    newest: dict[str, LedgerEntry] = {}
    for entry in await entries(journal, target):
        newest[entry.name] = entry
    return {name: e for name, e in newest.items() if e.applied}


async def ensure_not_applied(journal: Journal, target: str, migration: Migration, env: str) -> None:
    entry = (await applied(journal, target)).get(migration.name)
    if entry is not None:
        raise AlreadyApplied(migration.name, entry, env)


def changed_since_applied(entry: LedgerEntry, migration: Migration | None) -> str:
    """"" when the file is as applied; "sql" when what runs differs; "comments" when only comments
    or spacing do; "missing" when the file is gone from the folder."""
    if migration is None:
        return "missing"
    if migration.sha256 == entry.sha256:
        return ""
    return "comments" if sql_sha256(migration) == entry.sql_sha256 else "sql"


@dataclass(frozen=True)
class Pending:
    """What ``ops pending`` prints: applied and pending in the folder's order, and what is off."""

    ok: bool
    env: str
    applied: tuple[dict[str, Any], ...]
    pending: tuple[dict[str, Any], ...]
    out_of_order: tuple[str, ...]   # pending migrations that sort before an applied one
    user_version: int | None = None
    tool_tables: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def changed(self) -> tuple[dict[str, Any], ...]:
        return tuple(a for a in self.applied if a["changed_since_applied"])

    @property
    def next(self) -> str:
        return self.pending[0]["name"] if self.pending else ""


def _loaded(directory: Any, name: str) -> Migration | None:
    try:
        return load(directory, name)
    except OpsError:
        return None


async def pending_report(journal: Journal, target: str, env: str, migrations_dir: Any) -> Pending:
    names = list_migrations(migrations_dir)
    done = await applied(journal, target)
    # Pending again because a rollback undid it: the newest such entry of each name says by which run.
    undone = {e.name: e for e in await entries(journal, target) if not e.applied}
    applied_rows, pending_rows, out_of_order = [], [], []
    last_applied = max((names.index(n) for n in done if n in names), default=-1)
    for i, name in enumerate(names):
        migration = _loaded(migrations_dir, name)
        sha = migration.sha256 if migration else ""
        if name in done:
            e = done[name]
            applied_rows.append({"name": name, "sha256": e.sha256, "run_id": e.run_id, "at": e.applied_at,
                                 "changed_since_applied": changed_since_applied(e, migration) or None,
                                 "requester": e.requester, "approvers": e.approvers})
        else:
            back = undone.get(name)
            pending_rows.append({"name": name, "sha256": sha, "rolled_back_by": back.rolled_back_by if back else None,
                                 "rolled_back_run": back.run_id if back else None})
            if i < last_applied:
                out_of_order.append(name)
    for name, e in done.items():  # applied, but its file is gone from the folder
        if name not in names:
            applied_rows.append({"name": name, "sha256": e.sha256, "run_id": e.run_id, "at": e.applied_at,
                                 "changed_since_applied": "missing", "requester": e.requester,
                                 "approvers": e.approvers})
    return Pending(True, env, tuple(applied_rows), tuple(pending_rows), tuple(out_of_order))


def warnings(report: Pending) -> list[str]:
    """What preflight, status and bot check say about the ledger."""
    out = []
    for a in report.changed:
        what = {"sql": "its SQL changed", "comments": "only its comments changed",
                "missing": "the file is gone"}[a["changed_since_applied"]]
        out.append(f"{a['name']} was applied by run #{a['run_id']} but {what} since")
    out += [f"{name} is pending but sorts before a migration already applied (out of order)"
            for name in report.out_of_order]
    return out


async def pending_for(engine: Any) -> Pending:
    """The ledger beside what the database itself says: its user_version and any migration tool's
    own table (read only)."""
    from ops import tool_tables
    from ops.schema import read_state

    report = await pending_report(engine.journal, engine.key, engine.env_name, engine.migrations_dir)
    state = await read_state(engine.target, engine.db_path, counts=False, busy_timeout_ms=engine.busy_timeout_ms)
    found = tool_tables.present(state.tables, state.columns)
    tools = await tool_tables.read(engine.target, engine.db_path, found, busy_timeout_ms=engine.busy_timeout_ms)
    return Pending(report.ok, report.env, report.applied, report.pending, report.out_of_order,
                   user_version=state.user_version, tool_tables=tools)
