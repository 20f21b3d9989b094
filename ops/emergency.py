"""The runbook's emergency actions: stop the app's machines without destroying them, start
them again. `fly machine stop`, never `fly scale count 0` (which destroys the machines and
leaves nothing to ssh into: DESIGN rule 8)."""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass

from ops.context import Engine
from ops.errors import OpsError
from ops.targets.base import run_argv

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
    await _local(stop_command, "STOP_COMMAND", "stop")
    return MachineAction(True, ("local",), "`/migrate start` (runs START_COMMAND)")


async def start_app(engine: Engine, *, start_command: str = "") -> MachineAction:
    target = engine.target
    if hasattr(target, "start_machines"):
        started = tuple(await target.start_machines())
        return MachineAction(True, started, "`/migrate emergency-stop`")
    await _local(start_command, "START_COMMAND", "start")
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


async def _local(command: str, name: str, verb: str) -> None:
    if not command:
        raise OpsError(f"no {name} is configured for the local target", hint=f"Set {name} to the command that "
                       f"{verb}s the app (an argument list, run without a shell), or {verb} it by hand.")
    result = await run_argv(shlex.split(command), timeout=120, what=name, hint=f"{verb.capitalize()} the app by hand.")
    if not result.ok:
        raise OpsError(f"{name} exited {result.exit_code}: {result.stderr.strip()[:300]}",
                       hint=f"{verb.capitalize()} the app by hand and check its logs.")
