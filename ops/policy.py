"""An environment's policy (opsbot.toml's [environments.NAME.policy]): how many approvers, when
changes may start, which environment a migration must have succeeded on first, and the sticky
lock a person can put on an environment. The checks here run in ops, so the CLI and the bot
refuse alike."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

from ops.errors import OpsError
from ops.journal import Journal
from ops.journal_records import StickyLock
from ops.migrations import Migration


@dataclass(frozen=True)
class Freeze:
    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class Policy:
    approvers: int = 1
    destructive_extra_approvers: int = 0
    requires_success_on: str = ""
    allowed_hours: tuple[int, int] | None = None  # UTC [start, end)
    freezes: tuple[Freeze, ...] = ()

    def approvers_for(self, destructive: bool) -> int:
        return self.approvers + (self.destructive_extra_approvers if destructive else 0)

    def closed_because(self, now: float) -> str:
        """Why changes may not start now ("" when they may): a freeze, or outside allowed hours."""
        for f in self.freezes:
            if f.start <= now < f.end:
                return (f"a change freeze is on until {_utc(f.end)}: {f.reason}" if f.reason
                        else f"a change freeze is on until {_utc(f.end)}")
        if self.allowed_hours is not None:
            start, end = self.allowed_hours
            hour = dt.datetime.fromtimestamp(now, dt.UTC).hour
            inside = start <= hour < end if start < end else (hour >= start or hour < end)
            if not inside:
                return f"changes are allowed from {start:02d}:00 to {end:02d}:00 UTC only (it is {hour:02d}:xx)"
        return ""


def destructive(migration: Migration, allow_row_loss: tuple[str, ...] = ()) -> bool:
    """A DROP (of a table, index, view, trigger or column) or rows allowed to be lost."""
    for s in migration.statements:
        words = s.words
        if words[:1] == ["drop"] or (words[:1] == ["alter"] and "drop" in words):
            return True
    return bool(migration.row_loss_allowed(allow_row_loss))


class PolicyRefused(OpsError):
    """The environment's policy does not allow this now (nothing was run)."""


def ensure_open(policy: Policy, env: str, now: float | None = None) -> None:
    why = policy.closed_because(time.time() if now is None else now)
    if why:
        raise PolicyRefused(f"{env}: {why}", hint="Nothing was run. Wait until changes are allowed, or change the "
                                                  "policy in opsbot.toml if this one is wrong.")


def ensure_enough_approvers(policy: Policy, env: str, migration: Migration, allow_row_loss: tuple[str, ...],
                            approvers: int) -> None:
    """The CLI's --yes is one person: an environment that needs more refuses it (and a request
    approved under an older, laxer policy is refused at run time too)."""
    needed = policy.approvers_for(destructive(migration, allow_row_loss))
    if approvers < needed:
        why = " (a destructive migration needs one more)" if needed > policy.approvers else ""
        had = "one approved it (--yes is one person)" if approvers == 1 else f"{approvers} approved it"
        raise PolicyRefused(f"{env} needs {needed} approvers for {migration.name}{why}; {had}",
                            hint="Ask for it in Discord with /migrate run: approvers other than you react ✅.")


@dataclass(frozen=True)
class LockChange:
    """What `python -m ops lock` / `unlock` did."""

    ok: bool
    env: str
    locked: bool
    reason: str = ""
    by: str = ""
    at: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


async def sticky_lock(journal: Journal, key: str) -> StickyLock | None:
    return await journal.sticky_lock(key)


async def set_sticky_lock(journal: Journal, key: str, reason: str, by: str) -> StickyLock:
    held = await sticky_lock(journal, key)
    if held is not None:
        raise OpsError(f"{held.by} already locked this environment: {held.reason}",
                       hint="Unlock it first (/migrate unlock) if you mean to replace the reason.")
    await journal.add_sticky_lock(key, reason, by, time.time())
    return StickyLock(reason, by, time.time())


async def release_sticky_lock(journal: Journal, key: str) -> StickyLock | None:
    held = await sticky_lock(journal, key)
    await journal.remove_sticky_lock(key)
    return held


async def lock(journal: Journal, key: str, env: str, reason: str, by: str) -> LockChange:
    held = await set_sticky_lock(journal, key, reason, by)
    return LockChange(True, env, True, held.reason, held.by, held.at)


async def unlock(journal: Journal, key: str, env: str) -> LockChange:
    held = await release_sticky_lock(journal, key)
    if held is None:
        return LockChange(True, env, False)
    return LockChange(True, env, False, held.reason, held.by, held.at)


def locked_text(held: StickyLock, env: str) -> str:
    return f"{env} is locked by {held.by} since {_utc(held.at)}: {held.reason}"


async def ensure_not_locked(journal: Journal, key: str, env: str) -> None:
    held = await sticky_lock(journal, key)
    if held is not None:
        raise PolicyRefused(locked_text(held, env),
                            hint="Nothing was run. Ask them, or /migrate unlock when the reason no longer holds.")


@asynccontextmanager
async def refusals_say_the_lock(journal: Journal, key: str, env: str) -> AsyncIterator[None]:
    """A refusal for another reason on a locked environment says the lock too (what a phase that
    the lock does not stop, such as preflight, is refused for)."""
    try:
        yield
    except OpsError as exc:
        held = await sticky_lock(journal, key)
        if held is not None and " is locked by " not in exc.message:
            exc.message = f"{exc.message} (also: {locked_text(held, env)})"
        raise


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
