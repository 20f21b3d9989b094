"""Drift watch: a schema that changed outside opsbot (a hand-run ALTER, another tool, a restore
done by hand) is said once, with what changed.

Each check reads the live schema (one read, no counts) and compares its fingerprint with the one
opsbot last knew for the environment. Every migrate and rollback moves that baseline itself
(``after_change``), from the schema it found to the one it left; a schema it found different from
the baseline was changed outside opsbot before it ran, and that is said too. Anything else is
drift: reported once, then the baseline moves so the same change is not said again. Nothing is
checked while a run holds the environment's lock.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from ops.context import Engine
from ops.schema import DbState, read_state


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


def _loaded(text: str) -> Drift:
    data = json.loads(text)
    return Drift(data["env"], data["before"], data["after"], tuple(data["changes"]))


async def after_change(engine: Engine, before: DbState, after: DbState) -> None:
    """An opsbot run changed the schema from ``before`` to ``after``: the baseline moves with it. A
    baseline that was not ``before`` means someone changed the schema outside opsbot before the run:
    that change is kept to be said at the next check, with what it was."""
    journal, key = engine.journal, engine.key
    known = await journal.drift_baseline(key)
    pending = known.pending if known else None
    if known is not None and known.fingerprint != before.fingerprint and not pending:
        pending = json.dumps(asdict(Drift(engine.env_name, known.fingerprint, before.fingerprint,
                                          changes(known.canon, before.canon))))
    await journal.set_drift_baseline(key, after.fingerprint, after.canon, checked_at=time.time(), pending=pending)


async def check(engine: Engine, now: float | None = None) -> list[Drift]:
    """One drift check of this environment: the drifts to say (each once), or []."""
    now = time.time() if now is None else now
    journal, key = engine.journal, engine.key
    if await journal.lock_for(key):
        return []  # a run is changing it: its own result says what changed
    live = await read_state(engine.target, engine.db_path, counts=False, busy_timeout_ms=engine.busy_timeout_ms)
    known = await journal.drift_baseline(key)
    found = [_loaded(known.pending)] if known and known.pending else []
    if known is not None and known.fingerprint != live.fingerprint:
        found.append(Drift(engine.env_name, known.fingerprint, live.fingerprint,
                           changes(known.canon, live.canon)))
    await journal.set_drift_baseline(key, live.fingerprint, live.canon, checked_at=now, pending=None)
    return found  # the first look is the baseline
