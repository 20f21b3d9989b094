"""`python -m ops`: JSON output, exit codes, settings, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, make_db


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ops", *args], capture_output=True, text=True, env=full,
                          cwd=cwd or REPO, timeout=120)


def env_for(tmp_path: Path, db: Path) -> dict[str, str]:
    return {"DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
            "MIGRATIONS_DIR": str(REPO / "migrations"), "TARGET": "local", "PYTHONPATH": str(REPO)}


def test_json_phases_and_exit_codes(tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=50, logs=500)
    env = env_for(tmp_path, db)
    out = cli("--json", "backup", "--label", "cli", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] and data["integrity"] == "ok" and len(data["sha256"]) == 64
    assert data["counts"]["user_settings"] == 50 and data["path"].startswith(str(db))
    refused = cli("--json", "migrate", "0001_remove_suspend.sql", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["error"]["hint"].startswith("Re-run with --yes")
    done = cli("--json", "migrate", "0001_remove_suspend.sql", "--yes", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["counts"]["activity_logs"] == 500
    again = cli("--json", "migrate", "0001_remove_suspend.sql", "--yes", env=env, cwd=tmp_path)
    # Applied already (the ledger, issue 14): refused before anything runs, naming the run.
    run_id = json.loads(done.stdout)["run_id"]
    assert again.returncode == 1
    assert f"already applied on this machine: run #{run_id}" in json.loads(again.stdout)["error"]["message"]
    listing = json.loads(cli("--json", "backups", env=env, cwd=tmp_path).stdout)
    assert len(listing["backups"]) == 2
    rb = cli("--json", "rollback", "--yes", env=env, cwd=tmp_path)
    assert rb.returncode == 0 and json.loads(rb.stdout)["counts"]["suspend_history"] > 0
    verify = json.loads(cli("--json", "verify", "--quick", env=env, cwd=tmp_path).stdout)
    assert verify["ok"] and verify["check"] == "quick_check" and verify["user_version"] == 7


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    env = env_for(tmp_path, db)
    assert cli("backup", "--label", "a b", env=env, cwd=tmp_path).returncode == 2
    assert cli("nonsense", env=env, cwd=tmp_path).returncode == 2
    bad = cli("--json", "status", env={**env, "TARGET": "mars", "BUSY_TIMEOUT_MS": "soon"}, cwd=tmp_path)
    assert bad.returncode == 2
    message = json.loads(bad.stdout)["error"]["message"]
    assert "TARGET='mars'" in message and "BUSY_TIMEOUT_MS='soon'" in message
    zero = cli("--json", "status", env={**env, "PAUSE_APP": "scale-to-zero"}, cwd=tmp_path)
    assert zero.returncode == 2 and "destroys the machines" in zero.stdout


def test_missing_database_is_a_clear_failure(tmp_path: Path) -> None:
    env = env_for(tmp_path, tmp_path / "nowhere" / "app.db")
    out = cli("--json", "backup", env=env, cwd=tmp_path)
    assert out.returncode == 1 and "no database at" in json.loads(out.stdout)["error"]["message"]
    assert not (tmp_path / "nowhere" / "app.db").exists(), "sqlite3 must not create an empty database"


def test_secrets_never_printed(tmp_path: Path) -> None:
    token = "fly-secret-token-XYZ123456"
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=10, logs=10)
    env = {**env_for(tmp_path, db), "FLY_API_TOKEN": token, "DISCORD_TOKEN": "discord.secret.abcdef123"}
    # A failure whose text would contain the token: a label is refused with its own text.
    for args in (["backup", "--label", token], ["-v", "status"], ["--json", "verify"]):
        out = cli(*args, env=env, cwd=tmp_path)
        assert token not in out.stdout + out.stderr
        assert "discord.secret.abcdef123" not in out.stdout + out.stderr


def test_verify_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    env = env_for(tmp_path, tmp_path / "typo" / "app.db")
    (tmp_path / "typo").mkdir()
    out = cli("--json", "verify", env=env, cwd=tmp_path)
    assert out.returncode == 1 and "no database at" in out.stdout
    assert not (tmp_path / "typo" / "app.db").exists()
