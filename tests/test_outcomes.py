"""One outcome per run, decided from the database, the same in `--json`, the text output and the
journal: done, unchanged, changed (then a later step failed), unknown. Through `python -m ops`
over the stand-in fly, with a flyctl that fails exactly once at the worst moment."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ops.context import Engine
from ops.migrate import run_migrate
from ops.reporter import ListReporter, Status
from tests.conftest import MIGRATIONS, REPO, dump, make_db
from tests.fakefly.plugin import FakeFly

MIGRATION = "0001_remove_suspend.sql"
REFUSED = "error connecting to SSH server: dial tcp [fdaa:0:1:a7b::3]:22: connect: connection refused"


@pytest.fixture
def fly_env(tmp_path: Path, fakefly: FakeFly) -> dict[str, str]:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=100, logs=1500)
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / MIGRATION).write_text((MIGRATIONS / MIGRATION).read_text())
    return {**os.environ, **fakefly.env, "TARGET": "fly", "FLYCTL": str(fakefly.bin), "FLY_APP": fakefly.app,
            "FLY_API_TOKEN": fakefly.token, "DB_PATH": str(db), "MIGRATIONS_DIR": str(migrations),
            "STATE_DB": str(tmp_path / "state" / "opsbot.db"), "PYTHONPATH": str(REPO)}


def ops(env: dict[str, str], *args: str, as_json: bool = True) -> tuple[int, dict | str]:
    done = subprocess.run([sys.executable, "-m", "ops", *(["--json"] if as_json else []), *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    return done.returncode, (json.loads(done.stdout) if as_json else done.stdout + done.stderr)


def journal_run(env: dict[str, str], phase: str) -> sqlite3.Row:
    con = sqlite3.connect(env["STATE_DB"])
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT * FROM runs WHERE phase=? ORDER BY id DESC LIMIT 1", (phase,)).fetchone()
    finally:
        con.close()


def user_version(env: dict[str, str]) -> int:
    return sqlite3.connect(env["DB_PATH"]).execute("PRAGMA user_version").fetchone()[0]


def test_one_failed_flyctl_call_right_after_commit_still_reports_the_migration_applied(
    fly_env: dict[str, str], fakefly: FakeFly
) -> None:
    # The call after the one that carried the migration (the COMMIT) fails once, as a dropped
    # WireGuard peer does; the read is tried again after a pause and the outcome comes from it.
    fakefly.add_fault("ssh", "exit1", armed_by="DROP TABLE suspend_history", times=1, message=REFUSED)
    code, data = ops(fly_env, "migrate", MIGRATION, "--yes")
    assert code == 0 and data["ok"] and data["committed"] and data["outcome"] == "done", data
    assert user_version(fly_env) == 8 and data["user_version"] == 8
    run = journal_run(fly_env, "migrate")
    assert run["state"] == "succeeded" and run["outcome"] == "done"
    # The fault did fire: one ssh call after the migration failed and was retried.
    assert json.loads((fakefly.state_dir / "faults.json").read_text())[0]["times"] == 0


def test_host_unreachable_after_commit_says_applied_not_failed_to_connect(
    fly_env: dict[str, str], fakefly: FakeFly
) -> None:
    """The control, and the `changed` outcome: every read after COMMIT fails. Before, this was
    "failed: could not open a connection, retry in a minute" for a migration that committed."""
    fakefly.add_fault("ssh", "exit1", armed_by="DROP TABLE suspend_history", message=REFUSED)
    code, data = ops(fly_env, "migrate", MIGRATION, "--yes")
    assert code == 1 and not data["ok"] and data["committed"] and data["outcome"] == "changed", data
    assert "the migration committed, but the database could not be read afterwards" in data["error"]
    assert "IS applied" in data["hint"] and data["backup"] in data["hint"]
    assert "retry" not in data["hint"].lower()
    assert user_version(fly_env) == 8
    run = journal_run(fly_env, "migrate")
    assert run["state"] == "failed" and run["outcome"] == "changed"
    fakefly.clear_faults()
    _, text = ops(fly_env, "migrate", MIGRATION, "--yes", as_json=False)
    # A retry is refused: it is applied (the ledger records a committed migration whatever failed after).
    assert "is already applied on" in " ".join(text.split()), text


def test_one_failed_flyctl_call_right_after_restore_reports_restored_and_restarts(
    fly_env: dict[str, str], fakefly: FakeFly
) -> None:
    code, data = ops(fly_env, "migrate", MIGRATION, "--yes")
    assert code == 0, data
    restarts = fakefly.app_state()["restarts"]
    fakefly.add_fault("ssh", "exit1", armed_by=".restore", times=1, message=REFUSED)
    code, data = ops(fly_env, "rollback", "--yes")
    assert code == 0 and data["ok"] and data["outcome"] == "done", data
    assert user_version(fly_env) == 7 and fakefly.app_state()["restarts"] == restarts + 1
    assert journal_run(fly_env, "rollback")["outcome"] == "done"


async def test_failed_steps_are_never_shown_done(engine: Engine, app_db: Path) -> None:
    """The app holds the write lock: the apply step is ❌, not ✅ with a failure in its text."""
    original = dump(app_db)
    holder = sqlite3.connect(app_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        engine.busy_timeout_ms = 200
        rep = ListReporter()
        result = await run_migrate(engine, MIGRATION, confirmed=True, reporter=rep)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not result.ok and result.outcome == "unchanged" and result.failed_step == "begin"
    assert rep.statuses("apply") == [Status.RUNNING, Status.FAILED]
    done = [e for e in rep.events if e.status == Status.DONE]
    assert not any("write lock" in e.detail for e in done), done
    assert dump(app_db) == original


def test_flyctl_gets_the_fly_token_and_no_other_secret(fly_env: dict[str, str], fakefly: FakeFly) -> None:
    env = {**fly_env, "DISCORD_TOKEN": "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GsEcRt.not-for-flyctl-0123456789abcd",
           "CODE_DEPLOY_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-for-flyctl\n", "AWS_SECRET_ACCESS_KEY": "x"}
    code, data = ops(env, "verify")
    assert code == 0, data
    calls = fakefly.calls()
    assert calls and all(call["env"]["FLY_API_TOKEN"] for call in calls)
    for call in calls:
        assert not {"DISCORD_TOKEN", "CODE_DEPLOY_KEY", "AWS_SECRET_ACCESS_KEY"} & set(call["env_names"]), call
        assert "PATH" in call["env_names"] and "HOME" in call["env_names"]


async def test_a_phase_that_runs_out_of_time_names_phase_timeout_s(
    engine: Engine, fakefly: FakeFly, tmp_path: Path
) -> None:
    """flyctl hangs on the `.backup`: the message names the setting, not "the connection failed"."""
    from ops.backup import run_backup
    from ops.errors import OpsError

    engine.target = fakefly.target()
    engine.phase_timeout_s = 1.0
    fakefly.add_fault("ssh", "hang", match=".backup", times=1)
    with pytest.raises(OpsError) as info:
        await run_backup(engine, label="slow")
    assert "that is PHASE_TIMEOUT_S (1 s; raise it for a longer run)" in info.value.message
    assert "may still be running" in info.value.message
