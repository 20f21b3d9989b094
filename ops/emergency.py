"""The runbook's emergency actions: stop the app without destroying anything, start it again.

Each is a journaled run that takes no lock: an emergency stop must work while a stuck run holds
the target's lock. How the app is stopped, and how to undo it by hand, is the target's business
(a Fly app's machines are stopped, never scaled to zero: DESIGN rule 8).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from ops.context import Engine, Phase
from ops.errors import OpsError
from ops.health import check_health
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StartResult:
    ok: bool  # started, and the health check (when HEALTH_URL is set) passes
    machines: tuple[str, ...]
    health_ok: bool | None  # None: no HEALTH_URL, nothing was checked
    health_text: str
    how_to_undo: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def emergency_stop(engine: Engine, *, actor: str, for_run: int | None = None) -> MachineAction:
    """Stop the app now. ``for_run``: the run whose failure this answers (journaled with it)."""
    target = engine.target
    run_id = await engine.journal.start_run(EMERGENCY_STOP.name, target.name, actor, lock=EMERGENCY_STOP.takes_lock)
    try:
        stopped = tuple(await target.stop())
    except Exception as exc:
        await _failed(engine, run_id, exc)
        raise
    log.info("emergency stop by %s on %s: stopped %s", actor, target.name, ", ".join(stopped) or "nothing")
    await engine.journal.finish_run(run_id, "succeeded", {"machines": stopped, "for_run": for_run})
    return MachineAction(True, stopped, target.undo_stop_text(stopped))


async def start_app(engine: Engine, *, actor: str) -> StartResult:
    """Start what is stopped, then check health (HEALTH_URL) when it is set."""
    target = engine.target
    run_id = await engine.journal.start_run(START.name, target.name, actor, lock=START.takes_lock)
    try:
        started = tuple(await target.start())
        health_ok, health_text = await _health(engine)
    except Exception as exc:
        await _failed(engine, run_id, exc)
        raise
    await engine.journal.finish_run(run_id, "succeeded", {"machines": started, "health": health_text})
    return StartResult(health_ok is not False, started, health_ok, health_text,
                       how_to_undo="an emergency stop (`emergency-stop`) stops it again")


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


async def _health(engine: Engine) -> tuple[bool | None, str]:
    health = engine.settings.health
    if not health.url:
        return None, NO_HEALTH_URL
    result = await check_health(health.url, timeout=health.timeout_s, expect=health.expect)
    return result.ok, f"health {'✅ passing' if result.ok else '❌ ' + result.error}"


async def _failed(engine: Engine, run_id: int, exc: Exception) -> None:
    message = exc.message if isinstance(exc, OpsError) else f"unexpected error: {exc!r}"
    await engine.journal.finish_run(run_id, "failed", {}, message)
