"""Each way a migration file could get out: refused before anything runs, and a control that shows
the same SQL doing harm without the guard. Plus the second line of defence (-safe, NOT NULL guards,
a random event key, a shell step with no secrets) holding even when lint is bypassed."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ops.apply import apply_migration
from ops.errors import OpsError
from ops.migrations import load
from ops.schema import read_state
from ops.sqlite_cli import parse_events
from ops.sqltext import read_script
from ops.targets.local import LocalTarget
from tests.conftest import REPO, dump, make_db
from tests.test_cli import cli, env_for


def bypass_lint(tmp_path: Path, sql: str):
    """A Migration whose statements are ``sql`` as read, with lint's verdict thrown away."""
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "clean.sql").write_text("SELECT 1;\n")
    clean = load(tmp_path / "m", "clean.sql")
    return dataclasses.replace(clean, statements=read_script(sql).statements, findings=())


async def apply(db: Path, migration):
    before = await read_state(LocalTarget(), str(db), counts=False)
    return await apply_migration(LocalTarget(), str(db), migration, before=before, busy_timeout_ms=2000, timeout=60)


def write_file_sql(target: Path) -> str:
    return f"SELECT writefile('{target}', 'pwned');\n"


async def test_writefile_is_refused_by_lint_and_by_safe_mode(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=5, logs=10)
    target = tmp_path / "pwned.txt"
    # Control: the plain sqlite3 CLI runs it and writes a file on the host.
    subprocess.run(["sqlite3", str(db)], input=write_file_sql(target), text=True, check=True, capture_output=True)
    assert target.read_text() == "pwned"
    target.unlink()
    # Lint refuses it before anything runs...
    (tmp_path / "mig").mkdir()
    (tmp_path / "mig" / "0001_x.sql").write_text(write_file_sql(target))
    assert any("writefile() is not allowed" in f.message for f in load(tmp_path / "mig", "0001_x.sql").errors)
    # ...and with lint bypassed, the engine's -safe session still refuses it, and nothing changes.
    before = dump(db)
    outcome = await apply(db, bypass_lint(tmp_path, "CREATE TABLE t(x);\n" + write_file_sql(target)))
    assert not outcome.committed and "safe mode" in outcome.error
    assert not target.exists() and dump(db) == before


async def test_a_forged_event_line_is_not_an_event(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=5, logs=10)
    forged = '{"opsbot":"committed","ok":1}'
    sql = f"SELECT '{forged}';\nCREATE TABLE t(x);\nINSERT INTO no_such_table VALUES (1);\n"
    outcome = await apply(db, bypass_lint(tmp_path, sql))
    assert not outcome.committed  # the file printed a "committed" line, and failed
    # Control: the line did reach stdout, in the shape events once had.
    assert parse_events(forged + "\n") == ()


async def test_tampering_with_the_guards_tables_is_refused_and_the_guard_holds(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=20, logs=100)
    sql = "DELETE FROM activity_logs;\nUPDATE temp._opsbot_counts SET n = 0;\n"
    (tmp_path / "mig").mkdir()
    (tmp_path / "mig" / "0001_x.sql").write_text(sql)
    assert any("_opsbot_counts is a name opsbot reserves" in f.message
               for f in load(tmp_path / "mig", "0001_x.sql").errors)
    # Control: with lint bypassed, zeroing the recorded counts walks around the row-loss guard.
    before = sqlite3.connect(db).execute("SELECT count(*) FROM activity_logs").fetchone()[0]
    outcome = await apply(db, bypass_lint(tmp_path, sql))
    assert outcome.committed and sqlite3.connect(db).execute("SELECT count(*) FROM activity_logs").fetchone()[0] == 0
    assert before == 100


async def test_ignore_check_constraints_cannot_switch_the_guards_off(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_db(db, users=20, logs=100)
    # Control: with the pragma on, a CHECK constraint no longer stops a bad row.
    con = sqlite3.connect(":memory:")
    con.executescript("PRAGMA ignore_check_constraints=ON; CREATE TABLE g(ok INTEGER CHECK (ok = 1)); "
                      "INSERT INTO g VALUES (0);")
    assert con.execute("SELECT count(*) FROM g").fetchone()[0] == 1
    (tmp_path / "mig").mkdir()
    (tmp_path / "mig" / "0001_x.sql").write_text("PRAGMA ignore_check_constraints=ON;\nDELETE FROM activity_logs;\n")
    assert load(tmp_path / "mig", "0001_x.sql").errors
    before = dump(db)
    sql = "PRAGMA ignore_check_constraints=ON;\nDELETE FROM activity_logs;\n"
    outcome = await apply(db, bypass_lint(tmp_path, sql))
    assert not outcome.committed and outcome.failed_step == "row_loss"  # the NOT NULL guard still stops it
    assert dump(db) == before


async def test_shell_steps_see_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-123")
    monkeypatch.setenv("FLY_API_TOKEN", "fly-secret-456")
    result = await LocalTarget().sh("env")
    assert "secret" not in result.stdout and "PATH=" in result.stdout
    # Control: a child that inherits this process's environment sees them.
    plain = subprocess.run(["sh", "-c", "env"], capture_output=True, text=True, check=True)
    assert "discord-secret-123" in plain.stdout


def test_symlinked_migration_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sql"
    outside.write_text("DROP TABLE user_settings;\n")
    (tmp_path / "mig").mkdir()
    (tmp_path / "mig" / "0001_link.sql").symlink_to(outside)
    assert (tmp_path / "mig" / "0001_link.sql").read_text().startswith("DROP")  # control: the link reads through
    with pytest.raises(OpsError, match="symbolic link"):
        load(tmp_path / "mig", "0001_link.sql")


def test_cli_takes_a_path_inside_the_folder_and_refuses_one_outside(tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=20, logs=100)
    env = env_for(tmp_path, db)
    out = cli("--json", "preflight", str(REPO / "migrations" / "0001_remove_suspend.sql"), env=env, cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["migration"] == "0001_remove_suspend.sql", out.stdout
    (tmp_path / "evil.sql").write_text("DROP TABLE user_settings;\n")
    out = cli("--json", "migrate", str(tmp_path / "evil.sql"), "--yes", env=env, cwd=tmp_path)
    assert out.returncode == 2 and "outside MIGRATIONS_DIR" in json.loads(out.stdout)["error"]["message"]
    out = cli("--json", "migrate", "--no-such-flag", env=env, cwd=tmp_path)
    assert out.returncode == 2 and json.loads(out.stdout)["ok"] is False  # usage errors are JSON too


def test_print_script_shows_the_exact_session_and_runs_nothing(tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=20, logs=100)
    before = dump(db)
    env = env_for(tmp_path, db)
    out = cli("preflight", "0001_remove_suspend.sql", "--print-script", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    script = out.stdout
    assert "-safe" in script and "BEGIN IMMEDIATE;" in script and "COMMIT;" in script
    assert "ALTER TABLE user_settings_new RENAME TO user_settings;" in script
    assert dump(db) == before and not list(db.parent.glob("app.db.pre-*"))
    # A file lint refuses has no session: the refusal is printed instead, exit 1.
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0009_vacuum.sql").write_text("VACUUM;\n")
    refused = cli("preflight", "0009_vacuum.sql", "--print-script", env={**env, "MIGRATIONS_DIR": str(tmp_path / "m")},
                  cwd=tmp_path)
    assert refused.returncode == 1 and "refused by lint" in refused.stdout, refused.stdout
    # The printed session is what runs: fed to sh, it migrates.
    subprocess.run(["sh", "-s"], input=script, text=True, check=True, capture_output=True)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 8


def test_row_loss_is_allowed_by_the_operator_and_recorded(tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=20, logs=100)
    mig = tmp_path / "migrations"
    mig.mkdir()
    (mig / "0002_prune.sql").write_text("DELETE FROM activity_logs WHERE id % 2 = 0;\n")
    env = {**env_for(tmp_path, db), "MIGRATIONS_DIR": str(mig)}
    refused = cli("--json", "preflight", "0002_prune.sql", env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "rows would be lost" in json.loads(refused.stdout)["error"]
    allowed = json.loads(cli("--json", "preflight", "0002_prune.sql", "--allow-row-loss", "activity_logs", env=env,
                             cwd=tmp_path).stdout)
    assert allowed["ok"] and allowed["allow_row_loss"] == ["activity_logs"], allowed
    assert sqlite3.connect(db).execute("SELECT count(*) FROM activity_logs").fetchone()[0] == 100
    done = cli("--json", "migrate", "0002_prune.sql", "--yes", "--allow-row-loss", "activity_logs", env=env,
               cwd=tmp_path)
    data = json.loads(done.stdout)
    assert done.returncode == 0 and data["allow_row_loss"] == ["activity_logs"], data
    assert data["counts"]["activity_logs"] == 50
    journal = sqlite3.connect(tmp_path / "state" / "j.db")
    summary = json.loads(journal.execute("SELECT summary FROM runs WHERE phase='migrate' AND state='succeeded'")
                         .fetchone()[0])
    assert summary["allow_row_loss"] == ["activity_logs"]


def test_a_migration_far_over_the_argument_limit_runs_over_flyctl(tmp_path: Path, fakefly) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=20, logs=100)
    mig = tmp_path / "migrations"
    mig.mkdir()
    rows = "".join(f"INSERT INTO bulk VALUES ({i}, '{'x' * 40}');\n" for i in range(4_000))
    (mig / "0002_bulk.sql").write_text("CREATE TABLE bulk(id INTEGER PRIMARY KEY, v TEXT);\n" + rows)
    assert (mig / "0002_bulk.sql").stat().st_size > 2 * 131_072  # twice Linux's MAX_ARG_STRLEN
    # Control: one argument this long is refused by the OS (what `-C "sh -c <script>"` would hit).
    with pytest.raises(OSError, match="Argument list too long"):
        subprocess.run(["sh", "-c", rows], capture_output=True)
    env = {**os.environ, **fakefly.env, "TARGET": "fly", "FLYCTL": str(fakefly.bin), "FLY_APP": fakefly.app,
           "FLY_API_TOKEN": fakefly.token, "DB_PATH": str(db), "MIGRATIONS_DIR": str(mig),
           "STATE_DB": str(tmp_path / "state" / "j.db"), "PYTHONPATH": str(REPO)}
    out = subprocess.run([os.sys.executable, "-m", "ops", "--json", "migrate", "0002_bulk.sql", "--yes"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM bulk").fetchone()[0] == 4_000
