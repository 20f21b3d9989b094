"""Emergency stop/start and restart on the local target run configured commands, no shell."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops.context import Engine
from ops.emergency import emergency_stop, ensure_running, start_app
from ops.errors import OpsError
from ops.targets.local import LocalTarget


def touch(path: Path) -> str:
    return f"{sys.executable} -c \"import pathlib; pathlib.Path('{path}').touch()\""


async def test_unconfigured_stop_is_refused_with_the_setting_to_set(engine: Engine) -> None:
    with pytest.raises(OpsError, match="no STOP_COMMAND is configured") as info:
        await emergency_stop(engine, actor="test")
    assert "Set STOP_COMMAND" in info.value.hint


async def test_stop_and_start_run_their_commands(engine: Engine, tmp_path: Path) -> None:
    stopped, started = tmp_path / "stopped", tmp_path / "started"
    engine.target = LocalTarget(stop_command=touch(stopped), start_command=touch(started))
    action = await emergency_stop(engine, actor="test")
    assert stopped.exists() and "START_COMMAND" in action.how_to_undo
    await start_app(engine, actor="test")
    assert started.exists()


async def test_a_failing_command_says_so(engine: Engine, tmp_path: Path) -> None:
    # No shell: the `;` is an argument to false, not a second command.
    marker = tmp_path / "ran"
    with pytest.raises(OpsError, match="STOP_COMMAND exited 1"):
        engine.target = LocalTarget(stop_command=f"false ; touch {marker}")
        await emergency_stop(engine, actor="test")
    assert not marker.exists()


async def test_restart_command_failure_is_an_error(tmp_path: Path) -> None:
    unset = await LocalTarget().restart()
    # In words first; the setting's name only where it says what to change.
    assert "not restarted" in unset and unset.index("restart command") < unset.index("(set RESTART_COMMAND")
    assert await LocalTarget(restart_command=touch(tmp_path / "r")).restart() == "restarted with RESTART_COMMAND"
    with pytest.raises(OpsError, match="RESTART_COMMAND exited 1"):
        await LocalTarget(restart_command="false").restart()


async def test_the_local_host_is_always_running(engine: Engine) -> None:
    assert await ensure_running(engine) == ""
