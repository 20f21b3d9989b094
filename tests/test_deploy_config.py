"""fly.toml, Dockerfile and .dockerignore name what the bot needs on Fly.

Building the image is not possible here (no Docker engine); the entrypoint's privilege drop
is run for real when this process is root and setpriv exists.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ops.config import load_settings
from tests.conftest import REPO


def fly_toml() -> dict[str, Any]:
    with open(REPO / "fly.toml", "rb") as fh:
        return tomllib.load(fh)


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    logical: list[str] = []
    buf = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in logical]


def args_of(name: str) -> list[str]:
    return [args for instr, args in instructions() if instr == name]


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


# --- fly.toml ----------------------------------------------------------------------------------


def test_fly_toml_names_an_app_and_region() -> None:
    config = fly_toml()
    assert config["app"] and re.fullmatch(r"[a-z]{3}", config["primary_region"])


def test_no_public_service_and_nothing_stops_the_machine() -> None:
    config = fly_toml()
    assert "http_service" not in config and "services" not in config
    assert not keys(config) & {"auto_stop_machines", "auto_start_machines", "min_machines_running"}
    assert all(r.get("policy") != "never" for r in config.get("restart", []))


def test_the_journal_is_on_a_mounted_volume() -> None:
    config = fly_toml()
    mounts = config["mounts"] if isinstance(config["mounts"], list) else [config["mounts"]]
    state_db = config["env"]["STATE_DB"]
    assert state_db.startswith("/")
    assert [m for m in mounts if m["destination"] == posixpath.dirname(state_db) and m["source"]], mounts


def test_env_is_a_valid_fly_target_configuration() -> None:
    env = fly_toml()["env"]
    assert env["TARGET"] == "fly" and env["DB_PATH"].startswith("/")
    assert env["MIGRATIONS_DIR"] == "/app/migrations"
    assert not [name for name in env if name.startswith("FLY_")]  # Fly reserves these in [env]
    assert not {"DISCORD_TOKEN", "FLY_API_TOKEN"} & set(env)  # secrets go through `fly secrets set`
    settings = load_settings(dict(env))
    assert settings.target == "fly" and settings.fly.app == "timelogger-staging"


def test_the_process_runs_the_bot() -> None:
    processes = fly_toml().get("processes", {})
    assert list(processes.values()) == ["python -m bot"]
    assert args_of("CMD") == ['["python", "-m", "bot"]']


# --- Dockerfile --------------------------------------------------------------------------------


def test_base_image_and_workdir() -> None:
    assert args_of("FROM") == ["python:3.11-slim"]
    assert args_of("WORKDIR") == ["/app"]
    assert "migrations ./migrations" in args_of("COPY")


def test_installs_the_sqlite3_cli_and_cleans_apt_lists() -> None:
    apt = [a for a in args_of("RUN") if "apt-get install" in a]
    assert len(apt) == 1
    assert re.search(r"\bsqlite3\b", apt[0]) and "ca-certificates" in apt[0] and "curl" in apt[0]
    assert "rm -rf /var/lib/apt/lists/*" in apt[0]


def test_installs_a_pinned_flyctl_on_path() -> None:
    version = [a for a in args_of("ARG") if a.startswith("FLYCTL_VERSION=")]
    assert version and re.fullmatch(r"FLYCTL_VERSION=\d+\.\d+\.\d+", version[0])
    run = next(a for a in args_of("RUN") if "flyctl" in a)
    assert "${FLYCTL_VERSION}" in run and "sha256sum -c" in run
    assert "/usr/local/bin/flyctl" in run and "ln -s flyctl /usr/local/bin/fly" in run


def test_installs_the_project_without_test_extras() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert [a for a in args_of("RUN") if "pip install --no-cache-dir ." in a]
    assert "[test]" not in text and "pytest" not in text


def test_the_bot_runs_as_a_non_root_user() -> None:
    user = [a for a in args_of("RUN") if "useradd" in a]
    assert user and re.search(r"--uid (\d+)", user[0]) and " opsbot" in user[0]
    assert int(re.search(r"--uid (\d+)", user[0]).group(1)) >= 1000  # type: ignore[union-attr]
    # Either the image's USER is opsbot, or the entrypoint drops to it before the CMD runs.
    final_user = (args_of("USER") or ["root"])[-1]
    entrypoint = json.loads(args_of("ENTRYPOINT")[-1]) if args_of("ENTRYPOINT") else []
    script = entrypoint[2] if entrypoint[:2] == ["/bin/sh", "-c"] else ""
    assert final_user == "opsbot" or "exec setpriv --reuid=opsbot --regid=opsbot" in script
    assert "--no-new-privs" in script and "HOME=/home/opsbot" in " ".join(args_of("ENV"))


def test_every_run_step_is_valid_sh() -> None:
    for script in [*args_of("RUN"), json.loads(args_of("ENTRYPOINT")[-1])[2]]:
        done = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True, timeout=10, check=False)
        assert done.returncode == 0, f"{script}\n{done.stderr}"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="runs the entrypoint's privilege drop for real: needs root and setpriv")
def test_the_entrypoint_hands_the_volume_over_and_drops_root() -> None:
    entrypoint = json.loads(args_of("ENTRYPOINT")[-1])
    # `daemon` (uid 1) stands in for opsbot, which this machine does not have.
    argv = [part.replace("opsbot", "daemon") for part in entrypoint]
    top = Path(tempfile.mkdtemp())
    try:
        top.chmod(0o755)
        state_db = top / "state" / "opsbot.db"
        env = {"PATH": os.environ["PATH"], "STATE_DB": str(state_db)}
        done = subprocess.run([*argv, "sh", "-c", 'id -u; touch "$STATE_DB"'], env=env, capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1"
        assert state_db.parent.stat().st_uid == 1 and state_db.stat().st_uid == 1
    finally:
        shutil.rmtree(top)


# --- .dockerignore -----------------------------------------------------------------------------


def test_dockerignore_keeps_tests_venv_secrets_and_databases_out() -> None:
    patterns = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for needed in (".git", ".venv", ".env", "tests/", "state/", "**/__pycache__", "**/*.db", "**/*.db-*"):
        assert needed in patterns, needed
    assert "bench/" in patterns or "bench/out" in patterns
    # Everything the image copies stays in the build context.
    for kept in ("bot", "cogs", "ops", "migrations", "pyproject.toml", "README.md"):
        assert not {kept, f"{kept}/"} & patterns
