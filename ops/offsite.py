"""Backups that outlive the volume: a second copy of each pre-migration backup off the app host.

While a backup is verified on the host, it is fetched to this machine (the bot's own volume: by
default ``backups/<environment>/`` beside the journal), under a temporary name first; only a copy
whose sha256 equals the host's verified one is renamed into place and recorded in the journal
beside the host's path. A rollback that finds the host's copy missing or damaged restores from
this one (ops.rollback).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ops import hostfs
from ops.context import Run
from ops.errors import OpsError
from ops.journal import BackupRecord
from ops.reporter import Status
from ops.units import short_hash, size

log = logging.getLogger(__name__)
PARTIAL = ".partial"


@dataclass(frozen=True)
class Offsite:
    path: str
    sha256: str


class OffsiteFailed(OpsError):
    """The second copy could not be made: nothing was changed."""


STEP = "off-host copy"


@dataclass(frozen=True)
class Copied:
    """A copy fetched off the host under its temporary name, not yet checked against the backup."""

    partial: Path
    dest: Path
    facts: hostfs.FileFacts
    started: float


async def fetch_copy(run: Run, source: str, name: str, need: int) -> Copied:
    """Fetch ``source`` off the host as ``name``'s temporary copy, refused unless ``need`` bytes are
    free here (the backup's own estimate, ops.backup.ensure_space). It runs beside the backup's
    verification (ops.backup.take_backup): both only read the file, and nothing is trusted until
    settle_copy has compared the copy's sha256 with the verified one."""
    engine = run.engine
    folder = engine.offsite_dir
    dest = folder / name
    partial = dest.with_name(dest.name + PARTIAL)
    started = time.monotonic()
    run.step(STEP, Status.RUNNING, f"a second copy of {dest.name} on this machine")
    try:
        try:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            free = (await asyncio.to_thread(shutil.disk_usage, folder)).free
        except OSError as exc:
            raise OffsiteFailed(f"the folder for off-host copies cannot be used: {exc.strerror or exc}",
                                hint="Nothing was changed. Check OFFSITE_DIR (or the state folder) is writable."
                                ) from exc
        if free < need:
            raise OffsiteFailed(
                f"no room for the off-host copy here: {size(free)} free, {size(need)} needed",
                hint="Nothing was changed. Free space on the bot's volume (old copies under the backups "
                     "folder, or KEEP_BACKUPS_OFFSITE lower), or grow it, then run again.")
        await asyncio.to_thread(_remove, partial)  # a copy a killed run left unfinished
        try:
            if engine.target.here:  # one pass: the copy and its sha256 read the file once
                facts = await asyncio.to_thread(_copy_hashing, Path(source), partial)
            else:
                await engine.target.fetch(source, partial, timeout=engine.phase_timeout_s)
                facts = await asyncio.to_thread(hostfs.local_facts, str(partial))
        except OpsError as exc:
            raise OffsiteFailed(f"the off-host copy could not be made: {exc.message}",
                                hint="Nothing was changed. Check the connection (`status`), then run again."
                                ) from exc
    except BaseException as exc:  # cancelled too (the verification beside it failed)
        await asyncio.to_thread(_remove, partial)
        run.step(STEP, Status.FAILED, exc.message if isinstance(exc, OpsError) else "stopped")
        raise
    return Copied(partial, dest, facts, started)


async def settle_copy(run: Run, copied: Copied, record: BackupRecord) -> Offsite:
    """Only a copy whose sha256 is the verified backup's goes in place and into the journal."""
    engine, facts = run.engine, copied.facts
    try:
        if facts.sha256 != record.sha256:
            raise OffsiteFailed(
                f"the off-host copy does not match the backup (sha256 {short_hash(facts.sha256)}, host "
                f"{short_hash(record.sha256)}, {facts.bytes}/{record.bytes} bytes)",
                hint="Nothing was changed. The transfer was cut short or the file changed: run again.")
        await asyncio.to_thread(_settle, copied.partial, copied.dest)
        await engine.journal.record_offsite(engine.key, record.path, str(copied.dest), facts.sha256)
    except BaseException as exc:
        await asyncio.to_thread(_remove, copied.partial)
        run.step(STEP, Status.FAILED, exc.message if isinstance(exc, OpsError) else "stopped")
        raise
    took = time.monotonic() - copied.started
    run.step(STEP, Status.DONE, f"{size(facts.bytes)}, sha256 matches the host's ({took:.1f}s)")
    return Offsite(str(copied.dest), facts.sha256)


async def drop(run: Run, copied: Copied) -> None:
    """A fetched copy whose backup did not make it (its checks failed, or the rename): not kept."""
    await asyncio.to_thread(_remove, copied.partial)
    run.step(STEP, Status.FAILED, "not kept: the backup it copies did not pass")


def _copy_hashing(source: Path, dest: Path) -> hostfs.FileFacts:
    """Copy ``source`` to a new ``dest`` and hash what was written, in one read of the file."""
    digest, total = hashlib.sha256(), 0
    with open(source, "rb") as src, open(dest, "xb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
            digest.update(chunk)
            total += len(chunk)
    return hostfs.FileFacts(str(dest), total, digest.hexdigest())


def _settle(partial: Path, dest: Path) -> None:
    """Flush the copy to disk, then put it in place: a crash leaves a partial, never a short copy."""
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, dest)
    dirfd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def check_copy(record: BackupRecord) -> str:
    """"" when the recorded off-host copy is there with its sha256; else what is wrong."""
    if not record.offsite_path:
        return "there is no off-host copy"
    if not os.path.exists(record.offsite_path):
        return f"the off-host copy {Path(record.offsite_path).name} is gone"
    facts = hostfs.local_facts(record.offsite_path)
    if facts.sha256 != (record.offsite_sha256 or record.sha256):
        return f"the off-host copy changed since it was made (sha256 {short_hash(facts.sha256)})"
    return ""
