"""FlyTarget against the stand-in `fly`: real subprocesses, real sqlite3, temp directories."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ops.errors import OpsError
from ops.targets.fly import FlyTarget, _strip_noise
from tests.waiting import eventually

if TYPE_CHECKING:
    from tests.fakefly.plugin import FakeFly

# Harmless once conftest lists the plugin too; imported here by name only, so pytest can
# still rewrite its asserts.

APP = "timelogger-staging"
MID = "148e21ea3e0d89"  # the stand-in's default machine
AWKWARD = "it's \"quoted\" $HOME `echo no` \\ back\nline two && true > x < y\n\ttab; $(date)"


def ssh_calls(fakefly: FakeFly) -> list[list[str]]:
    return [argv for argv in fakefly.argvs() if argv[:2] == ["ssh", "console"]]


# --- sh ----------------------------------------------------------------------------------


async def test_awkward_script_arrives_intact(fakefly: FakeFly, tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    target_file = volume / "path with 'quote' and $dollar"
    script = (
        f"x={shlex.quote(AWKWARD)}\n"
        f'printf \'%s\' "$x" > {shlex.quote(str(target_file))} && echo "written `echo ok`"\n'
        "echo 'to stderr' >&2"
    )
    result = await fakefly.target().sh(script)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "written ok\n"
    assert "to stderr" in result.stderr
    assert target_file.read_text() == AWKWARD
    argv = ssh_calls(fakefly)[-1]
    # The script travels on stdin: the command line is only `sh -s`, nothing of the script.
    assert argv[-1] == "sh -s" and shlex.split(argv[-1]) == ["sh", "-s"]
    assert AWKWARD not in " ".join(argv)


async def test_here_document_reaches_sqlite3_on_the_machine(fakefly: FakeFly, tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app $db's.db"
    db.parent.mkdir()
    sql = "create table t(x); insert into t values('it''s'); select x from t;"
    result = await fakefly.target().sh(f"sqlite3 -bail {shlex.quote(str(db))} <<'EOF'\n{sql}\nEOF")
    assert (result.exit_code, result.stdout) == (0, "it's\n")
    assert db.exists()


async def test_remote_nonzero_exit_arrives_as_1(fakefly: FakeFly) -> None:
    result = await fakefly.target().sh("echo out; echo err >&2; exit 3")
    assert result.exit_code == 1
    assert result.stdout == "out\n"
    assert "err" in result.stderr
    assert "Process exited with status 3" in result.stderr


async def test_remote_error_text_is_not_taken_for_a_local_failure(fakefly: FakeFly) -> None:
    # sqlite3 itself prints "Error: ... not authorized": that is the remote's failure.
    result = await fakefly.target().sh("echo 'Error: near line 1: not authorized' >&2; exit 1")
    assert result.exit_code == 1


async def test_a_script_far_over_the_argument_limit_runs(fakefly: FakeFly) -> None:
    # Linux refuses one argument over 128 KiB (MAX_ARG_STRLEN): on stdin, size does not matter.
    payload = "x" * 3_000_000
    result = await fakefly.target().sh(f"cat <<'EOF' | wc -c\n{payload}\nEOF")
    assert result.exit_code == 0, result.stderr
    assert int(result.stdout.strip()) == len(payload) + 1


async def test_token_and_region_stay_out_of_the_remote_env(fakefly: FakeFly) -> None:
    target = fakefly.target(env={"FLY_REGION": "ams"})
    result = await target.sh('echo "[${FLY_API_TOKEN:-}] [$FLY_MACHINE_ID]"')
    assert result.stdout == f"[] [{MID}]\n"


# --- the exact commands ------------------------------------------------------------------


async def test_exact_argv_and_env_of_every_command(fakefly: FakeFly, tmp_path: Path) -> None:
    (fakefly.state_dir / "snap.db").write_bytes(b"snapshot")
    fakefly.write_logs(["hello"])
    target = fakefly.target(env={"FLY_REGION": "ams"})
    await target.sh("true")
    await target.fetch(str(fakefly.state_dir / "snap.db"), tmp_path / "local.db")
    await target.restart()
    await target.logs(5)
    await target.status()
    await target.stop([MID])
    await target.start([MID])

    assert fakefly.argvs() == [
        ["machine", "list", "--app", APP, "--json"],
        ["ssh", "console", "--app", APP, "--machine", MID, "-q", "-C", "sh -s"],
        ["ssh", "sftp", "get", str(fakefly.state_dir / "snap.db"), str(tmp_path / "local.db"),
         "--app", APP, "--machine", MID],
        ["apps", "restart", APP],
        ["logs", "--app", APP, "--no-tail", "--json"],
        ["status", "--app", APP, "--json"],
        ["machine", "stop", MID, "--app", APP],
        ["machine", "start", MID, "--app", APP],
    ]
    for call in fakefly.calls():
        assert call["env"] == {"FLY_API_TOKEN": True, "FLY_ACCESS_TOKEN": False,
                               "FLY_REGION": False, "NO_COLOR": True}
    assert fakefly.token not in (fakefly.state_dir / "calls.jsonl").read_text()


async def test_machines_and_status_parse_flyctl_json(fakefly: FakeFly) -> None:
    target = fakefly.target()
    [machine] = await target.machines()
    assert (machine.id, machine.state, machine.region) == (MID, "started", "nrt")
    assert machine.name == fakefly.app_state()["machines"][0]["name"]
    status = await target.status()
    assert status["Name"] == APP
    assert target.name == f"fly:{APP}"


# --- machines: pinning, none started, emergency stop --------------------------------------


async def test_pins_the_first_started_machine_once(fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "m1", "state": "stopped"}, {"id": "m2", "state": "started"},
                          {"id": "m3", "state": "started"}])
    target = fakefly.target()
    first = await target.sh("echo $FLY_MACHINE_ID")
    second = await target.sh("echo $FLY_MACHINE_ID")
    assert first.stdout == second.stdout == "m2\n"
    assert [argv[:2] for argv in fakefly.argvs()].count(["machine", "list"]) == 1
    assert all(argv[argv.index("--machine") + 1] == "m2" for argv in ssh_calls(fakefly))


async def test_configured_machine_must_exist_and_be_started(fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "m1", "state": "stopped"}, {"id": "m2", "state": "started"}])
    with pytest.raises(OpsError) as stopped:
        await fakefly.target(machine="m1").sh("true")
    assert "stopped" in str(stopped.value)
    assert "fly machine start m1 --app" in stopped.value.hint
    with pytest.raises(OpsError, match="not in app"):
        await fakefly.target(machine="nope").sh("true")
    assert (await fakefly.target(machine="m2").sh("echo $FLY_MACHINE_ID")).stdout == "m2\n"
    assert ssh_calls(fakefly) and all("m2" in argv for argv in ssh_calls(fakefly))


async def test_no_started_machine_is_refused_with_a_hint(fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "m1", "state": "stopped"}])
    with pytest.raises(OpsError) as err:
        await fakefly.target().sh("true")
    assert "no started machine" in str(err.value)
    assert "fly machine start" in err.value.hint
    assert "scale count 0" in err.value.hint and "destroys" in err.value.hint
    assert ssh_calls(fakefly) == []


async def test_flyctl_no_started_vms_error_becomes_ops_error(fakefly: FakeFly) -> None:
    fakefly.add_fault("ssh", "no_vms")
    with pytest.raises(OpsError) as err:
        await fakefly.target().sh("true")
    assert "no started machine" in str(err.value)
    assert "fly machine start" in err.value.hint


async def test_machine_stopped_since_pinning_is_chosen_again(fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "m1", "state": "started"}, {"id": "m2", "state": "started"}])
    target = fakefly.target()
    await target.sh("true")
    fakefly.run("machine", "stop", "m1", "--app", APP)
    with pytest.raises(OpsError, match="pinned machine"):
        await target.sh("true")
    assert (await target.sh("echo $FLY_MACHINE_ID")).stdout == "m2\n"


async def test_stop_and_start_machines_keep_them(fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "m1", "state": "started"}, {"id": "m2", "state": "started"}])
    target = fakefly.target()
    assert await target.stop() == ["m1", "m2"]
    assert fakefly.machine_states() == {"m1": "stopped", "m2": "stopped"}
    assert await target.start() == ["m1", "m2"]
    assert fakefly.machine_states() == {"m1": "started", "m2": "started"}
    assert not any("scale" in argv for argv in fakefly.argvs())


# --- local flyctl failures ---------------------------------------------------------------


async def test_wrong_token_is_an_ops_error_without_the_token(fakefly: FakeFly) -> None:
    wrong = "FlyV1 fm2_wrong-token-that-is-secret"
    with pytest.raises(OpsError) as err:
        await fakefly.target(api_token=wrong).sh("true")
    assert "token" in str(err.value) and "FLY_API_TOKEN" in err.value.hint
    assert wrong not in str(err.value) + err.value.hint
    with pytest.raises(OpsError, match="token"):
        await fakefly.target(api_token="").machines()


async def test_tunnel_failure_is_an_ops_error(fakefly: FakeFly) -> None:
    fakefly.add_fault("ssh", "exit1", message="tunnel unavailable: no active leader found")
    with pytest.raises(OpsError) as err:
        await fakefly.target().sh("true")
    assert "connection" in str(err.value) and "fly agent restart" in err.value.hint


async def test_missing_flyctl_is_an_ops_error() -> None:
    with pytest.raises(OpsError, match="was not found"):
        await FlyTarget(APP, flyctl="/nonexistent/fly").machines()


# --- timeouts and dropped sessions -------------------------------------------------------


async def test_hang_is_stopped_at_the_timeout(fakefly: FakeFly) -> None:
    target = fakefly.target()
    await target.machines()  # pin first, so only the ssh hangs
    await target._machine()
    fakefly.add_fault("ssh", "hang")
    started = time.monotonic()
    with pytest.raises(OpsError) as err:
        await target.sh("true", timeout=0.8)
    assert time.monotonic() - started < 2.5
    assert "did not finish" in str(err.value) and "still be running" in err.value.hint
    hung_pid = fakefly.calls()[-1]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(hung_pid, 0)


async def test_dropped_session_exits_1_while_the_command_completes(
    fakefly: FakeFly, tmp_path: Path
) -> None:
    marker = tmp_path / "done"
    fakefly.add_fault("ssh", "drop", match="sleep")
    result = await fakefly.target().sh(f"sleep 0.3; echo finished > {shlex.quote(str(marker))}")
    assert result.exit_code == 1
    assert "without exit status" in result.stderr
    assert not marker.exists()
    assert await eventually(marker.exists, timeout=5, what="the dropped session's command to finish")
    assert marker.read_text() == "finished\n"


# --- fetch -------------------------------------------------------------------------------


async def test_fetch_copies_a_file(fakefly: FakeFly, tmp_path: Path) -> None:
    remote = fakefly.state_dir / "backup $1.db"
    remote.write_bytes(os.urandom(4096))
    local = tmp_path / "backup.db"
    await fakefly.target().fetch(str(remote), local)
    assert local.read_bytes() == remote.read_bytes()


async def test_fetch_refuses_an_existing_local_file(fakefly: FakeFly, tmp_path: Path) -> None:
    local = tmp_path / "exists.db"
    local.write_text("mine")
    with pytest.raises(OpsError, match="already exists"):
        await fakefly.target().fetch("/data/app.db", local)
    assert local.read_text() == "mine"
    assert not any(argv[:2] == ["ssh", "sftp"] for argv in fakefly.argvs())


async def test_partial_transfer_leaves_no_file(fakefly: FakeFly, tmp_path: Path) -> None:
    remote = fakefly.state_dir / "big.db"
    remote.write_bytes(b"x" * 10000)
    fakefly.add_fault("sftp", "partial")
    local = tmp_path / "big.db"
    with pytest.raises(OpsError, match="connection lost"):
        await fakefly.target().fetch(str(remote), local)
    assert not local.exists()


async def test_stalled_transfer_times_out_and_leaves_no_file(
    fakefly: FakeFly, tmp_path: Path
) -> None:
    remote = fakefly.state_dir / "big.db"
    remote.write_bytes(b"x" * 10000)
    fakefly.add_fault("sftp", "hang")
    local = tmp_path / "big.db"
    with pytest.raises(OpsError, match="did not finish"):
        await fakefly.target().fetch(str(remote), local, timeout=1.0)
    assert not local.exists()


# --- restart and logs --------------------------------------------------------------------


async def test_restart_restarts_the_app(fakefly: FakeFly) -> None:
    message = await fakefly.target().restart()
    assert f"fly apps restart {APP}" in message
    assert fakefly.app_state()["restarts"] == 1
    assert fakefly.app_state()["machines"][0]["restarts"] == 1


async def test_logs_with_no_entries_return_empty_after_the_timeout(fakefly: FakeFly) -> None:
    started = time.monotonic()
    assert await fakefly.target().logs(10, timeout=0.8) == []
    assert time.monotonic() - started < 2.5


async def test_logs_parse_json_keep_last_lines_and_redact(fakefly: FakeFly) -> None:
    fakefly.write_logs([
        {"message": "booted", "level": "info", "region": "nrt", "timestamp": "T1"},
        {"message": "from ams", "level": "warn", "region": "ams", "timestamp": "T2"},
        {"message": f"leaked {fakefly.token}", "level": "error", "region": "nrt",
         "timestamp": "T3"},
    ])
    # FLY_REGION=nrt would hide the ams entry if it reached flyctl.
    target = fakefly.target(env={"FLY_REGION": "nrt"})
    assert await target.logs(2) == ["T2 [warn] from ams", "T3 [error] leaked [redacted]"]


# --- the stand-in itself -----------------------------------------------------------------


def test_stand_in_refuses_what_flyctl_refuses(fakefly: FakeFly, tmp_path: Path) -> None:
    dash_a = fakefly.run("apps", "restart", "-a", APP)
    assert (dash_a.returncode, dash_a.stderr) == (1, "Error: unknown shorthand flag: 'a' in -a\n\n")
    unknown = fakefly.run("ssh", "console", "--app", APP, "--foo")
    assert (unknown.returncode, unknown.stderr) == (1, "Error: unknown flag: --foo\n\n")
    bogus = fakefly.run("scale", "count", "0")
    assert bogus.returncode == 1 and 'unknown command "scale"' in bogus.stderr
    no_app = fakefly.run("logs", "--no-tail")
    assert no_app.returncode == 1 and "missing an app name" in no_app.stderr
    local = tmp_path / "exists"
    local.write_text("x")
    sftp = fakefly.run("ssh", "sftp", "get", "state.json", str(local), "--app", APP)
    assert sftp.returncode == 1 and "is already there" in sftp.stderr


def test_stand_in_names_its_pick_among_several_machines(fakefly: FakeFly) -> None:
    fakefly.set_machines([{"id": "m1", "state": "started"}, {"id": "m2", "state": "started"}])
    done = fakefly.run("ssh", "console", "--app", APP, "-C", "echo hi")
    assert done.stdout == "No machine specified, using m1 in region nrt\nhi\n"
    assert "Connecting to" in done.stderr
    assert _strip_noise(done.stdout) == "hi\n"
    assert _strip_noise("Connecting to fdaa::2... complete\nNo machine x\n") == "No machine x\n"


def test_stand_in_gives_a_bare_shell_a_pty(fakefly: FakeFly) -> None:
    done = fakefly.run("ssh", "console", "--app", APP, "-q", "-C", "sh", input=b"echo hi\n")
    assert "Allocating a pseudo-terminal" in done.stderr
    assert done.stdout == "hi\r\n"
