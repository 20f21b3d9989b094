"""The app host is this machine: real mode when the bot runs beside the app, and the default
for the demo and the tests."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shlex
import shutil
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ops.errors import OpsError
from ops.targets.base import (
    DEFAULT_TIMEOUT_S,
    NOT_RESTARTED,
    DiskFull,
    Finding,
    Machine,
    ShResult,
    TargetSpec,
    TimedOut,
    passed,
    run_argv,
    script_for_stdin,
)
from ops.targets.upload import TRANSFER_TIMEOUT_S, Upload, put_file

if TYPE_CHECKING:
    from ops.sections import CoreSettings

SCRIPT_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TMPDIR", "TZ")
MACHINE_ID = "local"

log = logging.getLogger(__name__)


def script_env() -> dict[str, str]:
    """The environment of a shell step on this machine: nothing that could be a secret."""
    env = {k: os.environ[k] for k in SCRIPT_ENV_KEYS if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


async def run_app_command(command: str, *, name: str, verb: str, timeout: float = 120.0) -> None:
    """Run a configured command (RESTART_COMMAND, STOP_COMMAND, …) as an argument list, no shell."""
    if not command:
        raise OpsError(f"no {name} is configured for the local target", hint=f"Set {name} to the command that "
                       f"{verb}s the app (an argument list, run without a shell), or {verb} it by hand.")
    result = await run_argv(shlex.split(command), timeout=timeout, what=name,
                            hint=f"Check {name} and {verb} the app by hand.")
    if not result.ok:
        raise OpsError(f"{name} exited {result.exit_code}: {result.stderr.strip()[:300]}",
                       hint=f"{verb.capitalize()} the app by hand and check its logs.")


class LocalTarget:
    here = True

    def __init__(
        self, *, restart_command: str = "", stop_command: str = "", start_command: str = "", log_file: str = "",
        sh: str = "/bin/sh",
    ) -> None:
        self.name = "local"
        self.restart_command = restart_command
        self.stop_command = stop_command
        self.start_command = start_command
        self.log_file = log_file
        self._sh = sh

    async def sh(self, script: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> ShResult:
        # No secrets in a shell step's environment (the bot's tokens live in this process's):
        # what a script needs is a PATH, a locale and a temp dir.
        return await run_argv(
            [self._sh, "-s"],
            stdin=script_for_stdin(script),
            env=script_env(),
            timeout=timeout,
            what="a shell step on this machine",
            hint="Check that the database is not locked by a long transaction, then retry.",
        )

    async def fetch(self, remote: str, local: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Copy a finished file (a `.backup` snapshot) here. A file copy of a live WAL database
        can miss every commit still in `-wal` (DESIGN rule 1), so one with a `-wal` beside it is
        refused: take a `.backup` first."""
        if local.exists():
            raise OpsError(f"{local} already exists", hint="Remove it or choose another path.")
        if os.path.exists(remote + "-wal"):
            raise OpsError(f"{remote} is a live WAL database (it has a -wal file): a file copy could miss commits",
                           hint="Copy a `.backup` snapshot of it instead (preflight does this).")
        try:
            # A large snapshot takes seconds to copy: keep the event loop (and the bot) answering.
            await asyncio.wait_for(asyncio.to_thread(shutil.copyfile, remote, local), timeout)
        except TimeoutError as exc:
            local.unlink(missing_ok=True)
            raise OpsError(f"copying {remote} took longer than {timeout:g}s", hint="Check the disk.") from exc
        except OSError as exc:
            local.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise DiskFull(f"no room for a copy of {remote} at {local}",
                               hint="Free space under STATE_DB's directory, then retry.") from exc
            raise OpsError(f"could not copy {remote}: {exc.strerror}", hint="Check the path.") from exc

    async def put(self, local: Path, remote: str, *, timeout: float | None = None) -> None:
        """A plain copy into a partial file beside ``remote``, fsynced, then verified and linked
        into place by the same script as on a remote host (ops.targets.upload)."""
        limit = TRANSFER_TIMEOUT_S if timeout is None else timeout
        await put_file(self, local, remote, lambda upload: self._copy_in(upload, limit))

    async def _copy_in(self, upload: Upload, timeout: float) -> None:
        try:
            # Created before the thread starts, so a timed-out copy's partial is there to remove
            # (the thread may write on into the removed file; nothing renames it).
            out = open(upload.partial, "xb")  # the copying thread closes it
        except OSError as exc:
            raise OpsError(f"cannot write {upload.partial}: {exc.strerror}", hint="Check the path.") from exc
        try:
            await asyncio.wait_for(asyncio.to_thread(_copy_synced, upload.local, out), timeout)
        except TimeoutError:
            raise TimedOut(f"copying {upload.local} to {upload.partial} did not finish within {timeout:g}s",
                           hint="Check the disk, then retry.", seconds=timeout) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFull(f"no room for a copy of {upload.local} at {upload.remote}",
                               hint=f"Free space or {self.grow_volume_text()}, then retry.") from exc
            raise OpsError(f"could not copy {upload.local} to {upload.partial}: {exc.strerror}",
                           hint="Check the path.") from exc

    async def restart(self, *, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        if not self.restart_command:
            return NOT_RESTARTED
        await run_app_command(self.restart_command, name="RESTART_COMMAND", verb="restart", timeout=timeout)
        return "restarted with RESTART_COMMAND"

    async def stop(self, ids: list[str] | None = None) -> list[str]:
        await run_app_command(self.stop_command, name="STOP_COMMAND", verb="stop")
        return [MACHINE_ID]

    async def start(self, ids: list[str] | None = None) -> list[str]:
        await run_app_command(self.start_command, name="START_COMMAND", verb="start")
        return [MACHINE_ID]

    async def snapshot_volume(self) -> str:
        return ""  # no platform volume here: opsbot's own backups are the copies

    async def machines(self) -> list[Machine]:
        # The app's own state is not known here: this machine is up, so the host is "started".
        return [Machine(id=MACHINE_ID, state="started", region="local", name="this machine")]

    async def logs(self, lines: int, *, timeout: float = 30.0) -> list[str]:
        if not self.log_file:
            return []
        try:
            return await asyncio.to_thread(self._tail, lines)
        except OSError as exc:
            raise OpsError(
                f"could not read APP_LOG_FILE {self.log_file}: {exc.strerror}",
                hint="Set APP_LOG_FILE to the app's log file, or leave it empty.",
            ) from exc

    def _tail(self, lines: int) -> list[str]:
        with open(self.log_file, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]

    # --- wording ---------------------------------------------------------------------------

    def describe(self) -> str:
        return "this machine"

    def undo_stop_text(self, stopped: Sequence[str]) -> str:
        return "START_COMMAND by hand"

    def grow_volume_text(self) -> str:
        # Beside the app on a Fly machine, the disk is a Fly volume.
        return "grow the volume (`fly volumes extend` when it is a Fly volume)"

    def status_text(self) -> str:
        return "the app's logs on this machine" + (f" ({self.log_file})" if self.log_file else "")

    async def doctor(self) -> list[Finding]:
        return [passed("TARGET=local: the app host is this machine")]


def _copy_synced(source: Path, out: BinaryIO) -> None:
    """Copy, then fsync: the file is on disk before it is linked into place."""
    with out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def build(settings: CoreSettings) -> LocalTarget:
    c = settings.local
    return LocalTarget(restart_command=c.restart_command, stop_command=c.stop_command,
                       start_command=c.start_command, log_file=c.app_log_file)


SPEC = TargetSpec(name="local", build=build)
