"""The experimental ssh target against a stand-in `ssh` (tests/fakessh/ssh) that parses ssh's
real command line and runs the remote command with `sh -c` in a scratch "host" directory:
first the target itself, then every phase through the real entry point, `python -m ops`."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.check import report, run_checks
from ops.config import load_settings
from ops.errors import OpsError
from ops.targets.base import AuthRefused, HostUnreachable, TimedOut
from tests.bot_harness import bot_settings
from tests.conftest import REPO, dump, make_db
from tests.discord_standin.standin import DiscordStandIn
from tests.fakessh import FakeSsh
from tests.test_cli import cli

AWKWARD = "it's \"quoted\" $HOME `echo no` \\ back\nline two && true > x < y\n\ttab; $(date)"
MIGRATION = "0001_remove_suspend.sql"


@pytest.fixture
def fakessh(tmp_path: Path) -> Iterator[FakeSsh]:
    yield FakeSsh(tmp_path)


# --- the target ------------------------------------------------------------------------------


async def test_exact_argv_and_the_script_on_stdin(fakessh: FakeSsh, tmp_path: Path) -> None:
    target_file = fakessh.host_root / "path with 'quote' and $dollar"
    script = f"x={shlex.quote(AWKWARD)}\nprintf '%s' \"$x\" > {shlex.quote(str(target_file))} && echo written"
    result = await fakessh.target().sh(script)
    assert (result.exit_code, result.stdout, result.session_lost) == (0, "written\n", False)
    assert target_file.read_text() == AWKWARD
    assert fakessh.argvs() == [["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15",
                                "-o", "ServerAliveCountMax=3", "-p", "2222", "-i", str(fakessh.key),
                                "deploy@app-host", "sh -s"]]
    assert fakessh.calls()[0]["stdin"].startswith("x=")  # nothing of the script on the command line


async def test_remote_exit_status_and_environment(fakessh: FakeSsh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-never-passed")
    monkeypatch.setenv("FLY_API_TOKEN", "fly-secret-never-passed")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    result = await fakessh.target().sh("echo oops >&2; exit 3")
    assert (result.exit_code, result.stderr, result.session_lost) == (3, "oops\n", False)
    names = set(fakessh.calls()[-1]["env_names"])
    assert "SSH_AUTH_SOCK" in names and "PATH" in names
    assert not names & {"DISCORD_TOKEN", "FLY_API_TOKEN", "CODE_DEPLOY_KEY"}


@pytest.mark.parametrize(("mode", "error", "text", "hint"), [
    ("refused", HostUnreachable, "port 2222: Connection refused", "Check SSH_HOST and SSH_PORT"),
    ("resolve", HostUnreachable, "Could not resolve hostname app-host", "nothing ran there"),
    ("timeout", HostUnreachable, "Connection timed out", "Retry when it answers"),
    ("auth", AuthRefused, "Permission denied (publickey)", "authorized_keys"),
    ("hostkey", AuthRefused, "Host key verification failed", "known_hosts"),
])
async def test_connection_failures_are_typed(fakessh: FakeSsh, mode: str, error: type[OpsError], text: str,
                                             hint: str) -> None:
    fakessh.add_fault(mode, times=1)
    with pytest.raises(error) as info:
        await fakessh.target().sh("touch ran")
    assert text in info.value.message and hint in info.value.hint
    assert not (fakessh.host_root / "ran").exists()
    assert (await fakessh.target().sh("true")).ok  # the next call connects


async def test_wrong_port_and_missing_key_are_refused_like_ssh(fakessh: FakeSsh) -> None:
    with pytest.raises(HostUnreachable, match="port 2200: Connection refused"):
        await fakessh.target(port=2200).sh("true")
    with pytest.raises(AuthRefused, match="refused the ssh key"):
        await fakessh.target(key="").sh("true")


async def test_a_lost_session_is_marked_not_read_from_text(fakessh: FakeSsh) -> None:
    fakessh.add_fault("drop", times=1)
    result = await fakessh.target().sh("echo late > survived")
    assert result.exit_code == 255 and result.session_lost


async def test_a_hang_is_stopped_at_the_timeout(fakessh: FakeSsh) -> None:
    fakessh.add_fault("hang", times=1)
    with pytest.raises(TimedOut, match="did not finish within 0.5s"):
        await fakessh.target().sh("true", timeout=0.5)


async def test_fetch_streams_the_file_and_keeps_nothing_partial(fakessh: FakeSsh, tmp_path: Path) -> None:
    remote = fakessh.host_root / "snap shot's.db"
    remote.write_bytes(bytes(range(256)) * 4096)
    local_dir = tmp_path / "here"
    local_dir.mkdir()
    await fakessh.target().fetch(str(remote), local_dir / "copy.db")
    assert (local_dir / "copy.db").read_bytes() == remote.read_bytes()
    with pytest.raises(OpsError, match="already exists"):
        await fakessh.target().fetch(str(remote), local_dir / "copy.db")
    fakessh.add_fault("partial", times=1)
    with pytest.raises(HostUnreachable, match="connection to deploy@app-host was lost"):
        await fakessh.target().fetch(str(remote), local_dir / "cut.db")
    with pytest.raises(OpsError, match="downloading .* failed"):
        await fakessh.target().fetch(str(fakessh.host_root / "missing.db"), local_dir / "missing.db")
    assert sorted(p.name for p in local_dir.iterdir()) == ["copy.db"]


async def test_fetch_refuses_a_live_wal_database(fakessh: FakeSsh, tmp_path: Path) -> None:
    db = fakessh.host_root / "app.db"
    make_db(db, users=5, logs=5)
    (fakessh.host_root / "app.db-wal").write_bytes(b"x")
    with pytest.raises(OpsError, match="live WAL database"):
        await fakessh.target().fetch(str(db), tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


async def test_app_commands_run_through_the_remote_shell(fakessh: FakeSsh) -> None:
    (fakessh.host_root / "app.log").write_text("".join(f"line {i}\n" for i in range(10)))
    target = fakessh.target(restart_command="echo restarted >> events && date > /dev/null",
                            stop_command="echo stopped >> events", start_command="echo started >> events",
                            log_file=str(fakessh.host_root / "app.log"))
    assert await target.restart() == "restarted with RESTART_COMMAND on deploy@app-host"
    assert await target.stop() == ["deploy@app-host"]
    assert await target.start() == ["deploy@app-host"]
    assert (fakessh.host_root / "events").read_text() == "restarted\nstopped\nstarted\n"
    assert await target.logs(3) == ["line 7", "line 8", "line 9"]
    assert all(argv[-1] == "sh -s" for argv in fakessh.argvs())
    with pytest.raises(OpsError, match="STOP_COMMAND exited 4 on deploy@app-host"):
        await fakessh.target(stop_command="exit 4").stop()
    with pytest.raises(OpsError, match="no START_COMMAND is configured"):
        await fakessh.target().start()


async def test_doctor(fakessh: FakeSsh) -> None:
    [ok] = await fakessh.target().doctor()
    assert ok.ok and "reaches deploy@app-host:2222" in ok.what
    fakessh.add_fault("refused")
    [bad] = await fakessh.target().doctor()
    assert not bad.ok and "ssh cannot reach deploy@app-host:2222" in bad.what and "SSH_PORT" in bad.fix
    [missing] = await fakessh.target(ssh="/nowhere/ssh").doctor()
    assert not missing.ok and "ssh not found (SSH=/nowhere/ssh)" in missing.what


# --- through `python -m ops --target ssh` -------------------------------------------------------


def ssh_env(fakessh: FakeSsh, tmp_path: Path, db: Path) -> dict[str, str]:
    env = {**fakessh.env(), "DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
           "MIGRATIONS_DIR": str(REPO / "migrations"), "PYTHONPATH": str(REPO)}
    del env["TARGET"]  # given with --target
    return env


def ops_json(*args: str, env: dict[str, str], cwd: Path, code: int = 0) -> dict:
    out = cli("--target", "ssh", "--json", *args, env=env, cwd=cwd)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


def test_every_phase_through_python_m_ops(fakessh: FakeSsh, tmp_path: Path) -> None:
    db = fakessh.host_root / "data" / "app.db"
    make_db(db, users=50, logs=500)
    original = dump(db)
    env = ssh_env(fakessh, tmp_path, db)
    verified = ops_json("verify", env=env, cwd=tmp_path)
    assert verified["ok"] and verified["user_version"] == 7
    backup = ops_json("backup", "--label", "ssh", env=env, cwd=tmp_path)
    assert backup["ok"] and backup["integrity"] == "ok" and backup["path"].startswith(str(db))
    pre = ops_json("preflight", MIGRATION, env=env, cwd=tmp_path)  # downloads a snapshot with `cat`
    assert pre["ok"] and pre["counts_after"]["activity_logs"] == 500
    refused = ops_json("migrate", MIGRATION, env=env, cwd=tmp_path, code=2)
    assert refused["error"]["hint"].startswith("Re-run with --yes")
    done = ops_json("migrate", MIGRATION, "--yes", "--fingerprint", pre["fingerprint"], env=env, cwd=tmp_path)
    assert done["ok"] and done["user_version"] == 8 and done["counts"]["activity_logs"] == 500
    rolled = ops_json("rollback", "--yes", env=env, cwd=tmp_path)
    assert rolled["ok"] and dump(db) == original
    commands = {call["command"] for call in fakessh.calls()}
    assert commands <= {"sh -s"} | {c for c in commands if c.startswith("sh -c ")}, commands
    assert any(c.startswith("sh -c ") and "exec cat --" in c for c in commands)
    assert all(argv[:2] == ["-o", "BatchMode=yes"] for argv in fakessh.argvs())


def test_an_unreachable_host_is_one_clear_error(fakessh: FakeSsh, tmp_path: Path) -> None:
    db = fakessh.host_root / "data" / "app.db"
    make_db(db, users=5, logs=5)
    env = ssh_env(fakessh, tmp_path, db)
    fakessh.add_fault("refused")
    failed = ops_json("backup", env=env, cwd=tmp_path, code=1)
    assert "ssh could not connect to deploy@app-host:2222" in failed["error"]["message"]
    assert "Connection refused" in failed["error"]["message"] and "SSH_PORT" in failed["error"]["hint"]
    plain = cli("--target", "ssh", "verify", env=env, cwd=tmp_path)
    assert plain.returncode == 1 and "✘" in plain.stdout and "ssh could not connect" in plain.stdout


def test_ssh_settings_are_validated(tmp_path: Path) -> None:
    env = {"STATE_DB": str(tmp_path / "j.db"), "PYTHONPATH": str(REPO), "DB_PATH": "data/app.db",
           "SSH_KEY": str(tmp_path / "no-key"), "SSH_PORT": "70000"}
    out = cli("--target", "ssh", "--json", "status", env=env, cwd=tmp_path)
    assert out.returncode == 2
    message = json.loads(out.stdout)["error"]["message"]
    for problem in ("SSH_HOST is empty", "DB_PATH='data/app.db': expected an absolute path", "SSH_KEY=",
                    "SSH_PORT='70000'"):
        assert problem in message, message


async def test_bot_check_reads_the_target_from_the_registry(fakessh: FakeSsh, tmp_path: Path,
                                                            discord_standin: DiscordStandIn) -> None:
    db = fakessh.host_root / "data" / "app.db"
    make_db(db, users=5, logs=5)
    env = {**fakessh.env(), "DB_PATH": str(db), "STATE_DB": str(tmp_path / "state" / "j.db"),
           "MIGRATIONS_DIR": str(REPO / "migrations")}
    findings = await run_checks(bot_settings(load_settings(env)))
    text = report(findings)
    assert all(f.ok for f in findings), text
    for expected in ("TARGET=ssh: deploy@app-host:2222", "sqlite3 CLI here for preflight rehearsals",
                     "reaches deploy@app-host:2222", "(ssh:deploy@app-host) has sqlite3", "user_version 7"):
        assert expected in text, text
    fakessh.add_fault("refused")
    bad = [f.line() for f in await run_checks(bot_settings(load_settings(env))) if not f.ok]
    assert len(bad) == 2 and "ssh cannot reach deploy@app-host:2222" in bad[0], bad
    assert bad[1].startswith("✘ sqlite3 and the database on deploy@app-host:2222 were not checked")
