"""Approvals keep time by their clock: expiry is tested by moving it, not by editing rows."""

from __future__ import annotations

from ops.approvals import Approvals
from ops.journal import Journal


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_a_request_expires_when_its_clock_passes_the_timeout(journal: Journal) -> None:
    clock = Clock()
    approvals = Approvals(journal, clock=clock)
    approval_id = await approvals.create(target="local", subject="m.sql", sha256="s", fingerprint="f",
                                         requester_id=1, requester="alice", timeout_s=60, preflight_run_id=None)
    fresh = await approvals.get(approval_id)
    assert fresh is not None and fresh.created_at == clock.now and fresh.expires_at == clock.now + 60
    assert not fresh.expired
    clock.advance(60)
    waiting = await approvals.get(approval_id)
    assert waiting is not None and waiting.expired and not fresh.expired, "each read is as of its own time"
    assert not await approvals.transition(approval_id, "approved", "bob", require_unexpired=True)
    assert await approvals.transition(approval_id, "expired", "timeout")
    decided = await approvals.get(approval_id)
    assert decided is not None and decided.state == "expired"
    await approvals.record_reaction(approval_id, 2, "bob", "✅", "ignored: request expired")
    [reaction] = await approvals.reactions(approval_id)
    assert (reaction.user_name, reaction.outcome, reaction.at) == ("bob", "ignored: request expired", clock.now)
