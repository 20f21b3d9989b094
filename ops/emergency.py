"""The runbook's emergency actions: stop the app's machines without destroying them, start
them again. `fly machine stop`, never `fly scale count 0` (which destroys the machines and
leaves nothing to ssh into: DESIGN rule 8)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ops.context import Engine
from ops.errors import OpsError
from ops.targets.local import run_app_command

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MachineAction:
    ok: bool
    machines: tuple[str, ...]
    how_to_undo: str


async def stop_app(engine: Engine, *, stop_command: str = "") -> MachineAction:
    target = engine.target
    if hasattr(target, "stop_machines"):
        stopped = tuple(await target.stop_machines())
        app = getattr(target, "app", "APP")
        undo = "`/migrate start`, or " + (" ; ".join(f"`fly machine start {m} --app {app}`" for m in stopped)
                                           or f"`fly machine start --app {app}`")
        return MachineAction(True, stopped, undo)
    await run_app_command(stop_command, name="STOP_COMMAND", verb="stop")
    return MachineAction(True, ("local",), "`/migrate start` (runs START_COMMAND)")


async def start_app(engine: Engine, *, start_command: str = "") -> MachineAction:
    target = engine.target
    if hasattr(target, "start_machines"):
        started = tuple(await target.start_machines())
        return MachineAction(True, started, "`/migrate emergency-stop`")
    await run_app_command(start_command, name="START_COMMAND", verb="start")
    return MachineAction(True, ("local",), "`/migrate emergency-stop`")


async def ensure_running(engine: Engine) -> str:
    """A restore needs a running machine: start one if every machine is stopped. Says what it did."""
    target = engine.target
    machines = await target.machines()
    if any(m.state == "started" for m in machines) or not hasattr(target, "start_machines"):
        return ""
    stopped = [m.id for m in machines if m.state in ("stopped", "suspended")]
    if not stopped:
        raise OpsError("the app has no machine to start", hint="Deploy the app first (`fly deploy`).")
    await target.start_machines(stopped[:1])
    return f"started machine {stopped[0]} first: a restore needs a running machine"
