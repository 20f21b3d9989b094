"""`python -m ops emergency-stop --yes` and `python -m ops start`: the runbook's emergency actions
from the terminal, journaled like the bot's, on the local target (STOP_COMMAND / START_COMMAND)
and on the stand-in fly (`fly machine stop/start`, never a scale to zero)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ops.journal import Journal, RunRecord
from tests.conftest import MIGRATIONS, REPO, dump, make_db
from tests.fakefly.plugin import FakeFly
from tests.test_bot_check import dead_url
from tests.test_cli import cli

APP = "timelogger-staging"
MIGRATION = "0001_remove_suspend.sql"


def touch(path: Path) -> str:
    return f"{sys.executable} -c \"import pathlib; pathlib.Path('{path}').touch()\""


def local_env(tmp_path: Path) -> dict[str, str]:
    return {"TARGET": "local", "DB_PATH": str(tmp_path / "vol" / "app.db"),
            "STATE_DB": str(tmp_path / "state" / "j.db"), "PYTHONPATH": str(REPO),
            "STOP_COMMAND": touch(tmp_path / "stopped"), "START_COMMAND": touch(tmp_path / "started")}


def ops_json(*args: str, env: dict[str, str], cwd: Path, code: int = 0) -> dict[str, Any]:
    out = cli("--json", *args, env=env, cwd=cwd)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


async def runs(state_db: Path, phase: str) -> list[RunRecord]:
    journal = await Journal.open(state_db)
    try:
        return await journal.runs(phase=phase)
    finally:
        await journal.close()


async def test_emergency_stop_needs_yes_then_runs_stop_command(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    refused = ops_json("emergency-stop", env=env, cwd=tmp_path, code=2)
    assert refused["error"]["hint"].startswith("Re-run with --yes")
    assert not (tmp_path / "stopped").exists()
    stopped = ops_json("emergency-stop", "--yes", "--for-run", "7", env=env, cwd=tmp_path)
    assert stopped == {"ok": True, "machines": ["local"], "how_to_undo": "START_COMMAND by hand"}
    assert (tmp_path / "stopped").exists() and not (tmp_path / "started").exists()
    [run] = await runs(tmp_path / "state" / "j.db", "emergency-stop")
    assert run.state == "succeeded" and run.actor == "cli" and run.summary["for_run"] == 7


async def test_emergency_stop_works_while_a_stuck_run_holds_the_lock(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    journal = await Journal.open(tmp_path / "state" / "j.db")
    stuck = await journal.start_run("migrate", "local", "someone", lock=True)  # this process is alive: it stays
    await journal.close()
    ops_json("emergency-stop", "--yes", env=env, cwd=tmp_path)
    assert (tmp_path / "stopped").exists()
    journal = await Journal.open(tmp_path / "state" / "j.db")
    try:
        lock = await journal.lock_for("local")
        assert lock is not None and lock.run_id == stuck
    finally:
        await journal.close()


async def test_start_runs_start_command_and_checks_health(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    started = ops_json("start", env=env, cwd=tmp_path)
    assert started["ok"] and started["machines"] == ["local"] and (tmp_path / "started").exists()
    assert started["health_ok"] is None and started["health_text"] == "no HEALTH_URL configured"
    unhealthy = ops_json("start", env={**env, "HEALTH_URL": dead_url(), "HEALTH_TIMEOUT_S": "2"}, cwd=tmp_path,
                         code=1)
    assert unhealthy["ok"] is False and unhealthy["health_ok"] is False
    assert unhealthy["health_text"].startswith("health ❌ connection failed")
    # The journal says what the exit code says: an unhealthy start is a failed run (newest first).
    recorded = await runs(tmp_path / "state" / "j.db", "start")
    assert [r.state for r in recorded] == ["failed", "succeeded"]
    assert recorded[0].error.startswith("started, but the app is unhealthy: health ❌ connection failed")
    text = cli("start", env=env, cwd=tmp_path)
    assert text.returncode == 0 and "started local; no HEALTH_URL configured" in text.stdout


async def test_a_failing_stop_command_is_a_failed_run(tmp_path: Path) -> None:
    env = {**local_env(tmp_path), "STOP_COMMAND": "false"}
    failed = ops_json("emergency-stop", "--yes", env=env, cwd=tmp_path, code=1)
    assert "STOP_COMMAND exited 1" in failed["error"]["message"]
    [run] = await runs(tmp_path / "state" / "j.db", "emergency-stop")
    assert run.state == "failed" and "STOP_COMMAND exited 1" in run.error
    unset = ops_json("start", env={**env, "START_COMMAND": ""}, cwd=tmp_path, code=1)
    assert "no START_COMMAND is configured" in unset["error"]["message"]
    text = cli("emergency-stop", "--yes", env=env, cwd=tmp_path)
    assert text.returncode == 1 and "✘ STOP_COMMAND exited 1" in text.stdout


def fly_env(fakefly: FakeFly, tmp_path: Path) -> dict[str, str]:
    return {**fakefly.env, "TARGET": "fly", "FLYCTL": str(fakefly.bin), "FLY_APP": fakefly.app,
            "FLY_API_TOKEN": fakefly.token, "DB_PATH": "/data/app.db", "STATE_DB": str(tmp_path / "state" / "j.db"),
            "PYTHONPATH": str(REPO)}


def test_on_fly_machines_are_stopped_and_started_never_scaled(fakefly: FakeFly, tmp_path: Path) -> None:
    fakefly.set_machines([{"id": "m1", "state": "started"}, {"id": "m2", "state": "started"}])
    env = fly_env(fakefly, tmp_path)
    stopped = ops_json("emergency-stop", "--yes", env=env, cwd=tmp_path)
    assert stopped["machines"] == ["m1", "m2"] and fakefly.machine_states() == {"m1": "stopped", "m2": "stopped"}
    assert stopped["how_to_undo"] == f"`fly machine start m1 --app {APP}` ; `fly machine start m2 --app {APP}`"
    started = ops_json("start", env=env, cwd=tmp_path)
    assert started["ok"] and started["machines"] == ["m1", "m2"]
    assert fakefly.machine_states() == {"m1": "started", "m2": "started"}
    assert fakefly.argvs() == [
        ["machine", "list", "--app", APP, "--json"],
        ["machine", "stop", "m1", "--app", APP],
        ["machine", "stop", "m2", "--app", APP],
        ["machine", "list", "--app", APP, "--json"],
        ["machine", "start", "m1", "--app", APP],
        ["machine", "start", "m2", "--app", APP],
    ]
    assert all(call["env"]["FLY_API_TOKEN"] for call in fakefly.calls())
    text = cli("emergency-stop", "--yes", env=env, cwd=tmp_path)
    shown = " ".join(text.stdout.split())  # rich wraps long lines
    assert text.returncode == 0 and "stopped m1, m2 (kept, not destroyed)" in shown
    assert f"`fly machine start m1 --app {APP}`" in shown and fakefly.token not in text.stdout + text.stderr


def test_cli_rollback_of_a_stopped_app_starts_a_machine_only_once_confirmed(fakefly: FakeFly, tmp_path: Path) -> None:
    """The CLI and the channel agree: after an emergency stop, `rollback` without --yes starts
    nothing; with --yes a machine is started first (a restore needs one), then the backup restored."""
    db = tmp_path / "vol" / "app.db"
    make_db(db)
    original = dump(db)
    fakefly.set_machines([{"id": "m1", "state": "started"}])
    env = {**fly_env(fakefly, tmp_path), "DB_PATH": str(db), "MIGRATIONS_DIR": str(MIGRATIONS)}
    assert ops_json("backup", "--label", "before", env=env, cwd=tmp_path)["ok"]
    assert ops_json("migrate", MIGRATION, "--yes", env=env, cwd=tmp_path)["ok"]
    assert dump(db) != original
    ops_json("emergency-stop", "--yes", env=env, cwd=tmp_path)
    assert fakefly.machine_states() == {"m1": "stopped"}
    refused = ops_json("rollback", env=env, cwd=tmp_path, code=2)
    assert "needs confirmation" in refused["error"]["message"]
    assert fakefly.machine_states() == {"m1": "stopped"}  # refused: nothing was started
    rolled = ops_json("rollback", "--yes", env=env, cwd=tmp_path)
    assert rolled["ok"] and fakefly.machine_states() == {"m1": "started"}
    assert ["machine", "start", "m1", "--app", APP] in fakefly.argvs()
    assert rolled["outcome"] == "done" and dump(db) == original


def test_cli_migrate_checks_the_apps_health_as_the_bot_does(tmp_path: Path) -> None:
    """The post-migration health check is an ops function: the CLI runs it too, after COMMIT."""
    env = local_env(tmp_path)
    make_db(tmp_path / "vol" / "app.db")
    env.update(MIGRATIONS_DIR=str(MIGRATIONS), HEALTH_URL=dead_url(), HEALTH_TIMEOUT_S="2")
    done = ops_json("migrate", MIGRATION, "--yes", env=env, cwd=tmp_path)
    assert done["ok"] and done["committed"] and done["health_ok"] is False  # applied; the app is not healthy
    text = cli("rollback", "--yes", env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stdout + text.stderr
    shown = " ".join(cli("migrate", MIGRATION, "--yes", env=env, cwd=tmp_path).stdout.split())
    assert "✔ migrate succeeded" in shown and "⚠ the migration is applied, but the app's health check fails" in shown
    unchecked = ops_json("rollback", "--yes", env={**env, "HEALTH_URL": ""}, cwd=tmp_path)
    assert unchecked["ok"]
    again = ops_json("migrate", MIGRATION, "--yes", env={**env, "HEALTH_URL": ""}, cwd=tmp_path)
    assert again["ok"] and again["health_ok"] is None  # no HEALTH_URL: nothing was checked
