"""Drift watch: a schema that changed outside opsbot (a hand-run ALTER, another tool, a restore
done by hand) is said once, with what changed.

Each check reads the live schema (one read, no counts) and compares its fingerprint with the one
opsbot last knew for the environment. A change opsbot made itself (a migrate or rollback run
that finished since, whose result has the live fingerprint) only moves the baseline; anything
else is drift: reported once, then the baseline moves so the same change is not said again.
Nothing is checked while a run holds the environment's lock.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ops.context import Engine
from ops.schema import read_state


@dataclass(frozen=True)
class Drift:
    env: str
    before: str
    after: str
    changes: tuple[str, ...]  # "+ table x", "- index y", "~ table z (definition changed)"


def objects(canon: str) -> dict[tuple[str, str], str]:
    """(type, name) → sql, from the canonical schema text."""
    found = {}
    for record in canon.split("\x1e") if canon else []:
        parts = record.split("\x1f")
        if len(parts) == 4:
            kind, name, _, sql = parts
            found[(kind, name)] = sql
    return found


def changes(before: str, after: str) -> tuple[str, ...]:
    a, b = objects(before), objects(after)
    out = [f"+ {k} {n}" for (k, n) in sorted(set(b) - set(a))]
    out += [f"- {k} {n}" for (k, n) in sorted(set(a) - set(b))]
    out += [f"~ {k} {n} (definition changed)" for (k, n) in sorted(set(a) & set(b)) if a[(k, n)] != b[(k, n)]]
    return tuple(out)


async def check(engine: Engine, now: float | None = None) -> Drift | None:
    """One drift check of this environment: the drift to say, or None."""
    now = time.time() if now is None else now
    journal, key = engine.journal, engine.key
    if await journal.lock_for(key):
        return None  # a run is changing it: its own result says what changed
    live = await read_state(engine.target, engine.db_path, counts=False, busy_timeout_ms=engine.busy_timeout_ms)
    known = await journal._one("SELECT fingerprint, canon, checked_at FROM drift WHERE target=?", (key,))
    await journal.db.execute("INSERT OR REPLACE INTO drift(target, fingerprint, canon, checked_at) VALUES(?,?,?,?)",
                             (key, live.fingerprint, live.canon, now))
    await journal.db.commit()
    if known is None or known["fingerprint"] == live.fingerprint:
        return None  # the first look is the baseline
    if await _made_by_opsbot(engine, live.fingerprint, since=known["checked_at"]):
        return None
    return Drift(engine.env_name, known["fingerprint"], live.fingerprint, changes(known["canon"], live.canon))


async def _made_by_opsbot(engine: Engine, fingerprint: str, *, since: float) -> bool:
    rows = await engine.journal._all(
        "SELECT summary FROM runs WHERE target=? AND phase IN ('migrate','rollback') AND finished_at >= ? "
        "AND outcome IN ('done','changed')", (engine.key, since))
    return any(json.loads(r["summary"] or "{}").get("fingerprint") == fingerprint for r in rows)
