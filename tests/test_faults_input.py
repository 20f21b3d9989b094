"""Hostile input from the terminal: `python -m ops` on the fly target (the stand-in `fly`), so the
stand-in's call log proves nothing ran on the host. Names that escape MIGRATIONS_DIR or carry
shell syntax, very long names, non-UTF-8 files, migrations that reach outside the database or
break the engine's transaction, labels with quotes: each refused with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ops.context import Engine
from ops.migrate import run_migrate
from tests.conftest import MIGRATIONS, REPO, dump, make_db
from tests.fakefly.plugin import FakeFly
from tests.faults.helpers import backup_names

HOSTILE_FILES = {
    "0003_attach.sql": "ATTACH '/tmp/elsewhere.db' AS e;\nCREATE TABLE e.t(x);\n",
    "0004_vacuum.sql": "CREATE TABLE t(x);\nVACUUM;\n",
    "0006_shell.sql": "CREATE TABLE t(x);\n.shell touch pwned\n",
    "0007_commit.sql": "CREATE TABLE t(x);\nCOMMIT;\nDROP TABLE user_settings;\n",
    "0008_check.sql": "-- check: SELECT 1; DROP TABLE user_settings\nCREATE TABLE t(x);\n",
    "0009_extension.sql": "SELECT load_extension('/tmp/evil.so');\n",
}

# (argv after `python -m ops --json`, exit status, text in the error message)
CASES = [
    (["migrate", "../../etc/passwd", "--yes"], 2, "is outside MIGRATIONS_DIR"),
    (["migrate", "x.sql;touch pwned", "--yes"], 2, "is not a migration name"),
    (["preflight", "$(touch pwned).sql"], 2, "is not a migration name"),
    (["preflight", "a" * 5000 + ".sql"], 2, "is not a migration name"),
    (["migrate", "0003_attach.sql", "--yes"], 1, "ATTACH reaches outside the database"),
    (["migrate", "0004_vacuum.sql", "--yes"], 1, "VACUUM cannot run inside a transaction"),
    (["migrate", "0005_latin1.sql", "--yes"], 1, "is not valid UTF-8 (byte 6)"),
    (["migrate", "0006_shell.sql", "--yes"], 1, "dot-command .shell is not allowed"),
    (["migrate", "0007_commit.sql", "--yes"], 1, "COMMIT commits part of the migration early"),
    (["migrate", "0008_check.sql", "--yes"], 1, "check 1 must be a single SELECT"),
    (["migrate", "0009_extension.sql", "--yes"], 1, "load_extension() is not allowed"),
    (["preflight", "0003_attach.sql"], 1, "ATTACH reaches outside the database"),
    (["backup", "--label", "x'; touch pwned; '"], 2, "is not allowed"),
    (["backup", "--label", 'a"b'], 2, "is not allowed"),
    (["rollback", "--backup", "../../etc/passwd", "--yes"], 2, "is not a backup of this database"),
]


@pytest.fixture
def cli_env(tmp_path: Path, fakefly: FakeFly) -> dict[str, str]:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=50, logs=300)
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_remove_suspend.sql").write_text((MIGRATIONS / "0001_remove_suspend.sql").read_text())
    for name, sql in HOSTILE_FILES.items():
        (migrations / name).write_text(sql)
    (migrations / "0005_latin1.sql").write_bytes("-- café au lait\nCREATE TABLE t(x);\n".encode("latin-1"))
    return {**os.environ, **fakefly.env, "TARGET": "fly", "FLYCTL": str(fakefly.bin), "FLY_APP": fakefly.app,
            "FLY_API_TOKEN": fakefly.token, "DB_PATH": str(db), "MIGRATIONS_DIR": str(migrations),
            "STATE_DB": str(tmp_path / "state" / "opsbot.db"), "PYTHONPATH": str(REPO)}


def ops_cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60, check=False)


@pytest.mark.parametrize(("args", "status", "expected"), CASES,
                         ids=[" ".join(a)[:40] for a, _, _ in CASES])
def test_hostile_cli_input_is_refused_and_nothing_runs_on_the_host(
    cli_env: dict[str, str], fakefly: FakeFly, tmp_path: Path, args: list[str], status: int, expected: str
) -> None:
    db = cli_env["DB_PATH"]
    before = dump(db)
    out = ops_cli(cli_env, "--json", *args, cwd=tmp_path)
    assert out.returncode == status, out.stdout + out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] is False
    error = data["error"]  # an OpsError: {message, hint}; a preflight's report: its error text
    message, hint = (error["message"], error["hint"]) if isinstance(error, dict) else (error, error)
    assert expected in message, data
    next_steps = ("Give the file name", "ix the file", "Use 1-64", "Name one", "Save the file as UTF-8")
    assert any(w in hint for w in next_steps), hint
    ssh = fakefly.ssh_scripts()  # the -C command and the script that came on stdin
    assert not [s for s in ssh if "sqlite3" in s], "no sqlite3 may run on the host for refused input"
    if args[0] == "rollback":  # the one refusal that needs the host: the list of backups (wc -c)
        assert ssh and all("wc -c" in s for s in ssh)
    else:
        assert ssh == [], ssh
    assert not any(a[:3] == ["ssh", "sftp", "get"] for a in fakefly.argvs())
    assert dump(db) == before and backup_names(db) == []
    assert not list(tmp_path.rglob("pwned")) and not (REPO / "pwned").exists()


def test_hostile_input_in_plain_text_output(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Without --json the terminal shows the refusal and what to do, and the exit status says which."""
    out = ops_cli(cli_env, "migrate", "../../etc/passwd", "--yes", cwd=tmp_path)
    assert out.returncode == 2
    assert "✘ ../../etc/passwd is outside MIGRATIONS_DIR" in out.stdout
    assert "→ Give the file name of a migration in MIGRATIONS_DIR" in out.stdout
    out = ops_cli(cli_env, "migrate", "0003_attach.sql", "--yes", cwd=tmp_path)
    assert out.returncode == 1 and "refused by lint" in out.stdout and "Nothing ran on the app host" in out.stdout


async def test_a_long_but_valid_migration_name_migrates(engine: Engine, migrations_dir: Path, app_db: Path) -> None:
    """Names up to 125 characters are valid; the backup label is cut to the 64 a label may have."""
    name = "0002_" + "x" * 110 + ".sql"
    (migrations_dir / name).write_text((MIGRATIONS / "0001_remove_suspend.sql").read_text())
    result = await run_migrate(engine, name, confirmed=True)
    assert result.ok, result.error
    assert Path(result.backup).name.startswith(f"app.db.pre-{name[:64]}-")
