"""How a finished local file reaches the app host (``Target.put``), the same way on every target.

1. ``begin``: refuse a remote path that looks like a flag or names an existing file, measure the
   local file (size, sha256), and on the host remove a stale partial of ours and read the free
   space beside ``remote``.
2. The target streams the file into ``remote + PARTIAL_SUFFIX`` (a plain copy here; on a remote
   host the file goes on stdin to ``STREAM_SCRIPT``).
3. ``finish``: on the host, hash what arrived; only if size and sha256 match the local file's is it
   linked into place (``ln`` refuses an existing name atomically), else the partial is removed.

Every script answers with an ``opsbot-put WORD …`` line on stdout and exits 0: flyctl turns every
remote non-zero exit into 1 (DESIGN rule 7), so exit codes carry nothing here. ``put_file``
removes the partial whenever the stream fails, and says so in the hint when even that failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ops.errors import OpsError
from ops.targets.base import DestinationExists, DiskFull, HostUnreachable, ShResult, TransferFailed
from ops.units import short_hash

if TYPE_CHECKING:
    from ops.targets.base import Target

log = logging.getLogger(__name__)

# A file being written on the host: listings skip it (ops.backups) and nothing renames it unchecked.
PARTIAL_SUFFIX = ".opsbot-partial"
TRANSFER_TIMEOUT_S = 1800.0  # the stream itself, when the caller gives no timeout
PREPARE_TIMEOUT_S = 60.0
FINISH_TIMEOUT_S = 900.0  # hashing a large file on a small machine
DISCARD_TIMEOUT_S = 30.0
# The one remote command a stream runs: its own words, with the partial's path as "$1". No shell
# runs it on Fly (`-C` is split into words), so the redirection lives inside `sh -c`.
STREAM_SCRIPT = 'cat > "$1"'
_STATUS = re.compile(r"^opsbot-put (\S+)(?: (.*))?$", re.MULTILINE)


def sha256_command(quoted_path: str) -> str:
    """sha256 of a file on the host; openssl uses the CPU's SHA extensions (about 4x faster than
    coreutils' sha256sum on a GiB), same digest. Prints the hex digest first on its line."""
    return (f"if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r < {quoted_path}; "
            f"else sha256sum < {quoted_path}; fi")


@dataclass(frozen=True)
class Upload:
    local: Path
    remote: str
    bytes: int
    sha256: str

    @property
    def partial(self) -> str:
        return self.remote + PARTIAL_SUFFIX

    def stream_argv(self) -> list[str]:
        """The remote command that writes stdin into the partial file."""
        return ["sh", "-c", STREAM_SCRIPT, "sh", self.partial]

    def stream_command(self) -> str:
        """``stream_argv`` as one line: what flyctl's `-C` splits with shell-words rules and what
        ssh hands to the remote login shell. shlex.quote leaves only bare safe words and single-
        quoted strings (a ' becomes '"'"'), which both read back to the same words."""
        line = shlex.join(self.stream_argv())
        if shlex.split(line) != self.stream_argv():
            raise OpsError(f"cannot quote the path {self.partial!r} for the host", hint="Choose another path.")
        return line


Stream = Callable[[Upload], Awaitable[None]]


async def put_file(target: Target, local: Path, remote: str, stream: Stream) -> None:
    """The whole of ``Target.put``: ``stream`` copies ``upload.local`` into ``upload.partial`` and
    raises a typed error when the copy failed."""
    upload = await begin(target, local, remote)
    try:
        await stream(upload)
    except BaseException as exc:
        await discard(target, upload, exc)
        raise
    await finish(target, upload)


async def begin(target: Target, local: Path, remote: str) -> Upload:
    if not remote or remote.startswith("-") or remote.endswith("/"):
        raise OpsError(f"remote path {remote!r} is not a file name (or looks like a flag)",
                       hint="Use an absolute path on the app host, e.g. /data/app.db.restore-copy.")
    if not local.is_file():
        raise OpsError(f"{local} is not a file here", hint="Check the path of the copy to upload.")
    size, digest = await asyncio.to_thread(_measure, local)
    upload = Upload(local, remote, size, digest)
    result = await target.sh(_prepare_script(upload), timeout=PREPARE_TIMEOUT_S)
    word, rest = _status(result)
    if word == "exists":
        raise DestinationExists(f"{remote} already exists on {target.describe()}",
                                hint="opsbot never overwrites a file on the host: remove it or choose another path.")
    if word == "nodir":
        raise OpsError(f"there is no directory {_directory(remote)} on {target.describe()}",
                       hint="Check the remote path.")
    if word != "ready":
        raise _no_answer(result, f"preparing the upload of {local} to {remote}")
    free = int(rest) * 1024 if rest.strip().isdigit() else None
    if free is not None and free < size:
        raise DiskFull(f"no room for {local.name} ({size} bytes) in {_directory(remote)} on {target.describe()}: "
                       f"{free} bytes free", hint=f"Free space or {target.grow_volume_text()}, then retry.")
    return upload


async def finish(target: Target, upload: Upload) -> None:
    """Verify what arrived and link it into place, or remove it."""
    result = await target.sh(_finish_script(upload), timeout=FINISH_TIMEOUT_S)
    word, rest = _status(result)
    if word == "done":
        log.info("put %s to %s (%d bytes, sha256 %s)", upload.local, upload.remote, upload.bytes,
                 short_hash(upload.sha256))
        return
    if word in ("short", "damaged"):
        what = (f"{rest} of {upload.bytes} bytes arrived" if word == "short"
                else f"its sha256 on the host is {short_hash(rest)}, not {short_hash(upload.sha256)}")
        raise TransferFailed(f"the upload of {upload.local} to {upload.remote} was not whole: {what}",
                             hint="The partial copy was removed and nothing was put in place; retry the upload.")
    if word == "missing":
        raise TransferFailed(f"nothing of {upload.local} arrived at {upload.partial} on {target.describe()}",
                             hint="Nothing was put in place; retry the upload.")
    if word == "exists":
        raise DestinationExists(f"{upload.remote} appeared on {target.describe()} during the upload",
                                hint="It was left as it is and the upload was removed: check who wrote it.")
    error = _no_answer(result, f"putting {upload.remote} in place")
    await discard(target, upload, error)
    raise error


async def discard(target: Target, upload: Upload, exc: BaseException) -> None:
    """Remove the partial file (every error a put raises says "nothing was put in place"); when even
    that fails, the error's hint says where the partial file is."""
    try:
        result = await target.sh(f"rm -f -- {shlex.quote(upload.partial)}", timeout=DISCARD_TIMEOUT_S)
        if result.ok:
            return
        reason = result.stderr.strip()[:200] or f"exit {result.exit_code}"
    except OpsError as cleanup:
        reason = cleanup.message
    log.warning("could not remove %s: %s", upload.partial, reason)
    if isinstance(exc, OpsError):
        exc.hint = (exc.hint + " " if exc.hint else "") + (
            f"A partial file may be left at {upload.partial} on the host: remove it by hand.")


def stream_refused(target: Target, upload: Upload, remote_error: str) -> OpsError:
    """The stream's remote command failed (the connection held): a full volume, a path it cannot write."""
    if "No space left on device" in remote_error:
        return DiskFull(f"the volume of {upload.remote} on {target.describe()} filled up during the upload",
                        hint=f"Nothing was put in place; free space or {target.grow_volume_text()}, then retry.")
    return OpsError(f"uploading {upload.local} to {upload.remote} failed: {remote_error or 'no error text'}",
                    hint="Nothing was put in place; check the path and its permissions on the host, then retry.")


def stream_lost(target: Target, upload: Upload, detail: str) -> HostUnreachable:
    return HostUnreachable(f"the connection to {target.describe()} was lost while uploading {upload.local} ({detail})",
                           hint="Nothing was put in place; retry the upload when the host answers.")


# --- the scripts -------------------------------------------------------------------------------


def _prepare_script(upload: Upload) -> str:
    f, p, d = (shlex.quote(x) for x in (upload.remote, upload.partial, _directory(upload.remote)))
    return "\n".join([
        f"if [ -e {f} ] || [ -L {f} ]; then echo 'opsbot-put exists'; exit 0; fi",
        f"if [ ! -d {d} ]; then echo 'opsbot-put nodir'; exit 0; fi",
        f"rm -f -- {p} || exit 1",
        f"free=$(df -Pk {d} 2>/dev/null | awk 'END {{print $4}}')",
        'echo "opsbot-put ready ${free:--}"',
    ])


def _finish_script(upload: Upload) -> str:
    f, p = shlex.quote(upload.remote), shlex.quote(upload.partial)
    # String comparisons, never `-ne`: a failed wc or hash leaves "" (or an error from `[`) and
    # must refuse, not pass: only an exact match goes on.
    return "\n".join([
        f"if [ ! -f {p} ]; then echo 'opsbot-put missing'; exit 0; fi",
        f"n=$(wc -c < {p})",
        # The size first: a short file is refused without reading it all again.
        f'if [ "$n" != {upload.bytes} ]; then rm -f -- {p}; echo "opsbot-put short ${{n:-?}}"; exit 0; fi',
        f"h=$({sha256_command(p)})",
        "h=${h%% *}",
        f"if [ -z \"$h\" ]; then rm -f -- {p}; echo 'opsbot-put nohash'; exit 0; fi",
        f'if [ "$h" != {upload.sha256} ]; then rm -f -- {p}; echo "opsbot-put damaged ${{h:-?}}"; exit 0; fi',
        f"sync -- {p} 2>/dev/null || sync",
        # ln refuses an existing name atomically (mv would replace it); a filesystem without hard
        # links falls back to mv after one more look.
        f"if ln -- {p} {f} 2>/dev/null; then rm -f -- {p}",
        f"elif [ -e {f} ] || [ -L {f} ]; then rm -f -- {p}; echo 'opsbot-put exists'; exit 0",
        f"else mv -- {p} {f} || exit 1",
        "fi",
        "echo 'opsbot-put done'",
    ])


def _status(result: ShResult) -> tuple[str, str]:
    found = _STATUS.findall(result.stdout)
    return found[-1] if found and result.ok else ("", "")


def _no_answer(result: ShResult, what: str) -> OpsError:
    reason = result.stderr.strip().splitlines()[-1][:200] if result.stderr.strip() else f"exit {result.exit_code}"
    if result.session_lost:
        return HostUnreachable(f"{what}: the connection to the host was lost ({reason})",
                               hint="Check whether the file is in place on the host before retrying.")
    return OpsError(f"{what} failed: {reason}", hint="The host needs sh, wc, ln and sha256sum or openssl; "
                    "check the path and its permissions there.")


def _directory(remote: str) -> str:
    return posixpath.dirname(remote) or "."


def _measure(path: Path) -> tuple[int, str]:
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        return fh.tell(), digest.hexdigest()
