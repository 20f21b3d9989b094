"""What a phase needs from the host that runs the app: a POSIX shell, file copies both ways, a
restart, stop/start, and the words to tell an operator what to do on that host.

Every target raises the typed errors below (with a hint) for failures on its own side, so no
caller reads a tool's error text. A target module ends with ``SPEC``; ops.targets.registry
lists the modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from ops.errors import OpsError
from ops.redact import redact

if TYPE_CHECKING:
    from ops.sections import CoreSettings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
# What a host without a restart command says in place of a restart (the local and ssh targets): in
# words first, the setting only in the part that says what to change.
NOT_RESTARTED = "the app was not restarted: no restart command is set (set RESTART_COMMAND to have opsbot restart it)"


@dataclass(frozen=True)
class ShResult:
    stdout: str
    stderr: str
    exit_code: int
    seconds: float
    # The connection broke while the remote command ran: it may still be running (or have
    # finished) on the host, whatever exit_code says. Set by the target, never read from text.
    session_lost: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Machine:
    id: str
    state: str
    region: str = ""
    name: str = ""


@dataclass(frozen=True)
class Finding:
    """One line of `python -m bot check`: ✔ what, or ✘ what → fix."""

    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        text = f"✔ {self.what}" if self.ok else f"✘ {self.what}" + (f" → {self.fix}" if self.fix else "")
        return redact(" ".join(text.split()))


def passed(what: str) -> Finding:
    return Finding(True, what)


def failed(what: str, fix: str) -> Finding:
    return Finding(False, what, fix)


def from_error(prefix: str, exc: OpsError) -> Finding:
    return failed(f"{prefix}: {exc.message}", exc.hint or "see the message")


# --- the errors a target raises ------------------------------------------------------------


class TargetError(OpsError):
    """A failure reaching or driving the app host, or of room on its volumes (not of the database on it)."""


class HostUnreachable(TargetError):
    """No connection to the app host: nothing ran there."""


class AuthRefused(TargetError):
    """The host or platform refused our credentials (token, key, host key)."""


class NoMachine(TargetError):
    """There is no started machine to run on (or the configured one is missing or stopped)."""


class UnknownApp(TargetError):
    """The platform does not know the configured app (or this token cannot see it)."""


class ToolMissing(TargetError):
    """The local executable a target drives (flyctl, ssh) was not found."""


class ToolRefused(TargetError):
    """The tool refused the command line opsbot built (a version opsbot does not know)."""


class DiskFull(TargetError):
    """A volume (on the app host or here) has no room for what has to be written."""


class TransferFailed(TargetError):
    """A file copied between here and the app host did not arrive whole (short, or not the same
    bytes): nothing was kept under the file's name."""


class DestinationExists(OpsError):
    """A copy would overwrite a file that is already there: it is never replaced."""


class TimedOut(TargetError):
    """An external command ran out of its time and was killed (its process group, here)."""

    def __init__(self, message: str, *, hint: str = "", seconds: float = 0.0) -> None:
        super().__init__(message, hint=hint)
        self.seconds = seconds


# --- the protocol ----------------------------------------------------------------------------


class Target(Protocol):
    """The app host. Every phase is sh + sqlite3 CLI run through one of these."""

    name: str
    # The app host is this machine: what `bot check` tests there covers the local sqlite3 too.
    here: bool

    async def sh(self, script: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> ShResult:
        """Run ``script`` with ``sh -s``: the script reaches the host on stdin, whatever its size."""
        ...

    async def fetch(self, remote: str, local: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> None: ...

    async def put(self, local: Path, remote: str, *, timeout: float | None = None) -> None:
        """Copy a finished local file to ``remote`` on the host: written beside it under a
        temporary name, renamed into place only once its size and sha256 on the host match the
        local file's; an existing ``remote`` is refused, a failed copy leaves nothing behind
        (ops.targets.upload holds the steps every target shares)."""
        ...

    async def restart(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> str: ...

    async def stop(self, ids: list[str] | None = None) -> list[str]:
        """Stop the app (these machines, or every started one) without destroying anything."""
        ...

    async def start(self, ids: list[str] | None = None) -> list[str]:
        """Start the app (these machines, or every stopped one); returns what was started."""
        ...

    async def machines(self) -> list[Machine]: ...

    async def snapshot_volume(self) -> str:
        """A snapshot of the volume the database lives on, by the platform, beside opsbot's own
        backups; what was done, or "" when this target has no such thing."""
        ...

    async def logs(self, lines: int, *, timeout: float = 30.0) -> list[str]: ...

    def describe(self) -> str:
        """What the app host is, in a few words: "timelogger-staging", "this machine"."""
        ...

    def undo_stop_text(self, stopped: Sequence[str]) -> str:
        """How an operator starts ``stopped`` again by hand."""
        ...

    def grow_volume_text(self) -> str:
        """How to give the database's volume more room, as a clause: "extend the volume (…)"."""
        ...

    def status_text(self) -> str:
        """Where an operator looks at the app and its host."""
        ...

    async def doctor(self) -> list[Finding]:
        """`bot check`: can this host be reached at all (tools, credentials, a machine)?"""
        ...


@dataclass(frozen=True)
class TargetSpec:
    """A target as the registry knows it: its name, how settings build it, what they need."""

    name: str
    build: Callable[[CoreSettings], Target]
    problems: Callable[[CoreSettings], list[str]] = lambda settings: []
    # The target's own settings section (a frozen dataclass of ops.sections.setting fields), read
    # with the others and reached as ``settings.<name>``; None for a target without settings.
    settings: type[Any] | None = None
    # The variables whose values are secrets (tokens): masked wherever text leaves the process.
    secrets: tuple[str, ...] = ()
    # PAUSE_APP values this target's platform offers that opsbot refuses, each with why.
    refused_pauses: tuple[tuple[str, str], ...] = ()
    # The setting `python -m ops --app` overrides, for a target that operates on a named app.
    app_setting: str = ""
    # The setting an environment's ``machine`` (opsbot.toml) sets, for a target with machines.
    machine_setting: str = ""

    def variables(self) -> list[str]:
        """The environment variables of the target's own section."""
        return [f.metadata["env"] for f in fields(self.settings)] if self.settings else []


def absolute_db_path(settings: CoreSettings) -> list[str]:
    """A remote host has no working directory of ours: DB_PATH must be absolute there."""
    db_path = settings.engine.db_path
    if db_path.startswith("/"):
        return []
    return [f"DB_PATH={db_path!r}: expected an absolute path on the app host, e.g. /data/app.db"]


def sqlite_here() -> Finding:
    """Preflight rehearses each migration on this machine: the bot needs sqlite3 here too."""
    path = shutil.which("sqlite3")
    if path is None:
        return failed("no sqlite3 CLI on this machine (preflight rehearses migrations here)",
                      "apt-get install sqlite3 (the Docker image has it)")
    return passed(f"sqlite3 CLI here for preflight rehearsals ({path})")


# --- running commands ----------------------------------------------------------------------


async def run_argv(
    argv: list[str],
    *,
    stdin: bytes | BinaryIO | None = None,
    timeout: float,
    env: dict[str, str] | None = None,
    what: str,
    hint: str,
) -> ShResult:
    """Run an argument list (never a shell line) with a hard timeout. ``stdin`` is bytes, or an
    open file the child reads by itself (a file of any size, never held in memory here).

    On timeout the whole process group is killed, so no child outlives the call here
    (a remote command behind flyctl or ssh may still run on: callers verify state afterwards).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    data = stdin if isinstance(stdin, bytes) else None
    child_stdin: int | BinaryIO = asyncio.subprocess.DEVNULL
    if data is not None:
        child_stdin = asyncio.subprocess.PIPE
    elif stdin is not None:
        child_stdin = stdin
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=child_stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ToolMissing(f"{what}: `{argv[0]}` was not found", hint=hint) from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except (TimeoutError, asyncio.CancelledError):
        await stop_group(proc)
        raise TimedOut(
            f"{what} did not finish within {timeout:g}s and was stopped", hint=hint, seconds=timeout
        ) from None
    seconds = loop.time() - started
    result = ShResult(
        redact(out.decode("utf-8", "replace")),
        redact(err.decode("utf-8", "replace")),
        proc.returncode if proc.returncode is not None else -1,
        seconds,
    )
    log.debug("%s exit=%s in %.2fs", what, result.exit_code, seconds)
    return result


async def stop_group(proc: asyncio.subprocess.Process) -> None:
    """Kill a timed-out (or cancelled) child's process group and reap it; a cancellation of the
    caller goes on as a cancellation."""
    kill_group(proc)
    await proc.wait()
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def phase_timeout_text(exc: OpsError, phase_timeout_s: float) -> str:
    """A phase's main step hit PHASE_TIMEOUT_S: say so, and what may still be running."""
    if isinstance(exc, TimedOut) and exc.seconds >= phase_timeout_s:
        return (f"{exc.message}: that is PHASE_TIMEOUT_S ({phase_timeout_s:g} s; raise it for a longer run). "
                "On the app host the sqlite3 session may still be running until it ends by itself")
    return exc.message


def script_for_stdin(script: str) -> bytes:
    """A script for ``sh -s`` on stdin. flyctl copies its stdin to the remote command and closes
    the remote stdin at EOF (ssh/io.go attachPipes); the final ``exit`` ends the shell even where
    an ssh layer would keep stdin open."""
    return (script.rstrip("\n") + "\nexit\n").encode("utf-8")


def filtered_env(source: dict[str, str] | None, keep: frozenset[str], prefixes: tuple[str, ...] = ()
                 ) -> dict[str, str]:
    """A child's environment: only the names it needs, so the bot's other secrets stay here."""
    source = dict(os.environ) if source is None else source
    return {k: v for k, v in source.items() if k in keep or k.startswith(prefixes)}
