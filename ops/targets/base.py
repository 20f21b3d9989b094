"""What a phase needs from the host that runs the app: a POSIX shell, a file copy, a restart."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ops.errors import OpsError
from ops.redact import redact

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ShResult:
    stdout: str
    stderr: str
    exit_code: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Machine:
    id: str
    state: str
    region: str = ""
    name: str = ""


class Target(Protocol):
    """The app host. Every phase is sh + sqlite3 CLI run through one of these."""

    name: str

    async def sh(self, script: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> ShResult:
        """Run ``script`` with ``sh -s``: the script reaches the host on stdin, whatever its size."""
        ...

    async def fetch(self, remote: str, local: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> None: ...

    async def restart(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> str: ...

    async def machines(self) -> list[Machine]: ...

    async def logs(self, lines: int, *, timeout: float = 30.0) -> list[str]: ...


async def run_argv(
    argv: list[str],
    *,
    stdin: bytes | None = None,
    timeout: float,
    env: dict[str, str] | None = None,
    what: str,
    hint: str,
) -> ShResult:
    """Run an argument list (never a shell line) with a hard timeout.

    On timeout the whole process group is killed, so no child outlives the call here
    (a remote command behind flyctl may still run on: callers verify state afterwards).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise OpsError(f"{what}: `{argv[0]}` was not found", hint=hint) from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except (TimeoutError, asyncio.CancelledError):
        _kill_group(proc)
        await proc.wait()
        if asyncio.current_task() is not None and asyncio.current_task().cancelling():
            raise
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


class TimedOut(OpsError):
    """An external command ran out of its time and was killed (its process group, here)."""

    def __init__(self, message: str, *, hint: str = "", seconds: float = 0.0) -> None:
        super().__init__(message, hint=hint)
        self.seconds = seconds


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


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
