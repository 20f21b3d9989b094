"""What the journal holds, as the rest of opsbot reads it: one frozen record per kind of row, and
the functions that make them from rows. ops.journal (the one entry point) returns these."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LockInfo:
    target: str
    run_id: int
    holder: str
    phase: str
    since: float

    @property
    def who(self) -> str:
        """The holder without the " (id)" the journal records people with."""
        return self.holder.split(" (")[0]


@dataclass(frozen=True)
class RunRecord:
    """One run of a phase, as the journal holds it (summary decoded here, once)."""

    id: int
    phase: str
    target: str
    actor: str                      # "name (discord id)" from the bot, the OS user from the CLI
    migration: str | None
    migration_sha256: str | None
    state: str                      # running | succeeded | failed | interrupted
    started_at: float
    finished_at: float | None
    summary: dict[str, Any]         # the phase's result; {} until it finishes
    error: str | None
    last_step: str | None
    outcome: str | None             # ops.outcome; None for runs finished before outcomes existed
    announced_at: float | None
    undone_by: int | None

    @property
    def who(self) -> str:
        """The actor without the " (id)" the bot appends."""
        return self.actor.split(" (")[0]

    @property
    def approver(self) -> str:
        """Who approved it, for a run of an approved request (actor "requester (id) + approver")."""
        return self.actor.split(" + ", 1)[1] if " + " in self.actor else ""

    # What other modules read of a run's result, read here (the summary is the phase's to_dict()).
    @property
    def allow_row_loss(self) -> tuple[str, ...]:
        """The tables a preflight or migrate run was allowed to lose rows in."""
        return tuple(self.summary.get("allow_row_loss") or ())

    @property
    def counts_before(self) -> dict[str, int]:
        """Rows per table before the run changed anything ({} for a run that did not count)."""
        return dict(self.summary.get("counts_before") or {})

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table once the run was done (a migrate's after-counts)."""
        return dict(self.summary.get("counts") or {})

    @property
    def preflight_plan(self) -> PreflightPlan:
        """A preflight run's result as a request shows it."""
        return PreflightPlan.from_result(self.id, self.summary)


@dataclass(frozen=True)
class PreflightPlan:
    """What a passing preflight found, as a migration request shows it: read from the preflight's
    result (its to_dict(), freshly made or as the journal holds it) here and nowhere else."""

    run_id: int
    fingerprint: str
    schema_diff: tuple[str, ...]
    lint: tuple[str, ...]
    checks: tuple[dict[str, Any], ...]  # {"sql", "ok", "value"}
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    notes: tuple[str, ...]  # how the file was read (what was normalised)
    promoted_from: dict[str, Any] | None  # the run on another environment it is promoted from

    @classmethod
    def from_result(cls, run_id: int, result: dict[str, Any]) -> PreflightPlan:
        return cls(run_id=run_id, fingerprint=str(result.get("fingerprint") or ""),
                   schema_diff=tuple(result.get("schema_diff") or ()), lint=tuple(result.get("lint") or ()),
                   checks=tuple(result.get("checks") or ()), counts_before=dict(result.get("counts_before") or {}),
                   counts_after=dict(result.get("counts_after") or {}), notes=tuple(result.get("notes") or ()),
                   promoted_from=result.get("promoted_from") or None)


@dataclass(frozen=True)
class StepRecord:
    run_id: int
    name: str
    status: str
    detail: str
    at: float


@dataclass(frozen=True)
class BackupRecord:
    path: str
    created_at: float
    bytes: int
    sha256: str
    integrity: str
    counts: dict[str, int]
    fingerprint: str
    run_id: int | None
    offsite_path: str = ""  # the second copy off the app host (ops.offsite), "" when there is none
    offsite_sha256: str = ""

    @property
    def verified(self) -> bool:
        return self.integrity == "ok"


@dataclass(frozen=True)
class PreflightRecord:
    run_id: int
    migration: str
    sha256: str
    fingerprint: str
    canon: str
    ok: bool
    at: float


@dataclass(frozen=True)
class DriftBaseline:
    """The schema opsbot last knew an environment to have (ops.drift)."""

    fingerprint: str
    canon: str
    pending: str | None  # a drift found by a run, to be said at the next check (JSON of ops.drift.Drift)


# Rows handed to ops.policy and ops.ledger as the columns they read (keyed, as those modules read them).
@dataclass(frozen=True)
class StickyLock:
    """An environment held by hand (`/migrate lock`), until released."""

    reason: str
    by: str
    at: float


@dataclass(frozen=True)
class LedgerEntry:
    """A migration a run committed on an environment (ops.ledger reads and explains them)."""

    name: str
    sha256: str
    sql_sha256: str
    run_id: int
    requester: str
    approvers: str
    applied_at: float
    fingerprint_before: str
    fingerprint_after: str
    rolled_back_by: int | None = None
    rolled_back_at: float | None = None

    @property
    def applied(self) -> bool:
        return self.rolled_back_by is None


@dataclass(frozen=True)
class Incident:
    id: int
    started_at: float
    kind: str
    error: str
    alerted_at: float | None
    last_alert_at: float | None
    channel_id: int | None
    message_id: int | None
    watch_run_id: int | None
    resolved_at: float | None
    acked_by: str | None = None  # who is on it: reminders stop
    acked_at: float | None = None

    @property
    def duration_s(self) -> float:
        return (self.resolved_at or time.time()) - self.started_at


def run_record(row: dict[str, Any]) -> RunRecord:
    return RunRecord(
        id=row["id"], phase=row["phase"], target=row["target"], actor=row["actor"], migration=row["migration"],
        migration_sha256=row["migration_sha256"], state=row["state"], started_at=row["started_at"],
        finished_at=row["finished_at"], summary=json.loads(row["summary"]) if row["summary"] else {},
        error=row["error"], last_step=row["last_step"], outcome=row["outcome"], announced_at=row["announced_at"],
        undone_by=row["undone_by"],
    )


def backup_record(row: dict[str, Any]) -> BackupRecord:
    return BackupRecord(
        path=row["path"], created_at=row["created_at"], bytes=row["bytes"] or 0, sha256=row["sha256"] or "",
        integrity=row["integrity"] or "", counts=json.loads(row["counts"] or "{}"),
        fingerprint=row["fingerprint"] or "", run_id=row["run_id"],
        offsite_path=row.get("offsite_path") or "", offsite_sha256=row.get("offsite_sha256") or "",
    )


def incident_record(row: dict[str, Any]) -> Incident:
    return Incident(
        id=row["id"], started_at=row["started_at"], kind=row["kind"], error=row["error"],
        alerted_at=row["alerted_at"], last_alert_at=row["last_alert_at"], channel_id=row["channel_id"],
        message_id=row["message_id"], watch_run_id=row["watch_run_id"], resolved_at=row["resolved_at"],
        acked_by=row.get("acked_by"), acked_at=row.get("acked_at"),
    )
