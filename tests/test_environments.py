"""Environments from one opsbot.toml (issue 14), through `python -m ops` on real databases: a ledger
and a lock per environment, promotion from staging, approvers, freezes and the sticky lock."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import REPO, make_db
from tests.fakefly.plugin import FakeFly
from tests.test_cli import cli

MIGRATION = "0001_remove_suspend.sql"


def two_locals(tmp_path: Path, production_policy: str = "") -> tuple[dict[str, str], Path, Path]:
    staging, production = tmp_path / "staging" / "app.db", tmp_path / "production" / "app.db"
    make_db(staging, users=30, logs=300)
    make_db(production, users=40, logs=400)
    config = tmp_path / "opsbot.toml"
    config.write_text(f'''
[environments.staging]
target = "local"
db_path = "{staging}"

[environments.production]
target = "local"
db_path = "{production}"
[environments.production.policy]
requires_success_on = "staging"
{production_policy}
''')
    env = {"STATE_DB": str(tmp_path / "state" / "j.db"), "MIGRATIONS_DIR": str(REPO / "migrations"),
           "PYTHONPATH": str(REPO), "OPSBOT_CONFIG": str(config), "COLUMNS": "200"}
    return env, staging, production


def ops(env: dict[str, str], cwd: Path, *args: str, code: int = 0) -> dict:  # type: ignore[type-arg]
    out = cli("--json", *args, env=env, cwd=cwd)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


def user_version(db: Path) -> int:
    return sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]


def test_production_takes_only_what_succeeded_on_staging(tmp_path: Path) -> None:
    env, staging, production = two_locals(tmp_path)
    # Not yet on staging: refused, naming what is missing; production is untouched.
    refused = ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes", code=1)
    assert "has not succeeded on staging: no run there applied it" in refused["error"]["message"]
    assert "--env staging" in refused["error"]["hint"]
    pre = ops(env, tmp_path, "--env", "production", "preflight", MIGRATION, code=1)
    assert "has not succeeded on staging" in pre["error"]["message"]
    assert user_version(production) == 7
    # The first environment is the default; it has no such rule.
    done = ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    assert done["ok"] and user_version(staging) == 8 and user_version(production) == 7
    # Now production's preflight compares its predicted row changes with staging's run.
    pre = ops(env, tmp_path, "--env", "production", "preflight", MIGRATION)
    assert pre["promoted_from"] == {"env": "staging", "run_id": done["run_id"], "row_changes_differ": []}
    promoted = ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes")
    assert promoted["ok"] and user_version(production) == 8
    # Each environment has its own ledger.
    for name in ("staging", "production"):
        report = ops(env, tmp_path, "--env", name, "pending")
        assert report["env"] == name and [a["name"] for a in report["applied"]] == [MIGRATION]
    journal = sqlite3.connect(tmp_path / "state" / "j.db")
    assert {t for (t,) in journal.execute("SELECT DISTINCT target FROM runs")} == {"staging", "production"}


def test_a_file_changed_after_staging_or_rolled_back_there_is_not_promoted(tmp_path: Path) -> None:
    env, staging, production = two_locals(tmp_path)
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0002_tags.sql").write_text("CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT);\n")
    env = {**env, "MIGRATIONS_DIR": str(folder)}
    staged = ops(env, tmp_path, "migrate", "0002_tags.sql", "--yes")
    (folder / "0002_tags.sql").write_text("CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n")
    changed = ops(env, tmp_path, "--env", "production", "migrate", "0002_tags.sql", "--yes", code=1)
    assert f"(run #{staged['run_id']}, sha256 " in changed["error"]["message"] and "it changed since" in \
        changed["error"]["message"]
    (folder / "0002_tags.sql").write_text("CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT);\n")
    rolled = ops(env, tmp_path, "rollback", "--yes")
    back = ops(env, tmp_path, "--env", "production", "migrate", "0002_tags.sql", "--yes", code=1)
    assert f"rolled back by run #{rolled['run_id']}" in back["error"]["message"]
    assert "tags" not in {n for (n,) in sqlite3.connect(production).execute("SELECT name FROM sqlite_master")}


def test_two_approvers_refuse_the_clis_yes_and_a_freeze_refuses_everyone(tmp_path: Path) -> None:
    env, _, production = two_locals(tmp_path, 'approvers = 2\nfreeze = [{ from = 2020-01-01T00:00:00Z, '
                                              'to = 2099-01-01T00:00:00Z, reason = "the audit" }]')
    ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    frozen = ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes", code=1)
    assert "production: a change freeze is on until 2099-01-01 00:00 UTC: the audit" in frozen["error"]["message"]
    config = Path(env["OPSBOT_CONFIG"])
    config.write_text(config.read_text().replace("2099-01-01", "2020-06-01"))  # the freeze is over
    one = ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes", code=1)
    assert "production needs 2 approvers for 0001_remove_suspend.sql; one approved it (--yes is one person)" \
        in one["error"]["message"]
    assert "/migrate run" in one["error"]["hint"] and user_version(production) == 7


def test_allowed_hours_and_a_bad_config_file(tmp_path: Path) -> None:
    env, _, production = two_locals(tmp_path, 'allowed_hours = "03-03"')
    bad = cli("--json", "status", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "allowed_hours must look like" in json.loads(bad.stdout)["error"]["message"]
    config = Path(env["OPSBOT_CONFIG"])
    config.write_text(config.read_text().replace('allowed_hours = "03-03"', 'approvers = "two"\nwhen = 1'))
    bad = json.loads(cli("--json", "status", env=env, cwd=tmp_path).stdout)["error"]["message"]
    assert "approvers must be a number from 1 to 10" in bad and "unknown key 'when'" in bad  # every problem at once
    missing = cli("--json", "--env", "qa", "status", env={**env, "OPSBOT_CONFIG": str(config)}, cwd=tmp_path)
    assert missing.returncode == 2


def test_local_and_the_standin_fly_from_one_file(tmp_path: Path, fakefly: FakeFly) -> None:
    local_db, fly_db = tmp_path / "local" / "app.db", tmp_path / "volume" / "app.db"
    make_db(local_db)
    make_db(fly_db)
    config = tmp_path / "opsbot.toml"
    config.write_text(f'''
[environments.staging]
target = "local"
db_path = "{local_db}"

[environments.production]
target = "fly"
app = "{fakefly.app}"
db_path = "{fly_db}"
settings = {{ FLYCTL = "{fakefly.bin}" }}
''')
    env = {**fakefly.env, "FLY_API_TOKEN": fakefly.token, "STATE_DB": str(tmp_path / "state" / "j.db"),
           "MIGRATIONS_DIR": str(REPO / "migrations"), "PYTHONPATH": str(REPO), "OPSBOT_CONFIG": str(config)}
    ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    assert not fakefly.calls(), "staging is local: nothing went through flyctl"
    done = ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes")
    assert done["ok"] and user_version(fly_db) == 8
    assert any(call["argv"][:2] == ["ssh", "console"] for call in fakefly.calls())
    status = ops(env, tmp_path, "--env", "production", "status")
    assert status["target"] == f"fly:{fakefly.app}"


def test_the_clis_lock_holds_one_environment_and_status_says_who(tmp_path: Path) -> None:
    env, staging, production = two_locals(tmp_path)
    locked = ops(env, tmp_path, "--env", "staging", "lock", "--reason", "load test tonight")
    assert locked["locked"] and locked["reason"] == "load test tonight"
    refused = ops(env, tmp_path, "--env", "staging", "migrate", MIGRATION, "--yes", code=1)
    assert "staging is locked by" in refused["error"]["message"] and "load test tonight" in refused["error"]["message"]
    assert user_version(staging) == 7
    status = ops(env, tmp_path, "--env", "staging", "status")
    assert status["sticky_lock"]["reason"] == "load test tonight"
    assert ops(env, tmp_path, "--env", "production", "status")["sticky_lock"] is None  # per environment
    released = ops(env, tmp_path, "--env", "staging", "unlock")
    assert not released["locked"] and released["reason"] == "load test tonight"
    assert ops(env, tmp_path, "--env", "staging", "migrate", MIGRATION, "--yes")["ok"]


def test_with_a_file_an_environment_cannot_be_overridden_onto_another(tmp_path: Path) -> None:
    """Control: --db would have run production's database under staging's policy and ledger."""
    env, staging, production = two_locals(tmp_path, "approvers = 2")
    out = cli("--json", "--env", "staging", "--db", str(production), "migrate", MIGRATION, "--yes", env=env,
              cwd=tmp_path)
    assert out.returncode == 2 and "do not apply when opsbot.toml names the environments" in out.stdout
    assert user_version(production) == 7 and user_version(staging) == 7
    config = Path(env["OPSBOT_CONFIG"])
    config.write_text(config.read_text().replace('[environments.production.policy]',
                                                 'settings = { STATE_DB = "/tmp/elsewhere.db", DB_PATH = "x" }\n'
                                                 '[environments.production.policy]'))
    bad = json.loads(cli("--json", "status", env=env, cwd=tmp_path).stdout)["error"]["message"]
    assert "settings cannot set STATE_DB: every environment shares it" in bad
    assert "settings cannot set DB_PATH: use the db_path field" in bad
