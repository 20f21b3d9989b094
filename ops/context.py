"""What every phase is given: where the app is, where state lives, how to report progress."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ops.errors import OpsError
from ops.journal import Journal
from ops.policy import Policy
from ops.redact import redact
from ops.reporter import NullReporter, Reporter, Status
from ops.settings import Settings
from ops.targets.base import Target
from ops.targets.registry import build_target

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """The settings a phase needs, with live objects (target, journal) attached.

    The fields are what phases read and tests change; ``settings`` holds the rest (health,
    the app's commands) as loaded.
    """

    target: Target
    journal: Journal
    db_path: str
    migrations_dir: Path
    work_dir: Path
    busy_timeout_ms: int = 10000
    phase_timeout_s: float = 1800.0
    free_space_margin: float = 1.2
    # After a change (COMMIT, .restore) the outcome is read from the database itself; a read that
    # fails (one dropped connection to the host) is tried again after these pauses before the
    # outcome is unknown.
    read_retry_delays: tuple[float, ...] = (1.0, 3.0, 9.0)
    settings: Settings = field(default_factory=Settings)
    # The environment's name from opsbot.toml ("staging", "production"); "" when the environment
    # variables describe the one environment (then the journal keys rows by the target, as before).
    env: str = ""
    policy: Policy = field(default_factory=Policy)  # the environment's (ops.policy)
    # Off-host copies of backups (ops.offsite) and how many to keep (ops.retention).
    offsite_root: Path | None = None  # None: backups/ beside the journal (work_dir's parent)
    keep_host: int = 10
    keep_offsite: int = 30

    @property
    def offsite_dir(self) -> Path:
        """This environment's folder of off-host copies, on the bot's (or CLI's) own disk."""
        root = self.offsite_root or self.work_dir.parent / "backups"
        return root / re.sub(r"[^A-Za-z0-9._-]", "_", self.key)

    @property
    def key(self) -> str:
        """What the journal keys this environment's rows, locks and ledger by."""
        return self.env or self.target.name

    @property
    def env_name(self) -> str:
        """The environment as people read it on cards and in the CLI."""
        return self.env or self.target.describe()

    @classmethod
    async def open(cls, settings: Settings, *, env: str = "", policy: Policy | None = None,
                   journal: Journal | None = None) -> Engine:
        """The engine for these settings: the journal opened (runs a dead process left `running`
        marked interrupted), the target built from the registry. ``env``: the environment's name
        in opsbot.toml (ops.environments)."""
        target = build_target(settings)
        if journal is not None:  # another environment's: one journal holds every environment's rows
            e = settings.engine
            return cls(target=target, journal=journal, db_path=e.db_path, migrations_dir=e.migrations_dir,
                       work_dir=e.work_dir, busy_timeout_ms=e.busy_timeout_ms, phase_timeout_s=e.phase_timeout_s,
                       settings=settings, env=env, policy=policy or Policy(), **_keeping(e))
        journal = await Journal.open(settings.engine.state_db)
        try:
            for run in await journal.mark_interrupted():
                log.warning("run #%s (%s) was interrupted; last completed step: %s", run.id, run.phase,
                            run.last_step or "none")
        except BaseException:
            await journal.close()
            raise
        e = settings.engine
        return cls(target=target, journal=journal, db_path=e.db_path, migrations_dir=e.migrations_dir,
                   work_dir=e.work_dir, busy_timeout_ms=e.busy_timeout_ms, phase_timeout_s=e.phase_timeout_s,
                   settings=settings, env=env, policy=policy or Policy(), **_keeping(e))


def _keeping(e: Any) -> dict[str, Any]:
    return {"offsite_root": Path(e.offsite_dir) if e.offsite_dir else None, "keep_host": e.keep_host,
            "keep_offsite": e.keep_offsite}


@dataclass(frozen=True)
class Phase:
    """A runbook phase as its journal runs record it. ``takes_lock``: it changes (or copies) the
    app's database, so it holds the target's lock while it runs and runs one at a time; phases
    that only read run beside it, and the emergency ones must work while a stuck run holds it."""

    name: str
    takes_lock: bool


class PhaseResult(Protocol):
    """What a phase returns, as its journal run records it (``Run.done``)."""

    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str:
        """Why it failed, in one line ("" when ok)."""
        ...

    @property
    def outcome(self) -> str:
        """What it did to the database (ops.outcome.OUTCOMES); "" lets the run decide from ``ok``."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class Run:
    """One phase run: progress goes to the reporter and, step by step, to the journal."""

    engine: Engine
    phase: Phase
    reporter: Reporter = field(default_factory=NullReporter)
    actor: str = "cli"
    # What the run works on and locks: the app's target unless the phase works on something else
    # (a code revert works on its git branch).
    target_name: str = ""
    run_id: int = 0
    started: float = field(default_factory=time.monotonic)
    # What an exception raised now means for the database: a phase sets "unknown" just before it
    # starts changing it and "changed" once the change is confirmed (ops.outcome.OUTCOMES).
    outcome_on_error: str = "unchanged"
    _pending: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *, migration: str = "", sha256: str = "") -> int:
        self.run_id = await self.engine.journal.start_run(
            self.phase.name, self.target_name or self.engine.key, self.actor, lock=self.phase.takes_lock,
            migration=migration, sha256=sha256)
        await self.reporter.run_started(self.run_id)  # the bot links its progress message to the run
        log.info("%s run #%s on %s started by %s%s", self.phase.name, self.run_id, self.engine.env_name,
                 self.actor, f" ({migration})" if migration else "")
        return self.run_id

    def step(self, name: str, status: Status, detail: str = "") -> None:
        detail = redact(detail)
        self.reporter.step(name, status, detail)
        if self.run_id:
            self._pending.append(
                asyncio.get_running_loop().create_task(
                    self.engine.journal.add_step(self.run_id, name, str(status), detail)
                )
            )

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.reporter.table(title, columns, rows)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def done(self, result: PhaseResult, **context: Any) -> None:
        """Finish the journal run from the phase's result: its ok, error and outcome; its dict is the
        summary, with ``context`` beside it (what the run answered, not part of its result)."""
        await self.finish(result.ok, {**result.to_dict(), **context}, result.error, outcome=result.outcome)

    async def finish(self, ok: bool, summary: dict[str, Any], error: str = "", *, outcome: str = "") -> None:
        await self.flush()
        if self.run_id:
            outcome = outcome or ("done" if ok else self.outcome_on_error)
            await self.engine.journal.finish_run(self.run_id, "succeeded" if ok else "failed", summary, error,
                                                 outcome=outcome)
            log.info("%s run #%s on %s %s (%s)", self.phase.name, self.run_id, self.engine.env_name,
                     "succeeded" if ok else "failed", outcome)

    async def fail(self, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, OpsError) else f"unexpected error: {exc!r}"
        hint = exc.hint if isinstance(exc, OpsError) else ""
        await self.finish(False, {"error": message, "hint": hint, "outcome": self.outcome_on_error}, message)


class Step:
    """``async with run_step(run, "name"):`` reports running, then done or failed."""

    def __init__(self, run: Run, name: str, running_detail: str = "") -> None:
        self.run, self.name, self.running_detail = run, name, running_detail
        self.detail = ""
        self.failed = False

    def fail(self, detail: str) -> None:
        """The step ends ❌ with ``detail`` without raising (the phase decides what follows)."""
        self.failed, self.detail = True, detail

    async def __aenter__(self) -> Step:
        # The steps before this one are in the journal before it starts: killed inside it, the
        # journal still names the last step that finished (the interrupted note reads it).
        await self.run.flush()
        self.started = time.monotonic()
        self.run.step(self.name, Status.RUNNING, self.running_detail)
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        took = f" ({time.monotonic() - self.started:.1f}s)"
        if exc is None and self.failed:
            self.run.step(self.name, Status.FAILED, (self.detail + took).strip())
        elif exc is None:
            self.run.step(self.name, Status.DONE, ((self.detail or self.running_detail) + took).strip())
        else:
            message = exc.message if isinstance(exc, OpsError) else repr(exc)
            self.run.step(self.name, Status.FAILED, (message + took).strip())


class PhaseRun:
    """``async with PhaseRun(engine, BACKUP, reporter, actor) as run:`` opens a journal run (taking
    the target's lock when the phase says it takes it); an exception marks it failed."""

    def __init__(
        self,
        engine: Engine,
        phase: Phase,
        reporter: Reporter | None,
        actor: str,
        *,
        migration: str = "",
        sha256: str = "",
        target_name: str = "",
    ) -> None:
        self.run = Run(engine, phase, reporter or NullReporter(), actor, target_name=target_name)
        self.migration, self.sha256 = migration, sha256

    async def __aenter__(self) -> Run:
        await self.run.start(migration=self.migration, sha256=self.sha256)
        return self.run

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            if not isinstance(exc, OpsError):
                log.exception("%s run #%s on %s crashed", self.run.phase.name, self.run.run_id,
                              self.run.engine.env_name, exc_info=exc)
            else:
                exc.outcome = exc.outcome or self.run.outcome_on_error
            await self.run.fail(exc)
