"""Promotion: an environment whose policy says ``requires_success_on = "staging"`` takes only a
migration file that succeeded there, byte for byte and SQL for SQL, and not rolled back since;
its preflight then compares the row changes it predicts with the ones that run made."""

from __future__ import annotations

from dataclasses import dataclass

from ops import ledger
from ops.context import Engine
from ops.migrations import Migration
from ops.policy import PolicyRefused
from ops.units import short_hash


class NotPromotable(PolicyRefused):
    pass


@dataclass(frozen=True)
class Promotion:
    from_env: str
    run_id: int
    counts_before: dict[str, int]
    counts_after: dict[str, int]


async def required_success(engine: Engine, migration: Migration) -> Promotion | None:
    """The run on the environment this one promotes from, or None when the policy needs none;
    refused (naming what is missing) when there is no such run."""
    source = engine.policy.requires_success_on
    if not source:
        return None
    journal = engine.journal
    entries = [e for e in await ledger.entries(journal, source) if e.name == migration.name]
    hint = (f"Nothing was run. Run it on {source} first (/migrate run environment:{source}, or "
            f"python -m ops --env {source} migrate …); once it succeeds there, promote it.")
    if not entries:
        raise NotPromotable(f"{migration.name} has not succeeded on {source}: no run there applied it", hint=hint)
    good = [e for e in entries if e.applied and e.sha256 == migration.sha256
            and e.sql_sha256 == ledger.sql_sha256(migration)]
    if not good:
        last = entries[-1]
        if not last.applied:
            raise NotPromotable(f"{migration.name} was applied on {source} by run #{last.run_id} but rolled back "
                                f"by run #{last.rolled_back_by}", hint=hint)
        raise NotPromotable(f"{migration.name} on {source} (run #{last.run_id}, sha256 {short_hash(last.sha256)}) "
                            f"is not this file (sha256 {short_hash(migration.sha256)}): it changed since",
                            hint=f"Nothing was run. Run this version on {source} first, or restore the file "
                                 "that succeeded there.")
    entry = good[-1]
    run = await journal.run(entry.run_id)
    if run is None or run.state != "succeeded":
        raise NotPromotable(f"run #{entry.run_id} of {migration.name} on {source} did not succeed "
                            f"({run.state if run else 'not in the journal'})", hint=hint)
    return Promotion(source, entry.run_id, run.counts_before, run.counts)


def row_change_differences(promotion: Promotion, before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Tables whose predicted row change here differs from the change the source run made."""
    out = []
    for table in sorted(set(promotion.counts_before) | set(promotion.counts_after) | set(before) | set(after)):
        there = _change(promotion.counts_before, promotion.counts_after, table)
        here = _change(before, after, table)
        if there != here:
            out.append(f"{table}: {there} on {promotion.from_env} (run #{promotion.run_id}), {here} here")
    return out


def _change(before: dict[str, int], after: dict[str, int], table: str) -> str:
    if table not in after and table in before:
        return "dropped"
    if table not in before and table in after:
        return "created"
    return f"{after.get(table, 0) - before.get(table, 0):+d} rows"
