"""The runbook's emergency actions: stop the app without destroying anything, start it again.

Each is a journaled run that takes no lock: an emergency stop must work while a stuck run holds
the target's lock. How the app is stopped, and how to undo it by hand, is the target's business
(a Fly app's machines are stopped, never scaled to zero: DESIGN rule 8).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from ops.context import Engine, Phase, PhaseRun
from ops.health import check_configured
from ops.targets.base import NoMachine

log = logging.getLogger(__name__)

# Neither takes the lock: they must work while a stuck run holds it.
EMERGENCY_STOP = Phase("emergency-stop", takes_lock=False)
START = Phase("start", takes_lock=False)
NO_HEALTH_URL = "no HEALTH_URL configured"


@dataclass(frozen=True)
class MachineAction:
    ok: bool
    machines: tuple[str, ...]
    how_to_undo: str  # how to start them again by hand (the target's words)

    @property
    def error(self) -> str:
        return ""

    @property
    def outcome(self) -> str:
        return ""  # the database is not touched: the run decides from ``ok``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StartResult:
    ok: bool  # started, and the health check (when HEALTH_URL is set) passes
    machines: tuple[str, ...]
    health_ok: bool | None  # None: no HEALTH_URL, nothing was checked
    health_text: str
    how_to_undo: str

    @property
    def error(self) -> str:
        return "" if self.ok else f"started, but the app is unhealthy: {self.health_text}"

    @property
    def outcome(self) -> str:
        return ""  # the database is not touched: the run decides from ``ok``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def emergency_stop(engine: Engine, *, actor: str, for_run: int | None = None) -> MachineAction:
    """Stop the app now. ``for_run``: the run whose failure this answers (journaled with it)."""
    target = engine.target
    async with PhaseRun(engine, EMERGENCY_STOP, None, actor) as run:
        stopped = tuple(await target.stop())
        log.info("emergency stop by %s on %s: stopped %s", actor, target.name, ", ".join(stopped) or "nothing")
        result = MachineAction(True, stopped, target.undo_stop_text(stopped))
        await run.done(result, for_run=for_run)
    return result


async def start_app(engine: Engine, *, actor: str) -> StartResult:
    """Start what is stopped, then check health (HEALTH_URL) when it is set. A start whose health
    check fails is a failed run, as it is a failed command (exit 1)."""
    async with PhaseRun(engine, START, None, actor) as run:
        started = tuple(await engine.target.start())
        health = await check_configured(engine.settings.health)
        text = NO_HEALTH_URL if health is None else f"health {'✅ passing' if health.ok else '❌ ' + health.error}"
        result = StartResult(health is None or health.ok, started, None if health is None else health.ok, text,
                             how_to_undo="an emergency stop (`emergency-stop`) stops it again")
        await run.done(result)
    return result


async def ensure_running(engine: Engine) -> str:
    """A restore needs a running machine: start one if every machine is stopped. Says what it did
    ("" when nothing was needed)."""
    target = engine.target
    machines = await target.machines()
    if any(m.state == "started" for m in machines):
        return ""
    stopped = [m.id for m in machines if m.state in ("stopped", "suspended")]
    if not stopped:
        raise NoMachine("the app has no machine to start",
                        hint=f"Deploy the app first, then check it: {target.status_text()}.")
    await target.start(stopped[:1])
    return f"started machine {stopped[0]} first: a restore needs a running machine"
