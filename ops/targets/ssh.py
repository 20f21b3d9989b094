"""Experimental: the app host is any machine with sh and sqlite3, reached with OpenSSH.

Every call is ``ssh -o BatchMode=yes -o ConnectTimeout=N [-p PORT] [-i KEY] HOST COMMAND``, an
argument list. ssh joins COMMAND into one line for the remote user's login shell, so COMMAND is
always our own fixed text (`sh -s`, or `sh -c` with a shlex-quoted script): scripts travel on
stdin, and every path in them is quoted (a `put` sends the file itself on stdin to a `sh -c` line
of shlex-quoted words). RESTART_COMMAND, STOP_COMMAND and START_COMMAND are
shell lines run by the remote `sh`. ssh exits 255 for its own failures: those are typed errors
when the connection never came up, and a lost session (``ShResult.session_lost``) otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ops.errors import OpsError
from ops.redact import redact
from ops.sections import setting
from ops.targets.base import (
    DEFAULT_TIMEOUT_S,
    NOT_RESTARTED,
    AuthRefused,
    DiskFull,
    Finding,
    HostUnreachable,
    Machine,
    ShResult,
    TargetError,
    TargetSpec,
    TimedOut,
    ToolMissing,
    absolute_db_path,
    failed,
    filtered_env,
    from_error,
    passed,
    run_argv,
    script_for_stdin,
    stop_group,
)
from ops.targets.upload import Upload, put_file, stream_lost, stream_refused

if TYPE_CHECKING:
    from ops.sections import CoreSettings

log = logging.getLogger(__name__)

# What ssh needs to run (its config and known_hosts under HOME, the agent's socket): nothing else.
SSH_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ",
                     "SSH_AUTH_SOCK"})
SSH_FAILED = 255  # ssh's own exit status for its own errors
LIVE_WAL = 3  # the fetch script's exit status for a live WAL database
CHUNK = 1 << 16

_UNREACHABLE = re.compile(r"Could not resolve hostname|connect to host .*: |Connection closed by .* port|"
                          r"kex_exchange_identification|Network is unreachable|No route to host", re.IGNORECASE)
_AUTH = re.compile(r"Permission denied \(|Too many authentication failures", re.IGNORECASE)
_HOST_KEY = re.compile(r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|"
                       r"No \S+ host key is known", re.IGNORECASE)


class SshTarget:
    here = False

    def __init__(
        self,
        host: str,
        *,
        port: int = 0,
        key: str = "",
        ssh: str = "ssh",
        restart_command: str = "",
        stop_command: str = "",
        start_command: str = "",
        log_file: str = "",
        env: Mapping[str, str] | None = None,
        connect_timeout: int = 10,
        fetch_timeout: float = 1800.0,
    ) -> None:
        if not host or host.startswith("-") or any(ch.isspace() for ch in host):
            raise OpsError(f"SSH_HOST={host!r} is not a host name", hint="Set SSH_HOST to HOST or USER@HOST.")
        self.host, self.port, self.key, self.ssh = host, port, key, ssh
        self.name = f"ssh:{host}"
        self.restart_command, self.stop_command, self.start_command = restart_command, stop_command, start_command
        self.log_file = log_file
        self.connect_timeout = connect_timeout
        self.fetch_timeout = fetch_timeout
        self._given_env = None if env is None else dict(env)

    # --- Target protocol --------------------------------------------------------------

    async def sh(self, script: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> ShResult:
        result = await run_argv(
            self._argv("sh -s"), stdin=script_for_stdin(script), env=self._env(), timeout=timeout,
            what=f"a shell step on {self.name}",
            hint="ssh was stopped, but the command may still be running on the host. Check the database "
                 "state before retrying.",
        )
        return self._checked(result, f"a shell step on {self.name}")

    async def fetch(self, remote: str, local: Path, *, timeout: float | None = None) -> None:
        """Stream a finished file (a `.backup` snapshot) with `cat` into a temporary file beside
        ``local``, renamed into place only when complete; a live WAL database is refused."""
        if local.exists():
            raise OpsError(f"{local} already exists", hint="Remove it or choose another path.")
        script = f"[ ! -e {shlex.quote(remote + '-wal')} ] || exit {LIVE_WAL}; exec cat -- {shlex.quote(remote)}"
        try:
            fd, partial = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.", suffix=".partial")
        except OSError as exc:
            raise OpsError(f"cannot write a download into {local.parent}: {exc.strerror}",
                           hint="Check STATE_DB's directory.") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                code, err = await self._stream(self._argv("sh -c " + shlex.quote(script)), out, remote,
                                               self.fetch_timeout if timeout is None else timeout)
            if code == LIVE_WAL:
                raise OpsError(f"{remote} is a live WAL database (it has a -wal file): a file copy could miss "
                               "commits", hint="Copy a `.backup` snapshot of it instead (preflight does this).")
            self._checked(ShResult("", err, code, 0.0), f"downloading {remote}", fail_on_lost=True)
            if code != 0:
                raise OpsError(f"downloading {remote} failed: {_last_line(err)}",
                               hint="Nothing was kept locally; check that the file exists on the host and retry.")
            if local.exists():
                raise OpsError(f"{local} appeared during the download", hint="Remove it or choose another path.")
            os.replace(partial, local)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)

    async def put(self, local: Path, remote: str, *, timeout: float | None = None) -> None:
        """The file on stdin to `sh -c 'cat > "$1"' sh PARTIAL`, then a `sh -s` script verifies it
        and links it into place (ops.targets.upload)."""
        limit = self.fetch_timeout if timeout is None else timeout
        await put_file(self, local, remote, lambda upload: self._stream_in(upload, limit))

    async def _stream_in(self, upload: Upload, timeout: float) -> None:
        what = f"uploading {upload.local} to {self.name}"
        with open(upload.local, "rb") as data:
            # ssh joins its words for the remote login shell: one line of shlex-quoted words.
            result = await run_argv(self._argv(upload.stream_command()), stdin=data, env=self._env(),
                                    timeout=timeout, what=what,
                                    hint="ssh was stopped and nothing was put in place; retry the upload.")
        result = self._checked(result, what)
        if result.session_lost:
            raise stream_lost(self, upload, _last_line(result.stderr))
        if not result.ok:
            raise stream_refused(self, upload, _last_line(result.stderr))

    async def restart(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        if not self.restart_command:
            return NOT_RESTARTED
        await self._app_command(self.restart_command, "RESTART_COMMAND", "restart", timeout)
        return f"restarted with RESTART_COMMAND on {self.host}"

    async def stop(self, ids: list[str] | None = None) -> list[str]:
        await self._app_command(self.stop_command, "STOP_COMMAND", "stop", DEFAULT_TIMEOUT_S)
        return [self.host]

    async def start(self, ids: list[str] | None = None) -> list[str]:
        await self._app_command(self.start_command, "START_COMMAND", "start", DEFAULT_TIMEOUT_S)
        return [self.host]

    async def snapshot_volume(self) -> str:
        return ""  # no platform volume here: opsbot's own backups are the copies

    async def machines(self) -> list[Machine]:
        return [Machine(id=self.host, state="started", name=self.host)]

    async def logs(self, lines: int, *, timeout: float = 30.0) -> list[str]:
        if not self.log_file or lines <= 0:
            return []
        result = await self.sh(f"tail -n {int(lines)} -- {shlex.quote(self.log_file)}", timeout=timeout)
        if not result.ok:
            raise OpsError(f"could not read APP_LOG_FILE {self.log_file} on {self.host}: "
                           f"{_last_line(result.stderr)}", hint="Set APP_LOG_FILE to the app's log file there.")
        return result.stdout.splitlines()

    # --- wording ---------------------------------------------------------------------------

    def describe(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    def undo_stop_text(self, stopped: Sequence[str]) -> str:
        return f"START_COMMAND on {self.host} by hand"

    def grow_volume_text(self) -> str:
        return f"grow the disk of {self.host}"

    def status_text(self) -> str:
        where = f" ({self.log_file})" if self.log_file else ""
        return f"`ssh {self.host}` and the app's logs there{where}"

    async def doctor(self) -> list[Finding]:
        path = shutil.which(self.ssh)
        if path is None:
            return [failed(f"ssh not found (SSH={self.ssh})",
                           "install OpenSSH's client (Debian: apt-get install openssh-client) or set SSH to its path")]
        try:
            result = await self.sh("true", timeout=self.connect_timeout + 20)
        except OpsError as exc:
            return [from_error(f"ssh cannot reach {self.describe()}", exc)]
        if not result.ok:
            return [failed(f"ssh reaches {self.describe()} but `sh -s` failed: {_last_line(result.stderr)}",
                           "check that the remote user has a POSIX sh")]
        return [passed(f"ssh ({path}) reaches {self.describe()}")]

    # --- helpers ---------------------------------------------------------------------------

    def _argv(self, remote_command: str) -> list[str]:
        argv = [self.ssh, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                # A connection that dies mid-session ends ssh within a minute instead of never.
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.key:
            argv += ["-i", self.key]
        return [*argv, self.host, remote_command]

    def _env(self) -> dict[str, str]:
        return filtered_env(self._given_env, SSH_ENV)

    def _checked(self, result: ShResult, what: str, *, fail_on_lost: bool = False) -> ShResult:
        """ssh's own failures (exit 255) as typed errors; a session lost mid-command is marked."""
        if result.exit_code != SSH_FAILED:
            return result
        error = _connect_error(result.stderr, self.describe(), what)
        if error is not None:
            raise error
        if fail_on_lost:
            raise HostUnreachable(f"{what}: the connection to {self.host} was lost ({_last_line(result.stderr)})",
                                  hint="Nothing was kept locally; retry when the host answers.")
        log.warning("%s: ssh session lost: %s", self.name, _last_line(result.stderr))
        return replace(result, session_lost=True)

    async def _app_command(self, command: str, name: str, verb: str, timeout: float) -> None:
        if not command:
            raise OpsError(f"no {name} is configured for the ssh target",
                           hint=f"Set {name} to the shell line that {verb}s the app on {self.host}, or {verb} it "
                                "by hand.")
        result = await self.sh(command, timeout=timeout)
        if not result.ok:
            raise OpsError(f"{name} exited {result.exit_code} on {self.host}: {_last_line(result.stderr)}",
                           hint=f"{verb.capitalize()} the app by hand and check its logs.")

    async def _stream(self, argv: list[str], out: BinaryIO, remote: str, timeout: float) -> tuple[int, str]:
        """Run ssh with its stdout copied into ``out``; returns (exit status, stderr)."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self._env(), start_new_session=True)
        except FileNotFoundError as exc:
            raise ToolMissing(f"downloading {remote}: `{argv[0]}` was not found",
                              hint="Install OpenSSH's client or set SSH to its path.") from exc
        assert proc.stdout is not None and proc.stderr is not None
        errs = asyncio.ensure_future(proc.stderr.read())

        async def pump() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(CHUNK):
                out.write(chunk)
            await proc.wait()

        try:
            await asyncio.wait_for(pump(), timeout)
        except OSError as exc:
            await _stop(proc, errs)
            if exc.errno == errno.ENOSPC:
                raise DiskFull(f"no room here for {remote}", hint="Free space under STATE_DB's directory, "
                               "then retry.") from exc
            raise OpsError(f"could not write the download of {remote}: {exc.strerror}", hint="Check the disk.") from exc
        except (TimeoutError, asyncio.CancelledError):
            await _stop(proc, errs)
            raise TimedOut(f"downloading {remote} did not finish within {timeout:g}s and was stopped",
                           hint="Nothing was kept locally; retry the download.", seconds=timeout) from None
        err = redact((await errs).decode("utf-8", "replace"))
        return proc.returncode if proc.returncode is not None else -1, err


async def _stop(proc: asyncio.subprocess.Process, errs: asyncio.Future[bytes]) -> None:
    try:
        await stop_group(proc)
    finally:
        errs.cancel()


def _connect_error(stderr: str, host: str, what: str) -> TargetError | None:
    line = _last_line(stderr)
    if _HOST_KEY.search(stderr):
        return AuthRefused(f"{what}: ssh does not trust the host key of {host} ({line})",
                           hint="Check the host's key fingerprint, then add it to known_hosts (`ssh-keyscan HOST`); "
                                "opsbot runs ssh with BatchMode=yes and never accepts a new key itself.")
    if _AUTH.search(stderr):
        return AuthRefused(f"{what}: {host} refused the ssh key ({line})",
                           hint="Check SSH_KEY (or the ssh agent) and that its public key is in the remote "
                                "user's ~/.ssh/authorized_keys.")
    if _UNREACHABLE.search(stderr):
        return HostUnreachable(f"{what}: ssh could not connect to {host} ({line})",
                               hint="Check SSH_HOST and SSH_PORT, and that the host is up and sshd listens; "
                                    "nothing ran there. Retry when it answers.")
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return redact(lines[-1][:300]) if lines else "no error text"


@dataclass(frozen=True)
class SshSettings:
    host: str = setting("SSH_HOST", "")
    port: int = setting("SSH_PORT", 0, maximum=65535)  # 0: ssh's own default (its config, or 22)
    key: str = setting("SSH_KEY", "")
    ssh: str = setting("SSH", "ssh")



def build(settings: CoreSettings) -> SshTarget:
    s: SshSettings = settings.ssh
    c = settings.local
    return SshTarget(s.host, port=s.port, key=s.key, ssh=s.ssh, restart_command=c.restart_command,
                     stop_command=c.stop_command, start_command=c.start_command, log_file=c.app_log_file)


def problems(settings: CoreSettings) -> list[str]:
    found = absolute_db_path(settings)
    host, key = settings.ssh.host, settings.ssh.key
    if not host:
        found.append("SSH_HOST is empty: name the app host for the ssh target, e.g. deploy@app.example.com")
    elif host.startswith("-") or any(ch.isspace() for ch in host):
        found.append(f"SSH_HOST={host!r}: expected HOST or USER@HOST")
    if key and not Path(key).expanduser().is_file():
        found.append(f"SSH_KEY={key!r}: no such file (the private key ssh -i reads)")
    return found


SPEC = TargetSpec(name="ssh", build=build, problems=problems, settings=SshSettings)
