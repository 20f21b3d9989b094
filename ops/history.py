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

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ops.environments import Environment
from ops.errors import UsageError
from ops.journal import Journal
from ops.targets.registry import build_target

log = logging.getLogger(__name__)

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
    # (an environment that names its own history_from claims that key, not its target's name)
    others = sorted(e.name for e in environments if e.name != environment.name and not e.history_from
                    and environment.history_from and build_target(e.settings).name == environment.history_from)
    if others:
        # One history, one database: the other environment claims that history as its own too.
        raise UsageError(f"[environments.{environment.name}] history_from = {environment.history_from!r} is also "
                         f"where {', '.join(others)} keeps its own history (its target's name)",
                         hint="Nothing was adopted. Name the key that holds this environment's history only.")
    db = environment.settings.engine.db_path
    twins = tuple(e.name for e in environments if e.name != environment.name
                  and build_target(e.settings).name == target and e.settings.engine.db_path == db)
    return Claim(environment.name, old, bool(environment.history_from), target, db, twins)


async def _databases(journal: Journal, key: str) -> set[str]:
    """The databases the history's recorded backups are of."""
    return {m["db"] if (m := BACKUP_RE.match(p)) else p for p in await journal.backup_paths(key)}


@dataclass(frozen=True)
class NotAdopted:
    """Why a history stays where it is: ``kind`` for code to decide by, ``text`` for people."""

    kind: str  # held | another_database | twins | unproven
    text: str


async def _why_not(journal: Journal, claim: Claim) -> NotAdopted | None:
    """None when the history under ``claim.old`` is provably this database's; else why not."""
    held = await journal.lock_holder(claim.old)
    if held is not None:
        return NotAdopted("held", f"run #{held} holds it now (it is adopted when that run has finished)")
    databases = await _databases(journal, claim.old)
    others = sorted(databases - {claim.db_path})
    if others:
        return NotAdopted("another_database",
                          f"its backups are of {', '.join(others)}, not {claim.db_path}: another database")
    if claim.explicit:
        return None
    if claim.twins:
        return NotAdopted("twins", f"{', '.join(claim.twins)} is the same target and database too: say which "
                                   "with history_from")
    if not databases:
        return NotAdopted("unproven", "nothing in it shows which database it was (no backup recorded)")
    return None


def _summary(moved: dict[str, int]) -> str:
    said = [f"{moved[t]} {t.replace('_', ' ')}" for t in ("ledger", "runs", "backups", "approvals") if moved.get(t)]
    return ", ".join(said) or "no rows"


async def adopt(journal: Journal, claim: Claim) -> Adoption | None:
    """Carry the history over when it is provably this database's (one transaction); None when
    there is none or it is not (``note`` says why)."""
    async with journal.exclusive():  # the checks and the move see one journal
        moved = await journal.rows_under(claim.old)
        if not moved:
            return None
        why = await _why_not(journal, claim)
        if why is not None:
            if claim.explicit and why.kind == "another_database":
                raise UsageError(f"[environments.{claim.env}] history_from = {claim.old!r}: {why.text}",
                                 hint="Nothing was adopted. Remove history_from, or name the key that holds this "
                                      "database's history.")
            log.warning("%s: the journal history under %r was not adopted: %s", claim.env, claim.old, why.text)
            return None
        old_env = "" if claim.old == claim.target else claim.old
        run_id = await journal.rekey(claim.old, claim.env, old_env=old_env,
                                     summary={"ok": True, "from": claim.old, "moved": moved, "db_path": claim.db_path})
    log.warning("%s: adopted the journal history kept under %r (%s) as run #%s", claim.env, claim.old,
                _summary(moved), run_id)
    return Adoption(claim.env, claim.old, run_id, moved)


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
    adopted = await journal.last_adoption(environment.name)
    if adopted is not None:
        at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(adopted.at))
        said.append(f"history adopted from {adopted.old!r} by run #{adopted.run_id} on {at} "
                    f"({_summary(adopted.moved)})")
    claim = claim_for(environment, environments)
    if claim is not None:
        left = await journal.rows_under(claim.old)
        if left:
            why = await _why_not(journal, claim)
            text = why.text if why else "not yet (it is adopted when opsbot next opens this environment)"
            unproven = not claim.explicit and why is not None and why.kind in ("unproven", "twins")
            said.append(f"the journal holds history under {claim.old!r} ({_summary(left)}) not adopted: {text}"
                        + (f"; if it is this database, add history_from = \"{claim.old}\" to "
                           f"[environments.{claim.env}]" if unproven else ""))
    return "; ".join(said)
