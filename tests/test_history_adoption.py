"""Adopting opsbot.toml (or renaming an environment) on the same database keeps its history
(ops.history), through `python -m ops` on real files: what was applied stays applied and is not
run twice; another database's history is never taken; one that cannot show its database is left
and said until the file names it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from tests.conftest import REPO, make_db
from tests.test_cli import cli
from tests.test_environments import MIGRATION, user_version


def ops(env: dict[str, str], cwd: Path, *args: str, code: int = 0) -> dict:  # type: ignore[type-arg]
    out = cli("--json", *args, env=env, cwd=cwd)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


def variables(tmp_path: Path, db: Path) -> dict[str, str]:
    """The one environment the variables describe (no opsbot.toml)."""
    return {"TARGET": "local", "DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
            "MIGRATIONS_DIR": str(REPO / "migrations"), "PYTHONPATH": str(REPO), "COLUMNS": "250"}


def with_file(tmp_path: Path, tables: str) -> dict[str, str]:
    config = tmp_path / "opsbot.toml"
    config.write_text(tables)
    return {"STATE_DB": str(tmp_path / "state" / "j.db"), "MIGRATIONS_DIR": str(REPO / "migrations"),
            "PYTHONPATH": str(REPO), "OPSBOT_CONFIG": str(config), "COLUMNS": "250"}


def keys(tmp_path: Path, table: str = "ledger") -> dict[str, int]:
    journal = sqlite3.connect(tmp_path / "state" / "j.db")
    return dict(journal.execute(f"SELECT target, count(*) FROM {table} GROUP BY target").fetchall())


def test_adopting_opsbot_toml_keeps_what_was_applied_applied(tmp_path: Path) -> None:
    app, other = tmp_path / "vol" / "app.db", tmp_path / "qa" / "app.db"
    make_db(app, users=30, logs=300)
    make_db(other, users=30, logs=300)
    before = variables(tmp_path, app)
    done = ops(before, tmp_path, "migrate", MIGRATION, "--yes")
    assert keys(tmp_path) == {"local": 1}
    # The same database now described by opsbot.toml; qa is another database on the same target.
    env = with_file(tmp_path, f'''
[environments.qa]
target = "local"
db_path = "{other}"

[environments.staging]
target = "local"
db_path = "{app}"
''')
    # Control first: qa opens, and does not take the history (its backups are of the other file).
    qa = ops(env, tmp_path, "pending")
    assert qa["env"] == "qa" and qa["applied"] == [] and [p["name"] for p in qa["pending"]] == [MIGRATION]
    note = ops(env, tmp_path, "status")["history"]
    assert "history under 'local'" in note and f"its backups are of {app}, not {other}: another database" in note
    assert keys(tmp_path) == {"local": 1}, "nothing moved"
    # staging is that database: its history is adopted once, in the one transaction.
    report = ops(env, tmp_path, "--env", "staging", "pending")
    assert [a["name"] for a in report["applied"]] == [MIGRATION] and report["applied"][0]["run_id"] == done["run_id"]
    assert MIGRATION not in [p["name"] for p in report["pending"]]
    assert keys(tmp_path) == {"staging": 1} and "local" not in keys(tmp_path, "runs")
    assert "local" not in keys(tmp_path, "backups")
    again = ops(env, tmp_path, "--env", "staging", "migrate", MIGRATION, "--yes", code=1)
    assert f"already applied on staging: run #{done['run_id']} applied it" in again["error"]["message"]
    assert user_version(app) == 8 and user_version(other) == 7
    status = ops(env, tmp_path, "--env", "staging", "status")
    assert status["history"].startswith("history adopted from 'local' by run #")
    assert "1 ledger" in status["history"] and "not adopted" not in status["history"]
    text = cli("--env", "staging", "status", env=env, cwd=tmp_path).stdout
    assert "history adopted from 'local'" in text
    # Once: the adoption run is one, and the rollback of the adopted run works under the new name.
    journal = sqlite3.connect(tmp_path / "state" / "j.db")
    assert journal.execute("SELECT count(*) FROM runs WHERE phase='adopt'").fetchone() == (1,)
    ops(env, tmp_path, "--env", "staging", "pending")
    assert journal.execute("SELECT count(*) FROM runs WHERE phase='adopt'").fetchone() == (1,)
    rolled = ops(env, tmp_path, "--env", "staging", "rollback", "--yes")
    assert rolled["ok"] and user_version(app) == 7
    assert [p["rolled_back_by"] for p in ops(env, tmp_path, "--env", "staging", "pending")["pending"]] == \
        [rolled["run_id"]]


def test_a_renamed_environment_names_its_old_history(tmp_path: Path) -> None:
    app = tmp_path / "vol" / "app.db"
    make_db(app, users=30, logs=300)
    table = f'[environments.staging]\ntarget = "local"\ndb_path = "{app}"\n'
    env = with_file(tmp_path, table)
    done = ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    # Renamed without saying so: a fresh name, its history left under the old one (and said).
    renamed = table.replace("staging", "stage")
    env = with_file(tmp_path, renamed)
    assert [p["name"] for p in ops(env, tmp_path, "pending")["pending"]] == [MIGRATION]
    assert keys(tmp_path) == {"staging": 1}
    # history_from naming a live environment of the file is refused: two environments, two databases.
    env = with_file(tmp_path, renamed + 'history_from = "staging"\n' + table.replace(str(app), str(tmp_path / "x.db")))
    bad = cli("--json", "pending", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "names an environment of this file" in json.loads(bad.stdout)["error"]["message"]
    # Named: adopted.
    env = with_file(tmp_path, renamed + 'history_from = "staging"\n')
    report = ops(env, tmp_path, "pending")
    assert report["env"] == "stage" and [a["run_id"] for a in report["applied"]] == [done["run_id"]]
    assert keys(tmp_path) == {"stage": 1}


def test_a_history_that_cannot_show_its_database_waits_for_history_from(tmp_path: Path) -> None:
    app, other = tmp_path / "vol" / "app.db", tmp_path / "other" / "app.db"
    make_db(app, users=30, logs=300)
    make_db(other, users=30, logs=300)
    before = variables(tmp_path, app)
    ops(before, tmp_path, "lock", "--reason", "load test tonight")  # history, but no backup in it
    table = f'[environments.staging]\ntarget = "local"\ndb_path = "{app}"\n'
    env = with_file(tmp_path, table)
    status = ops(env, tmp_path, "status")
    assert status["sticky_lock"] is None and "nothing in it shows which database it was" in status["history"]
    assert 'add history_from = "local" to [environments.staging]' in status["history"]
    env = with_file(tmp_path, table + 'history_from = "local"\n')
    status = ops(env, tmp_path, "status")
    assert status["sticky_lock"]["reason"] == "load test tonight", "the lock came with it"
    refused = ops(env, tmp_path, "migrate", MIGRATION, "--yes", code=1)
    assert "staging is locked by" in refused["error"]["message"]
    # history_from on a history whose backups are of another database: the file says something false.
    fresh = tmp_path / "second"
    fresh.mkdir()
    before = variables(fresh, other)
    ops(before, fresh, "backup", "--label", "x")
    env = with_file(fresh, table + 'history_from = "local"\n')
    wrong = cli("--json", "status", env=env, cwd=fresh)
    assert wrong.returncode == 2, wrong.stdout
    assert f"its backups are of {other}, not {app}: another database" in json.loads(wrong.stdout)["error"]["message"]
    assert keys(fresh, "backups") == {"local": 1}


async def test_bot_check_says_a_history_left_under_the_old_key_and_one_adopted(tmp_path: Path) -> None:
    import dataclasses

    from bot.check import check_ledger
    from ops.environments import load_config
    from ops.targets.local import LocalTarget
    from tests.bot_harness import bot_settings

    app = tmp_path / "vol" / "app.db"
    make_db(app, users=30, logs=300)
    before = variables(tmp_path, app)
    await asyncio.to_thread(ops, before, tmp_path, "lock", "--reason", "load test tonight")
    table = f'[environments.staging]\ntarget = "local"\ndb_path = "{app}"\n'
    env = with_file(tmp_path, table)

    async def findings() -> list[str]:
        config = load_config(Path(env["OPSBOT_CONFIG"]), env)
        settings = dataclasses.replace(bot_settings(config.default.settings), environments=config.environments)
        return [f.line() for f in await check_ledger(settings, LocalTarget())]

    [left] = await findings()
    assert left.startswith("✘") and "staging: the journal holds history under 'local'" in left
    assert 'add history_from = "local"' in left
    env = with_file(tmp_path, table + 'history_from = "local"\n')
    await asyncio.to_thread(ops, env, tmp_path, "status")  # opened: adopted
    [adopted] = await findings()
    assert adopted.startswith("✔") and "staging: history adopted from 'local' by run #" in adopted


def test_history_from_naming_another_environments_own_history_is_refused(tmp_path: Path) -> None:
    """Environment B's target is local, so the history kept under "local" is B's own claim too: an
    environment A naming it in history_from would take it on a coin toss. Refused, nothing moved."""
    app = tmp_path / "vol" / "app.db"
    make_db(app, users=30, logs=300)
    ops(variables(tmp_path, app), tmp_path, "migrate", MIGRATION, "--yes")  # history under "local"
    other = tmp_path / "other" / "app.db"
    make_db(other, users=30, logs=300)
    two = (f'[environments.a]\ntarget = "local"\ndb_path = "{app}"\nhistory_from = "local"\n'
           f'[environments.b]\ntarget = "local"\ndb_path = "{other}"\n')
    bad = cli("--json", "pending", env=with_file(tmp_path, two), cwd=tmp_path)
    assert bad.returncode == 2, bad.stdout
    assert "is also where b keeps its own history" in json.loads(bad.stdout)["error"]["message"]
    assert keys(tmp_path) == {"local": 1}  # control: nothing moved
    # b naming a history of its own does not claim "local": a may take it.
    two_named = two.replace(f'db_path = "{other}"\n', f'db_path = "{other}"\nhistory_from = "b-old"\n')
    fine = cli("--json", "pending", env=with_file(tmp_path, two_named), cwd=tmp_path)
    assert fine.returncode == 0, fine.stdout
    assert keys(tmp_path) == {"a": 1}
