"""Policy and configuration behaviour through `python -m ops` on real files: a destructive migration
needs one more approver, allowed hours refuse outside them (the clock is read, never slept on), how
the config file is found, pending order in tools' layouts, the run lock per environment, and who the
ledger says approved a CLI run."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from ops.journal import Journal
from ops.policy import Freeze, Policy, PolicyRefused, ensure_open
from tests.conftest import REPO, make_db
from tests.test_corpus import CORPUS, oracle_order
from tests.test_environments import MIGRATION, ops, two_locals, user_version


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    where = tmp_path / "migrations"
    where.mkdir()
    for name, text in files.items():
        (where / name).write_text(text)
    return where


def test_a_destructive_migration_needs_one_more_approver(tmp_path: Path) -> None:
    env, staging, _ = two_locals(tmp_path)
    config = Path(env["OPSBOT_CONFIG"])
    config.write_text(config.read_text().replace(
        '[environments.production]', '[environments.staging.policy]\ndestructive_extra_approvers = 1\n\n'
                                     '[environments.production]'))
    env["MIGRATIONS_DIR"] = str(folder(tmp_path, {"0001_tags.sql": "CREATE TABLE tags(id INTEGER PRIMARY KEY);\n",
                                                  "0002_drop_tags.sql": "DROP TABLE tags;\n"}))
    assert ops(env, tmp_path, "migrate", "0001_tags.sql", "--yes")["ok"]  # control: not destructive, one is enough
    refused = ops(env, tmp_path, "migrate", "0002_drop_tags.sql", "--yes", code=1)["error"]
    assert refused["message"] == ("staging needs 2 approvers for 0002_drop_tags.sql (a destructive migration needs "
                                  "one more); one approved it (--yes is one person)")
    assert "/migrate run" in refused["hint"]
    assert ops(env, tmp_path, "pending")["pending"][0]["name"] == "0002_drop_tags.sql"


def test_allowed_hours_refuse_outside_them_by_the_clock() -> None:
    """The policy reads the clock it is given: 07:59 and 18:00 are outside "08-18", 08:00 is inside."""
    hours = Policy(allowed_hours=(8, 18))
    at = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    with pytest.raises(PolicyRefused, match=r"production: changes are allowed from 08:00 to 18:00 UTC only \(it is 07"):
        ensure_open(hours, "production", now=at + 7 * 3600 + 59 * 60)
    with pytest.raises(PolicyRefused, match=r"\(it is 18:xx\)"):
        ensure_open(hours, "production", now=at + 18 * 3600)
    ensure_open(hours, "production", now=at + 8 * 3600)  # control: inside
    night = Policy(allowed_hours=(22, 6))  # across midnight
    ensure_open(night, "production", now=at + 23 * 3600)
    ensure_open(night, "production", now=at + 5 * 3600)
    with pytest.raises(PolicyRefused):
        ensure_open(night, "production", now=at + 12 * 3600)
    frozen = Policy(freezes=(Freeze(at, at + 3600, "the audit"),))
    with pytest.raises(PolicyRefused, match="freeze is on until 2026-03-02 01:00 UTC: the audit"):
        ensure_open(frozen, "production", now=at + 60)
    ensure_open(frozen, "production", now=at + 3600)  # the end is exclusive


def test_allowed_hours_refuse_a_cli_migration_outside_them(tmp_path: Path) -> None:
    hour = dt.datetime.now(dt.UTC).hour
    # Two hours ahead for one hour: outside now even if the hour turns while the test runs.
    env, _, production = two_locals(tmp_path, f'allowed_hours = "{(hour + 2) % 24:02d}-{(hour + 3) % 24:02d}"')
    ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    refused = ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes", code=1)["error"]
    assert refused["message"].startswith(f"production: changes are allowed from {(hour + 2) % 24:02d}:00")
    assert user_version(production) == 7
    config = Path(env["OPSBOT_CONFIG"])
    inside = f'allowed_hours = "{hour:02d}-{(hour + 2) % 24:02d}"'  # control: now, and the next hour too
    config.write_text(config.read_text().replace(
        f'allowed_hours = "{(hour + 2) % 24:02d}-{(hour + 3) % 24:02d}"', inside))
    assert ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes")["ok"]


def test_the_config_is_found_by_flag_then_variable_then_working_directory(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=10, logs=20)
    base = {"STATE_DB": str(tmp_path / "state" / "j.db"), "MIGRATIONS_DIR": str(REPO / "migrations"),
            "PYTHONPATH": str(REPO)}

    def config(path: Path, name: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[environments.{name}]\ntarget = "local"\ndb_path = "{db}"\n')
        return path

    here = tmp_path / "work"
    config(here / "opsbot.toml", "from-cwd")
    flagged = config(tmp_path / "elsewhere" / "team.toml", "from-flag")
    variable = config(tmp_path / "var" / "v.toml", "from-variable")
    assert ops(base, here, "pending")["env"] == "from-cwd"
    assert ops(base, here, "--config", str(flagged), "pending")["env"] == "from-flag"
    with_var = {**base, "OPSBOT_CONFIG": str(variable)}
    assert ops(with_var, here, "pending")["env"] == "from-variable"
    assert ops(with_var, here, "--config", str(flagged), "pending")["env"] == "from-flag"
    # Control: no file anywhere, the variables describe the one environment (it has no name).
    bare = {**base, "TARGET": "local", "DB_PATH": str(db)}
    assert ops(bare, tmp_path, "pending")["env"] == "this machine"
    missing = ops(base, here, "--config", str(tmp_path / "nope.toml"), "pending", code=2)
    assert "does not exist" in missing["error"]["message"]


@pytest.mark.parametrize("corpus", ["flyway--gotson-komga", "golang-migrate--golang-migrate-migrate"])
def test_pending_is_in_the_tools_order_in_real_layouts(tmp_path: Path, corpus: str) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=10, logs=20)
    source = CORPUS / corpus / "migrations"
    env = {"TARGET": "local", "DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
           "MIGRATIONS_DIR": str(source), "PYTHONPATH": str(REPO)}
    tool = json.loads((CORPUS / corpus / "corpus.json").read_text())["tool"]
    names = [p["name"] for p in ops(env, tmp_path, "pending")["pending"]]
    assert len(names) >= 2 and [Path(n).name for n in names] == [p.name for p in oracle_order(tool, source)]


@pytest.mark.parametrize("files, order", [
    ({"V1_10__b.sql": "CREATE TABLE b(x);\n", "V1_9__a.sql": "CREATE TABLE a(x);\n",
      "V2__c.sql": "CREATE TABLE c(x);\n"}, ["V1_9__a.sql", "V1_10__b.sql", "V2__c.sql"]),
    ({"10_b.up.sql": "CREATE TABLE b(x);\n", "10_b.down.sql": "DROP TABLE b;\n", "2_a.up.sql": "CREATE TABLE a(x);\n",
      "2_a.down.sql": "DROP TABLE a;\n"}, ["2_a.up.sql", "10_b.up.sql"]),
])
def test_pending_order_is_the_tools_not_the_names(tmp_path: Path, files: dict[str, str], order: list[str]) -> None:
    """Flyway and golang-migrate versions are numbers: 1.9 before 1.10, 2 before 10 (a name sort
    would say otherwise); out of order is judged in that order too."""
    db = tmp_path / "app.db"
    make_db(db, users=10, logs=20)
    env = {"TARGET": "local", "DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
           "MIGRATIONS_DIR": str(folder(tmp_path, files)), "PYTHONPATH": str(REPO)}
    report = ops(env, tmp_path, "pending")
    assert [p["name"] for p in report["pending"]] == order
    assert ops(env, tmp_path, "migrate", order[1], "--yes")["ok"]
    assert ops(env, tmp_path, "pending")["out_of_order"] == [order[0]]


def test_a_run_holding_stagings_lock_does_not_block_production(tmp_path: Path) -> None:
    env, staging, production = two_locals(tmp_path)

    async def hold() -> tuple[Journal, int]:
        journal = await Journal.open(env["STATE_DB"])
        # A live run (this process) holding staging's lock, as a migrate in flight does.
        return journal, await journal.start_run("migrate", "staging", "alice", lock=True)

    journal, run_id = asyncio.run(hold())
    try:
        held = ops(env, tmp_path, "--env", "staging", "backup", code=1)["error"]
        assert f"alice is already running migrate (run #{run_id}) on staging" in held["message"]
        assert ops(env, tmp_path, "--env", "production", "migrate", MIGRATION, "--yes", code=1)["error"][
            "message"].startswith("0001_remove_suspend.sql has not succeeded on staging")  # its own rule, not the lock
        assert ops(env, tmp_path, "--env", "production", "backup")["ok"]
    finally:
        asyncio.run(journal.close())
    assert user_version(staging) == 7


def test_a_cli_runs_ledger_names_the_terminal_user_as_its_one_approver(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=10, logs=20)
    env = {"TARGET": "local", "DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
           "MIGRATIONS_DIR": str(REPO / "migrations"), "PYTHONPATH": str(REPO), "LOGNAME": "alice", "USER": "alice"}
    done = ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    [applied] = ops(env, tmp_path, "pending")["applied"]
    assert applied["run_id"] == done["run_id"]
    assert applied["requester"] == "alice" and applied["approvers"] == "alice (--yes)"
