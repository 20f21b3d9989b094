"""Where a rollback restores from: the backup on the host, or, when that one is gone or damaged,
its off-host copy (ops.offsite) uploaded beside the database and verified there first."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from ops import hostfs
from ops.backup import ensure_space, verify_file
from ops.context import Run, Step
from ops.errors import OpsError
from ops.journal import BackupRecord
from ops.offsite import check_copy
from ops.reporter import Status
from ops.units import short_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """What a restore reads on the host: the backup itself, or its off-host copy uploaded beside
    the database under a temporary name (removed once the restore is over)."""

    path: str
    origin: str  # "host" | "offsite"

    @property
    def temporary(self) -> bool:
        return self.origin == "offsite"


async def stage_for_restore(run: Run, entry_path: str, why: str) -> tuple[BackupRecord, Source] | None:
    """Upload the off-host copy of the backup at ``entry_path`` beside the database and verify it
    there (size and sha256 by the upload, integrity_check and the recorded sha256 here); None
    when there is no usable copy. ``why``: what is wrong with the host's copy."""
    engine = run.engine
    known = await engine.journal.backup(engine.key, entry_path)
    if known is None or not known.offsite_path:
        return None
    problem = await asyncio.to_thread(check_copy, known)
    if problem:
        run.step("off-host copy", Status.FAILED, problem)
        return None
    run.step("off-host copy", Status.WARNING, f"{why}: restoring from the copy kept off the host instead")
    remote = f"{engine.db_path}.opsbot-offsite-{secrets.token_hex(6)}"
    await ensure_space(run, engine.db_path, remote)
    async with Step(run, "upload", f"the off-host copy → {Path(remote).name} beside the database"):
        try:
            await engine.target.put(Path(known.offsite_path), remote, timeout=engine.phase_timeout_s)
        except OpsError as exc:
            raise OpsError(f"the off-host copy could not be uploaded: {exc.message}",
                           hint="Nothing was changed. Check the connection (`status`), then run rollback again."
                           ) from exc
    try:
        record, _ = await verify_file(run, remote, step_name="check off-host copy")
        if record.sha256 != known.sha256:
            raise OpsError(f"the uploaded copy is not the backup (sha256 {short_hash(record.sha256)}, recorded "
                           f"{short_hash(known.sha256)})", hint="Nothing was changed; run rollback again.")
    except BaseException:
        await remove_staged(run, Source(remote, "offsite"))
        raise
    return replace(known, integrity=record.integrity), Source(remote, "offsite")


async def remove_staged(run: Run, source: Source) -> None:
    if not source.temporary:
        return
    try:
        await hostfs.remove(run.engine.target, source.path, *(source.path + s for s in ("-journal", "-wal", "-shm")))
    except OpsError as exc:
        log.warning("could not remove the uploaded copy %s: %s", source.path, exc.message)
        run.step("upload", Status.WARNING, f"the uploaded copy {source.path} is still on the host (it takes "
                                           f"room; remove it by hand): {exc.message}")
