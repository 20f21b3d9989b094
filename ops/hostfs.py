"""Small file facts on the app host (size, sha256, free space), through the Target's shell."""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
from dataclasses import dataclass

from ops.errors import OpsError
from ops.sqlite_cli import INSTALL_SQLITE_HINT, sh_quote
from ops.targets.base import Target
from ops.targets.upload import sha256_command

log = logging.getLogger(__name__)

FACT_TIMEOUT_S = 60.0
HASH_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class FileFacts:
    path: str
    bytes: int
    sha256: str


async def free_bytes(target: Target, path: str) -> int:
    """Bytes available to an unprivileged writer on the filesystem holding ``path``."""
    directory = posixpath.dirname(path) or "."
    result = await target.sh(f"df -Pk {sh_quote(directory)}", timeout=FACT_TIMEOUT_S)
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    fields = lines[-1].split() if lines else []
    if not result.ok or len(fields) < 4 or not fields[3].isdigit():
        raise OpsError(
            f"could not read the free space of {directory}: {result.stderr.strip()[:200]}",
            hint="Check that the directory exists on the app host.",
        )
    return int(fields[3]) * 1024


async def full_volume(target: Target, path: str, *, below: int = 1024 * 1024) -> int | None:
    """The free bytes of the volume holding ``path`` when fewer than ``below`` are left, else None
    (None too when even `df` cannot say: then it is not known to be full)."""
    try:
        free = await free_bytes(target, path)
    except OpsError:
        return None
    return free if free < below else None


MMAP_HEADROOM = 256 * 2**20  # memory left to everything else while a file is mapped


def mmap_budget(available: int, file_bytes: int) -> int:
    """How much of a file to memory-map for a long read (integrity_check): all of it when free
    memory holds it twice over, else none. Mapped beyond what memory holds, the read thrashes: in
    a 256 MiB container integrity_check went from ~20 s to over 120 s."""
    return file_bytes if file_bytes and available > 2 * file_bytes + MMAP_HEADROOM else 0


async def read_ahead(target: Target, path: str, budget: int) -> None:
    """Read ``path`` (and its -wal) once, front to back, into the page cache before a long
    checking read: integrity_check reads pages in descending order, which defeats read-ahead, so
    from a cold cache it ran at ~17 s/GiB against ~5 s/GiB warm. Only when the mmap budget says
    memory holds the file (``budget``); otherwise the pages would be gone before they are used.
    Failing to read ahead changes nothing: the check reads the file itself."""
    if not budget:
        return
    quoted, wal = sh_quote(path), sh_quote(path + "-wal")
    try:
        await target.sh(f"cat -- {quoted} > /dev/null; [ ! -f {wal} ] || cat -- {wal} > /dev/null",
                        timeout=HASH_TIMEOUT_S)
    except OpsError as exc:
        log.info("read-ahead of %s skipped: %s", path, exc.message)


async def memory_available(target: Target) -> int:
    """Free memory on the host as the kernel would give it to a new reader: MemAvailable, capped by
    the cgroup's limit (a container sees the machine's /proc/meminfo); 0 when unknown."""
    # kB as /proc/meminfo has it: awk (mawk) would print a product this large as 2.4e+10.
    # cgroup v2's files, else v1's in this process's own memory cgroup (limit and usage; v1's usage
    # counts the page cache too, so what is left is a low estimate: the safe side here).
    v1 = "\"/sys/fs/cgroup/memory$(awk -F: '$2 == \"memory\" {print $3}' /proc/self/cgroup 2>/dev/null)\""
    script = ("awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null; echo ---; "
              f"cat /sys/fs/cgroup/memory.max 2>/dev/null || cat {v1}/memory.limit_in_bytes 2>/dev/null; echo ---; "
              f"cat /sys/fs/cgroup/memory.current 2>/dev/null || cat {v1}/memory.usage_in_bytes 2>/dev/null")
    result = await target.sh(script, timeout=FACT_TIMEOUT_S)
    parts = [p.strip() for p in result.stdout.split("---")]
    if len(parts) != 3 or not parts[0].isdigit():
        return 0
    available = int(parts[0]) * 1024
    if parts[1].isdigit() and parts[2].isdigit():
        available = min(available, max(0, int(parts[1]) - int(parts[2])))
    return available


async def sizes(target: Target, *paths: str) -> dict[str, int]:
    """Sizes of the files that exist (missing ones are left out)."""
    script = "".join(
        f"if [ -f {sh_quote(p)} ]; then printf '%s\\n' \"$(wc -c < {sh_quote(p)})\"; else echo -; fi\n"
        for p in paths
    )
    result = await target.sh(script, timeout=FACT_TIMEOUT_S)
    values = [ln.strip() for ln in result.stdout.splitlines() if re.fullmatch(r"\s*(\d+|-)\s*", ln)]
    if len(values) != len(paths):
        raise OpsError(f"could not read file sizes on the app host: {result.stderr.strip()[:200]}")
    return {p: int(v) for p, v in zip(paths, values, strict=True) if v != "-"}


async def facts(target: Target, path: str) -> FileFacts:
    quoted = sh_quote(path)
    # The same digest whichever tool the host has (and the same recipe Target.put checks with).
    script = f"wc -c < {quoted} && {sha256_command(quoted)}"
    result = await target.sh(script, timeout=HASH_TIMEOUT_S)
    size = re.search(r"^\s*(\d+)\s*$", result.stdout, re.MULTILINE)
    digest = re.search(r"^([0-9a-f]{64})\b", result.stdout, re.MULTILINE)
    if not result.ok or not size or not digest:
        raise OpsError(
            f"could not measure {path} on the app host: {result.stderr.strip()[:200] or 'no output'}",
            hint="The host needs wc and sha256sum or openssl (busybox has wc and sha256sum).",
        )
    return FileFacts(path, int(size.group(1)), digest.group(1))


def local_facts(path: str) -> FileFacts:
    """Size and sha256 of a file on this machine (run it in a thread: it reads the whole file)."""
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return FileFacts(path, os.path.getsize(path), digest)


async def remove(target: Target, *paths: str) -> None:
    """rm -f on the host; an rm that did not succeed is an OpsError (a file said removed is removed)."""
    if paths:
        result = await target.sh("rm -f -- " + " ".join(sh_quote(p) for p in paths), timeout=FACT_TIMEOUT_S)
        if not result.ok:
            raise OpsError(f"could not remove {', '.join(paths)}: {result.stderr.strip()[:200] or 'rm failed'}",
                           hint="Check the host (`status`) and remove it by hand if it is still there.")


async def move(target: Target, src: str, dst: str) -> None:
    """Rename without overwriting: an existing ``dst`` is an error, never replaced."""
    script = f"if [ -e {sh_quote(dst)} ]; then echo exists; exit 1; fi; mv -- {sh_quote(src)} {sh_quote(dst)}"
    result = await target.sh(script, timeout=FACT_TIMEOUT_S)
    if not result.ok:
        raise OpsError(f"could not rename {src} to {dst}: {(result.stdout + result.stderr).strip()[:200]}")


async def sqlite_version(target: Target) -> str:
    result = await target.sh("sqlite3 --version", timeout=FACT_TIMEOUT_S)
    if result.exit_code == 127 or not result.stdout.strip():
        raise OpsError(
            "the sqlite3 CLI is not installed on the app host",
            hint=INSTALL_SQLITE_HINT,
        )
    return result.stdout.split()[0]
