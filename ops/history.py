"""An environment's journal history kept under another key: adopted once, never guessed.

The journal keys an environment's rows (runs, ledger, backups, requests, locks, drift) by its name
in opsbot.toml, or by the target's name ("local", "fly:APP", "ssh:HOST") when the environment
variables describe the one environment. Adopting opsbot.toml, or renaming an environment, changes
the key: without this every applied migration would look pending again, and re-applying it would
not be refused.

When an environment opens, the history under its old key is carried over to its name, once, in one
journal transaction (a journal run of phase ``adopt`` records what moved) when that history is
provably this database's:

- the old key is the environment's own target name (the same kind of target, the same app or host),
  or the name ``history_from = "OLD"`` gives in its table (a rename: the user says so);
- every backup that history recorded is of this environment's ``db_path`` (a backup is
  ``DB.pre-LABEL-STAMP`` beside its database; every migrate takes one), and, without
  ``history_from``, there is at least one: a history that cannot show which database it was is
  not adopted on a guess;
- no other environment of the file is the same target and database (it would be a coin toss);
- no run holds the old key's lock (it is adopted at the next open instead).

A history that fails one of these is left where it is and said (``python -m ops status``,
``/migrate status``, ``python -m bot check``); with ``history_from``, one whose backups name another
database is refused outright, since the file then says something false.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ops.environments import Environment
from ops.errors import UsageError
from ops.journal import Journal
from ops.targets.registry import build_target

log = logging.getLogger(__name__)

# Tables whose rows belong to an environment, by the key column ``target``.
KEYED = ("runs", "ledger", "backups", "preflights", "approvals", "sticky_locks", "drift")
# Health rows carry the environment's name ('' for the one the variables describe).
BY_ENV = ("health_checks", "incidents", "health_pauses")
BACKUP_RE = re.compile(r"^(?P<db>.+)\.pre-[A-Za-z0-9._-]{1,64}-\d{8}_\d{6}$")


@dataclass(frozen=True)
class Claim:
    """What an environment may adopt: the key its history may be under, and how it is known."""

    env: str            # the environment's name: its key from now on
    old: str            # the key its history may be kept under
    explicit: bool      # named by history_from (else: the target's own name)
    target: str         # the target's name ("local", "fly:APP")
    db_path: str
    twins: tuple[str, ...] = ()  # other environments of the file with the same target and database


@dataclass(frozen=True)
class Adoption:
    env: str
    old: str
    run_id: int  # the journal run that records it
    moved: dict[str, int]


def claim_for(environment: Environment, environments: Sequence[Environment]) -> Claim | None:
    """None when there is nothing to adopt into: no opsbot.toml, or the old key is the name."""
    if not environment.name:
        return None
    target = build_target(environment.settings).name
    old = environment.history_from or target
    if old == environment.name:
        return None
    db = environment.settings.engine.db_path
    twins = tuple(e.name for e in environments if e.name != environment.name
                  and build_target(e.settings).name == target and e.settings.engine.db_path == db)
    return Claim(environment.name, old, bool(environment.history_from), target, db, twins)


async def _counts(journal: Journal, key: str) -> dict[str, int]:
    found = {}
    for table in KEYED:
        async with journal.db.execute(f"SELECT count(*) FROM {table} WHERE target=?", (key,)) as cur:
            row = await cur.fetchone()
        if row and row[0]:
            found[table] = int(row[0])
    return found


async def _databases(journal: Journal, key: str) -> set[str]:
    """The databases the history's recorded backups are of."""
    async with journal.db.execute("SELECT path FROM backups WHERE target=?", (key,)) as cur:
        paths = [r[0] for r in await cur.fetchall()]
    return {m["db"] if (m := BACKUP_RE.match(p)) else p for p in paths}


async def _why_not(journal: Journal, claim: Claim) -> str:
    """"" when the history under ``claim.old`` is provably this database's; else why not."""
    async with journal.db.execute("SELECT run_id FROM locks WHERE target=?", (claim.old,)) as cur:
        held = await cur.fetchone()
    if held:
        return f"run #{held[0]} holds it now (it is adopted when that run has finished)"
    databases = await _databases(journal, claim.old)
    others = sorted(databases - {claim.db_path})
    if others:
        return f"its backups are of {', '.join(others)}, not {claim.db_path}: another database"
    if claim.explicit:
        return ""
    if claim.twins:
        return f"{', '.join(claim.twins)} is the same target and database too: say which with history_from"
    if not databases:
        return "nothing in it shows which database it was (no backup recorded)"
    return ""


def _summary(moved: dict[str, int]) -> str:
    said = [f"{moved[t]} {t.replace('_', ' ')}" for t in ("ledger", "runs", "backups", "approvals") if moved.get(t)]
    return ", ".join(said) or "no rows"


async def adopt(journal: Journal, claim: Claim) -> Adoption | None:
    """Carry the history over when it is provably this database's (one transaction); None when
    there is none or it is not (``note`` says why)."""
    await journal.db.execute("BEGIN IMMEDIATE")  # the checks and the move see one journal
    try:
        moved = await _counts(journal, claim.old)
        why = await _why_not(journal, claim) if moved else "nothing"
        if why:
            await journal.db.rollback()
            if claim.explicit and "another database" in why:
                raise UsageError(f"[environments.{claim.env}] history_from = {claim.old!r}: {why}",
                                 hint="Nothing was adopted. Remove history_from, or name the key that holds this "
                                      "database's history.")
            if moved:
                log.warning("%s: the journal history under %r was not adopted: %s", claim.env, claim.old, why)
            return None
        for table in KEYED:  # a row the new key already has (same backup path, a lock) is kept
            await journal.db.execute(f"UPDATE OR IGNORE {table} SET target=? WHERE target=?", (claim.env, claim.old))
            await journal.db.execute(f"DELETE FROM {table} WHERE target=?", (claim.old,))
        old_env = "" if claim.old == claim.target else claim.old
        for table in BY_ENV:
            await journal.db.execute(f"UPDATE {table} SET env=? WHERE env=?", (claim.env, old_env))
        now = time.time()
        summary = {"ok": True, "from": claim.old, "moved": moved, "db_path": claim.db_path}
        cur = await journal.db.execute(
            "INSERT INTO runs(phase,target,actor,state,started_at,finished_at,summary,pid,host,outcome)"
            " VALUES('adopt',?,?,'succeeded',?,?,?,?,?,'done')",
            (claim.env, "opsbot", now, now, json.dumps(summary), os.getpid(), socket.gethostname()))
        await journal.db.commit()
    except BaseException:
        if journal.db.in_transaction:
            await journal.db.rollback()
        raise
    assert cur.lastrowid is not None
    log.warning("%s: adopted the journal history kept under %r (%s) as run #%s", claim.env, claim.old,
                _summary(moved), cur.lastrowid)
    return Adoption(claim.env, claim.old, cur.lastrowid, moved)


async def adopt_all(journal: Journal, environments: Sequence[Environment]) -> list[Adoption]:
    """Every environment's history, as the CLI and the bot open them."""
    done = []
    for environment in environments:
        claim = claim_for(environment, environments)
        if claim is not None and (adopted := await adopt(journal, claim)) is not None:
            done.append(adopted)
    return done


async def note(journal: Journal, environment: Environment, environments: Sequence[Environment]) -> str:
    """What status and bot check say: the history adopted (from where, when), or one left where it is."""
    said = []
    async with journal.db.execute("SELECT id, finished_at, summary FROM runs WHERE phase='adopt' AND target=? "
                                  "ORDER BY id DESC LIMIT 1", (environment.name,)) as cur:
        row = await cur.fetchone()
    if row is not None:
        data = json.loads(row[2] or "{}")
        at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row[1]))
        said.append(f"history adopted from {data.get('from')!r} by run #{row[0]} on {at} "
                    f"({_summary(data.get('moved') or {})})")
    claim = claim_for(environment, environments)
    if claim is not None:
        left = await _counts(journal, claim.old)
        if left:
            why = await _why_not(journal, claim) or "not yet (it is adopted when opsbot next opens this environment)"
            unproven = not claim.explicit and ("no backup recorded" in why or "same target and database" in why)
            said.append(f"the journal holds history under {claim.old!r} ({_summary(left)}) not adopted: {why}"
                        + (f"; if it is this database, add history_from = \"{claim.old}\" to "
                           f"[environments.{claim.env}]" if unproven else ""))
    return "; ".join(said)
