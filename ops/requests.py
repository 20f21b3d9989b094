"""The two-person rule, with no Discord in it: who may ask, how a reaction is decided, when a
request expires, and what an approved migration request runs.

Every decision is a conditional UPDATE in the journal (ops.approvals), so a request made before a
restart can be approved after it, and two ✅ at once still run the migration exactly once. The bot
renders what these functions decide; it decides nothing itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ops import ledger, migrate, policy, promotion
from ops.approvals import Approval, Approvals, Reaction
from ops.backup import backup_path
from ops.checklist import Checklist, Item
from ops.context import Engine
from ops.errors import OpsError
from ops.journal_records import PreflightPlan
from ops.migrations import load
from ops.preflight import PreflightResult
from ops.reporter import Reporter, Status

log = logging.getLogger(__name__)

APPROVE, CANCEL = "✅", "❌"
COUNTED = "approval"  # "approval 1 of 2": a ✅ that counts towards a request needing several
APPROVAL_EMOJI = (APPROVE, CANCEL)


@dataclass(frozen=True)
class Reactor:
    """Who reacted, as far as the rules care."""

    user_id: int
    name: str
    approver: bool


@dataclass(frozen=True)
class Decision:
    outcome: str  # approved | cancelled | ignored: <reason>
    # The state this reaction moved the request to ("approved", "cancelled", "expired"), or "".
    moved_to: str = ""


class RequestGate:
    """One request in preparation per target: set before the first await after the checks, so two
    requests at once cannot both pass while the first one's preflight runs."""

    def __init__(self) -> None:
        self.preparing: dict[str, str] = {}

    @asynccontextmanager
    async def hold(self, target: str, who: str, *, what: str) -> AsyncIterator[None]:
        waiting = self.preparing.get(target)
        if waiting:
            raise OpsError(f"{waiting} already asked to {what}; its preflight is still running",
                           hint="Wait for that request to appear in the ops channel, then approve or cancel it.")
        self.preparing[target] = who
        try:
            yield
        finally:
            self.preparing.pop(target, None)


async def ensure_can_request(engine: Engine, approvals: Approvals, target: str, *, kind: str,
                             what: str) -> None:
    """Refuse a new request while a run holds the target's lock or another request waits."""
    lock = await engine.journal.lock_for(target)
    if lock:
        since = time.strftime("%H:%M:%S UTC", time.gmtime(lock.since))
        raise OpsError(f"{lock.who} is running {lock.phase} (run #{lock.run_id}) since {since}",
                       hint="Wait for it to finish; one backup, migrate or rollback runs at a time.")
    for waiting in await approvals.pending(target):
        if not waiting.expired and waiting.kind == kind:
            raise OpsError(f"{waiting.requester} already asked to {what} {waiting.subject} (request #{waiting.id})",
                           hint="Approve or cancel that request first (✅/❌ on its message).")


async def decide(approvals: Approvals, a: Approval, emoji: str, who: Reactor) -> Decision:
    """One reaction, by the rules: the requester never approves their own change; only approvers
    approve; an approver or the requester may cancel; nothing counts once a request is decided
    or expired."""
    if a.state != "pending":
        return Decision(f"ignored: request already {a.state}")
    if a.expired:
        moved = await approvals.transition(a.id, "expired", "timeout")
        return Decision("ignored: request expired", "expired" if moved else "")
    if emoji == APPROVE:
        if who.user_id == a.requester_id:
            return Decision("ignored: the requester cannot approve their own change")
        if not who.approver:
            return Decision("ignored: not an approver")
        if a.required_approvers > 1:
            # Distinct approvers, counted from the reactions recorded so far (ops.policy).
            given = await counted(approvals, a)
            if who.user_id in {r.user_id for r in given}:
                return Decision("ignored: already counted")
            if len(given) + 1 < a.required_approvers:
                return Decision(f"{COUNTED} {len(given) + 1} of {a.required_approvers}")
            names = ", ".join([*(r.user_name for r in given), who.name])
            if await approvals.transition(a.id, "approved", names, require_unexpired=True):
                return Decision("approved", "approved")
            return Decision("ignored: already decided")
        if await approvals.transition(a.id, "approved", who.name, require_unexpired=True):
            return Decision("approved", "approved")
        return Decision("ignored: already decided")
    if emoji == CANCEL:
        if not (who.approver or who.user_id == a.requester_id):
            return Decision("ignored: only an approver or the requester can cancel")
        if await approvals.transition(a.id, "cancelled", who.name):
            return Decision("cancelled", "cancelled")
        return Decision("ignored: already decided")
    return Decision("ignored: not an approval emoji")


WITHDRAWN = "withdrawn"


async def counted(approvals: Approvals, a: Approval) -> list[Reaction]:
    """The ✅ that count now on a request that needs several: each approver's latest word, unless
    they took their ✅ back since."""
    latest: dict[int, Reaction] = {}
    for r in await approvals.reactions(a.id):
        if r.outcome.startswith(COUNTED) or r.outcome == WITHDRAWN:
            latest[r.user_id] = r
    return [r for r in latest.values() if r.outcome != WITHDRAWN]


async def withdraw(approvals: Approvals, a: Approval, who: Reactor) -> Decision | None:
    """An approver took their ✅ back from a pending request that needs several: it counts no more.
    None when there was nothing to take back."""
    async with approvals.deciding[a.id]:
        current = await approvals.get(a.id) or a
        if current.state != "pending" or current.required_approvers <= 1:
            return None
        given = {r.user_id: r for r in await counted(approvals, current)}
        if who.user_id not in given:
            return None
        # Their name as recorded with the ✅ (a removal event carries no member to name them by).
        await approvals.record_reaction(a.id, who.user_id, given[who.user_id].user_name, APPROVE, WITHDRAWN)
        left = len(await counted(approvals, current))
    return Decision(f"{WITHDRAWN}: {left} of {current.required_approvers} now")


async def react(approvals: Approvals, a: Approval, emoji: str, who: Reactor) -> Decision:
    """Decide a reaction and record it with its outcome; one reaction of a request at a time, so
    two approvers at once are both counted."""
    async with approvals.deciding[a.id]:
        current = await approvals.get(a.id) or a
        decision = await decide(approvals, current, emoji, who)
        await approvals.record_reaction(a.id, who.user_id, who.name, emoji, decision.outcome)
    return decision


async def expire_due(approvals: Approvals) -> list[Approval]:
    """Pending requests past their time become expired; returns the ones this call expired."""
    expired = []
    for a in await approvals.pending():
        if a.expired and await approvals.transition(a.id, "expired", "timeout"):
            expired.append(a)
    return expired


async def fresh_preflight(engine: Engine, name: str, sha256: str, *, max_age_s: float,
                          allow_row_loss: tuple[str, ...]) -> PreflightPlan | None:
    """A recent passing preflight of exactly this file, made with the same row-loss allowance."""
    record = await engine.journal.latest_preflight(engine.key, name, sha256)
    if record is None or time.time() - record.at > max_age_s:
        return None
    run = await engine.journal.run(record.run_id)
    if run is None or not run.summary or run.allow_row_loss != allow_row_loss:
        return None
    return run.preflight_plan


@dataclass(frozen=True)
class MigrationRequest:
    """A request made: the pending approval, the passing preflight it rests on (its journaled
    result), and the backup the run will take first."""

    approval: Approval
    preflight: PreflightPlan
    backup_path: str
    sql: str  # what the run executes: the file's statements as normalised


async def request_migration(engine: Engine, approvals: Approvals, gate: RequestGate, name: str, *,
                            requester_id: int, requester: str, allow_row_loss: tuple[str, ...],
                            timeout_s: float, preflight_max_age_s: float,
                            preflight: Callable[[], Awaitable[PreflightResult]]) -> MigrationRequest:
    """Ask for a migration: refused while a run holds the lock or another request waits; a passing
    preflight of exactly this file from the last ``preflight_max_age_s`` is reused, else
    ``preflight()`` runs one (the caller shows its progress); a failed one requests nothing."""
    target = engine.key
    migration = load(engine.migrations_dir, name)
    # The gate first: every check below awaits, and a second request must not pass them all while
    # the first one is between its checks and its approval (the gate is taken without an await).
    async with gate.hold(target, requester, what="run a migration"):
        await ensure_can_request(engine, approvals, target, kind="migrate", what="run")
        await policy.ensure_not_locked(engine.journal, target, engine.env_name)  # first: every refusal says it
        await ledger.ensure_not_applied(engine.journal, target, migration, engine.env_name)
        policy.ensure_open(engine.policy, engine.env_name)
        await promotion.required_success(engine, migration)
        # A recent preflight is reused only when it was made with the same row-loss allowance.
        pre = await fresh_preflight(engine, name, migration.sha256, max_age_s=preflight_max_age_s,
                                    allow_row_loss=migration.row_loss_allowed(allow_row_loss))
        if pre is None:
            result = await preflight()
            if not result.ok:
                raise OpsError(f"the preflight of {name} failed: {result.error}",
                               hint="Nothing was requested. Fix the migration and run it again.")
            pre = PreflightPlan.from_result(result.run_id, result.to_dict())
        # Pending from here on, so a second request is refused by ensure_can_request.
        approval_id = await approvals.create(
            target=target, subject=name, sha256=migration.sha256, fingerprint=pre.fingerprint,
            requester_id=requester_id, requester=requester, timeout_s=timeout_s, preflight_run_id=pre.run_id,
            allow_row_loss=allow_row_loss,
            required_approvers=engine.policy.approvers_for(policy.destructive(migration, allow_row_loss)))
    approval = await approvals.get(approval_id)
    assert approval is not None
    return MigrationRequest(approval, pre, backup_path(engine.db_path, migrate.backup_label(migration)),
                            migration.sql)


@dataclass(frozen=True)
class ApprovedRun:
    """What an approved migration request did. ``result`` is None when the run stopped with an
    error before it produced one (``error`` says why; ``outcome`` whether the database changed)."""

    approval: Approval
    result: migrate.MigrateResult | None
    error: OpsError | None
    run_id: int | None
    outcome: str
    checklist: tuple[Item, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok


class _LinkingReporter:
    """Passes every event on, and ties the request to its run the moment the run opens (before the
    database changes), so a restart mid-run knows which request it was."""

    def __init__(self, inner: Reporter, approvals: Approvals, approval_id: int) -> None:
        self.inner, self.approvals, self.approval_id = inner, approvals, approval_id

    async def run_started(self, run_id: int) -> None:
        await self.approvals.link_run(self.approval_id, run_id)
        await self.inner.run_started(run_id)

    def step(self, name: str, status: Status, detail: str = "") -> None:
        self.inner.step(name, status, detail)

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.inner.table(title, columns, rows)


async def run_approved_migration(engine: Engine, approvals: Approvals, a: Approval, approver: str,
                                 reporter: Reporter) -> ApprovedRun:
    """Run an approved request's migration, bound to the file, schema and allowance that were
    approved; then the app's health and the runbook's checklist. The request ends ``executed``
    when the database changed (or may have), ``stale`` when the run stopped before anything did."""
    try:
        result = await migrate.migrate_and_check(
            engine, a.subject, confirmed=True, expected_fingerprint=a.fingerprint, allow_row_loss=a.allow_row_loss,
            expected_sha256=a.sha256, reporter=_LinkingReporter(reporter, approvals, a.id),
            actor=f"{a.requester} ({a.requester_id}) + {approver}", approvers=a.required_approvers)
    except OpsError as exc:
        linked = await approvals.get(a.id)
        run_id = linked.run_id if linked else None
        changed = exc.outcome in ("changed", "unknown")
        await approvals.executed(a.id, run_id, state="executed" if changed else "stale")
        return ApprovedRun(a, None, exc, run_id, exc.outcome if changed else "unchanged")
    await approvals.executed(a.id, result.run_id)
    if not result.ok:
        return ApprovedRun(a, result, None, result.run_id, result.outcome)
    items = await Checklist(engine.journal).create(
        result.run_id, result.manual, automatic_ok=result.health_ok is not False,
        extra=() if engine.settings.health.url else ("After: the app started normally",))
    return ApprovedRun(a, result, None, result.run_id, result.outcome, tuple(items))
