"""Target.put on every registered target, through the real thing: LocalTarget on this machine, FlyTarget
through the stand-in `fly` (which splits `-C` with shell-words rules, runs no shell, pipes stdin as
flyctl does), SshTarget through the stand-in `ssh`. Real files, a real SQLite database, a hostile
directory name; every failure test names the guard it proves (its control)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.errors import OpsError
from ops.targets.base import DestinationExists, HostUnreachable, Target, TimedOut, TransferFailed
from ops.targets.local import LocalTarget
from ops.targets.upload import PARTIAL_SUFFIX, STREAM_SCRIPT, Upload, finish
from tests.conftest import make_db
from tests.fakefly.plugin import FakeFly
from tests.fakessh import FakeSsh
from tests.waiting import eventually

# Quotes, spaces, $ and a backslash: each must survive flyctl's word splitting, ssh's remote shell
# and the scripts' own quoting.
HOSTILE_DIR = "vol 'data' $X \\ \"q\""
STREAM = 'cat > "$1"'  # a fault matches the stream's command line, never the scripts around it


@dataclass
class Host:
    """One target and the directory on its "app host" where the tests put files."""

    kind: str
    target: Target
    volume: Path
    fly: FakeFly | None = None
    ssh: FakeSsh | None = None

    def add_fault(self, mode: str) -> None:
        if self.fly is not None:
            self.fly.add_fault("ssh", mode, match=STREAM, times=1)
        elif self.ssh is not None:
            self.ssh.add_fault(mode, match=STREAM, times=1)

    def stream_pids(self) -> list[int]:
        calls = self.fly.calls() if self.fly else self.ssh.calls() if self.ssh else []
        return [c["pid"] for c in calls if STREAM in " ".join(c["argv"])]

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.volume.iterdir())


def make_host(kind: str, tmp_path: Path, fakefly: FakeFly) -> Host:
    if kind == "local":
        volume = tmp_path / "here" / HOSTILE_DIR
        volume.mkdir(parents=True)
        return Host(kind, LocalTarget(), volume)
    if kind == "fly":
        volume = tmp_path / "machine" / HOSTILE_DIR
        volume.mkdir(parents=True)
        return Host(kind, fakefly.target(), volume, fly=fakefly)
    ssh = FakeSsh(tmp_path)
    volume = ssh.host_root / HOSTILE_DIR
    volume.mkdir()
    return Host(kind, ssh.target(), volume, ssh=ssh)


@pytest.fixture(params=["local", "fly", "ssh"])
def host(request: pytest.FixtureRequest, tmp_path: Path, fakefly: FakeFly) -> Host:
    return make_host(request.param, tmp_path, fakefly)


@pytest.fixture(params=["fly", "ssh"])
def remote_host(request: pytest.FixtureRequest, tmp_path: Path, fakefly: FakeFly) -> Host:
    return make_host(request.param, tmp_path, fakefly)


@pytest.fixture
def backup_copy(tmp_path: Path) -> Path:
    """An off-host copy of a backup: a real SQLite database file, made by sqlite3's `.backup`."""
    db = tmp_path / "source" / "app.db"
    make_db(db, wal=False, users=50, logs=800)
    copy = tmp_path / "off-host" / "app.db.pre-x-20250101_000000"
    copy.parent.mkdir()
    con = sqlite3.connect(db)
    with sqlite3.connect(copy) as out:
        con.backup(out)
    con.close()
    return copy


# --- it arrives whole -----------------------------------------------------------------------------


async def test_round_trip_put_then_fetch_is_byte_identical(host: Host, backup_copy: Path, tmp_path: Path) -> None:
    remote = str(host.volume / "app.db.restore $1's")
    await host.target.put(backup_copy, remote)
    assert host.leftovers() == ["app.db.restore $1's"]  # no partial beside it
    con = sqlite3.connect(remote)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    back = tmp_path / "fetched.db"
    await host.target.fetch(remote, back)
    assert back.read_bytes() == backup_copy.read_bytes()
    # Every byte value, CR and LF, ^C and ^D: a pseudo-terminal on the way would change them.
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(range(256)) * 512 + b"\r\n\x04")
    await host.target.put(raw, remote + ".raw")
    assert Path(remote + ".raw").read_bytes() == raw.read_bytes()
    if host.fly is not None:
        streams = [a for a in host.fly.argvs() if a[:2] == ["ssh", "console"] and STREAM in " ".join(a)]
        assert streams and all("--pty" not in a for a in streams)
        # What flyctl's server runs: the command line split with shell-words rules, no shell.
        words = shlex.split(streams[0][streams[0].index("-C") + 1])
        assert words == ["sh", "-c", STREAM_SCRIPT, "sh", remote + PARTIAL_SUFFIX]


async def test_a_stale_partial_of_an_earlier_put_is_replaced(host: Host, backup_copy: Path) -> None:
    remote = host.volume / "copy.db"
    Path(str(remote) + PARTIAL_SUFFIX).write_bytes(b"left by a put that died")
    await host.target.put(backup_copy, str(remote))
    assert remote.read_bytes() == backup_copy.read_bytes()
    assert host.leftovers() == ["copy.db"]


# --- what it refuses --------------------------------------------------------------------------------


async def test_an_existing_remote_is_refused_before_anything_is_sent(host: Host, backup_copy: Path) -> None:
    remote = host.volume / "taken.db"
    remote.write_text("mine")
    with pytest.raises(DestinationExists, match="already exists") as info:
        await host.target.put(backup_copy, str(remote))
    assert "never overwrites" in info.value.hint
    assert remote.read_text() == "mine" and host.leftovers() == ["taken.db"]
    assert host.stream_pids() == []  # control: the prepare script's check, before the stream


async def test_a_remote_path_like_a_flag_is_refused(host: Host, backup_copy: Path) -> None:
    for remote in ("-rf", "--version", "", str(host.volume) + "/"):
        with pytest.raises(OpsError, match="not a file name"):
            await host.target.put(backup_copy, remote)
    assert host.stream_pids() == []


async def test_a_missing_directory_or_local_file_is_refused(host: Host, backup_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(OpsError, match="no directory"):
        await host.target.put(backup_copy, str(host.volume / "absent" / "copy.db"))
    with pytest.raises(OpsError, match="is not a file here"):
        await host.target.put(tmp_path / "nothing.db", str(host.volume / "copy.db"))
    assert host.leftovers() == [] and host.stream_pids() == []


async def test_a_remote_that_appears_during_the_upload_is_left_alone(tmp_path: Path) -> None:
    """The last step links the partial into place with `ln`, which refuses an existing name.
    Control: with `mv` (or no check) the late file would be replaced by the upload."""
    target = LocalTarget()
    local = tmp_path / "copy.db"
    local.write_bytes(b"uploaded")
    remote = tmp_path / "late.db"
    upload = Upload(local, str(remote), 8, hashlib.sha256(b"uploaded").hexdigest())
    Path(upload.partial).write_bytes(b"uploaded")
    remote.write_text("written meanwhile")
    with pytest.raises(DestinationExists, match="appeared"):
        await finish(target, upload)
    assert remote.read_text() == "written meanwhile"
    assert not Path(upload.partial).exists()


# --- what a broken stream leaves: nothing -------------------------------------------------------------


async def test_a_connection_dropped_mid_upload_leaves_no_partial_and_no_file(remote_host: Host,
                                                                             backup_copy: Path) -> None:
    """The stand-in passes the first half of stdin to the remote `cat`, which writes it to the partial
    file, then the session drops. Control: without put_file's cleanup that half file stays behind."""
    remote_host.add_fault("partial")
    with pytest.raises(HostUnreachable, match="was lost while uploading") as info:
        await remote_host.target.put(backup_copy, str(remote_host.volume / "copy.db"))
    assert "Nothing was put in place" in info.value.hint
    assert remote_host.stream_pids(), "the stream ran"
    assert remote_host.leftovers() == []


@pytest.mark.parametrize(("mode", "says"), [
    # Control: the finish script's size comparison (without it the sha256 still refuses, with other words).
    ("truncate", "bytes arrived"),
    # Control: the sha256 comparison: same length, one byte changed.
    ("corrupt", "sha256 on the host is"),
])
async def test_a_short_or_damaged_stream_is_refused_and_removed(remote_host: Host, backup_copy: Path, mode: str,
                                                                says: str) -> None:
    remote_host.add_fault(mode)
    with pytest.raises(TransferFailed, match=says):
        await remote_host.target.put(backup_copy, str(remote_host.volume / "copy.db"))
    assert remote_host.leftovers() == []  # neither the partial nor the final name


async def test_a_stalled_stream_is_killed_at_the_timeout_and_cleaned_up(remote_host: Host,
                                                                        backup_copy: Path) -> None:
    """The stand-in's "stall": the remote `cat` writes the whole partial file (a command outlives its
    session) while the client hangs. Controls: run_argv's timeout and its kill of the process group
    (else it hangs, or the pid lives on), put_file's cleanup (else the partial stays)."""
    remote_host.add_fault("stall")
    partial = Path(str(remote_host.volume / "copy.db") + PARTIAL_SUFFIX)
    started = time.monotonic()
    task = asyncio.ensure_future(remote_host.target.put(backup_copy, str(remote_host.volume / "copy.db"),
                                                        timeout=2.0))
    await eventually(lambda: partial.exists() and partial.stat().st_size == backup_copy.stat().st_size,
                     timeout=10, what="the remote command to write the partial file")
    with pytest.raises(TimedOut, match="did not finish within 2s"):
        await task
    assert time.monotonic() - started < 15
    [pid] = remote_host.stream_pids()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert remote_host.leftovers() == []


async def test_a_cancelled_put_removes_its_partial(fakefly: FakeFly, tmp_path: Path, backup_copy: Path) -> None:
    host = make_host("fly", tmp_path, fakefly)
    host.add_fault("stall")
    task = asyncio.ensure_future(host.target.put(backup_copy, str(host.volume / "copy.db")))
    partial = Path(str(host.volume / "copy.db") + PARTIAL_SUFFIX)
    await eventually(partial.exists, timeout=20, what="the stream to write its partial file")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert host.leftovers() == []  # control: put_file's cleanup runs for a cancellation too


async def test_when_even_the_cleanup_fails_the_hint_names_the_partial(fakefly: FakeFly, tmp_path: Path,
                                                                      backup_copy: Path) -> None:
    host = make_host("fly", tmp_path, fakefly)
    remote = str(host.volume / "copy.db")
    # The first call after the stream that removes something fails too (armed by the stream itself).
    fakefly.add_fault("ssh", "exit1", armed_by=STREAM, match="rm -f", times=1, message="tunnel unavailable")
    host.add_fault("partial")
    with pytest.raises(HostUnreachable) as info:
        await host.target.put(backup_copy, remote)
    assert f"A partial file may be left at {remote + PARTIAL_SUFFIX}" in info.value.hint
    assert host.leftovers() == ["copy.db" + PARTIAL_SUFFIX]  # what the hint describes, never the final name
