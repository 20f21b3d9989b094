"""Backups that outlive the volume: a second copy of each pre-migration backup off the app host.

After a backup is verified on the host, it is fetched to this machine (the bot's own volume: by
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
from dataclasses import dataclass
from pathlib import Path

from ops import hostfs
from ops.context import Run, Step
from ops.errors import OpsError
from ops.journal import BackupRecord
from ops.units import short_hash, size

log = logging.getLogger(__name__)
PARTIAL = ".partial"


@dataclass(frozen=True)
class Offsite:
    path: str
    sha256: str


class OffsiteFailed(OpsError):
    """The second copy could not be made: nothing was changed."""


async def copy_off_host(run: Run, record: BackupRecord) -> Offsite:
    engine = run.engine
    folder = engine.offsite_dir
    dest = folder / Path(record.path).name
    partial = dest.with_name(dest.name + PARTIAL)
    async with Step(run, "off-host copy", f"a second copy of {dest.name} on this machine") as step:
        try:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            free = (await asyncio.to_thread(shutil.disk_usage, folder)).free
        except OSError as exc:
            raise OffsiteFailed(f"the folder for off-host copies cannot be used: {exc.strerror or exc}",
                                hint="Nothing was changed. Check OFFSITE_DIR (or the state folder) is writable."
                                ) from exc
        need = int(record.bytes * engine.free_space_margin) + 1024 * 1024
        if free < need:
            raise OffsiteFailed(
                f"no room for the off-host copy here: {size(free)} free, {size(need)} needed",
                hint="Nothing was changed. Free space on the bot's volume (old copies under the backups "
                     "folder, or KEEP_BACKUPS_OFFSITE lower), or grow it, then run again.")
        await asyncio.to_thread(_remove, partial)  # a copy a killed run left unfinished
        try:
            if engine.target.here:  # one pass: the copy and its sha256 read the file once
                facts = await asyncio.to_thread(_copy_hashing, Path(record.path), partial)
            else:
                await engine.target.fetch(record.path, partial, timeout=engine.phase_timeout_s)
                facts = await asyncio.to_thread(hostfs.local_facts, str(partial))
            if facts.sha256 != record.sha256:
                raise OffsiteFailed(
                    f"the off-host copy does not match the backup (sha256 {short_hash(facts.sha256)}, host "
                    f"{short_hash(record.sha256)}, {facts.bytes}/{record.bytes} bytes)",
                    hint="Nothing was changed. The transfer was cut short or the file changed: run again.")
            await asyncio.to_thread(_settle, partial, dest)
        except OpsError as exc:
            await asyncio.to_thread(_remove, partial)
            if isinstance(exc, OffsiteFailed):
                raise
            raise OffsiteFailed(f"the off-host copy could not be made: {exc.message}",
                                hint="Nothing was changed. Check the connection (`status`), then run again."
                                ) from exc
        except BaseException:
            await asyncio.to_thread(_remove, partial)
            raise
        await engine.journal.record_offsite(engine.key, record.path, str(dest), facts.sha256)
        step.detail = f"{size(facts.bytes)}, sha256 matches the host's"
    return Offsite(str(dest), facts.sha256)


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
