"""Phase: list the backups beside the database, newest first by the timestamp in the name.

Backups made by hand from the runbook (`cp /data/app.db /data/app.db.pre-X-$(date …)`) match
the same naming and are listed too; the journal knows which ones opsbot verified.
"""

from __future__ import annotations

import posixpath
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from ops.context import Engine
from ops.errors import OpsError
from ops.journal import BackupRecord
from ops.sqlite_cli import sh_quote
from ops.targets.upload import PARTIAL_SUFFIX

STAMP_RE = re.compile(r"\.pre-(?P<label>[A-Za-z0-9._-]+?)-(?P<stamp>\d{8}_\d{6})$")


@dataclass(frozen=True)
class BackupEntry:
    path: str
    label: str
    stamp: str
    bytes: int
    verified: str  # "ok", an integrity message, or "" when opsbot never verified it
    sha256: str
    recorded_at: float = 0.0  # when opsbot took it (orders backups made in the same second)
    offsite_path: str = ""  # its second copy off the app host (ops.offsite), if any
    on_host: bool = True  # False: gone from the host; only its off-host copy is left

    @property
    def taken_at(self) -> float:
        return time.mktime(time.strptime(self.stamp, "%Y%m%d_%H%M%S")) - time.timezone

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BackupsResult:
    ok: bool
    db: str
    backups: tuple[BackupEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "db": self.db, "backups": [b.to_dict() for b in self.backups]}


def parse_listing(db: str, stdout: str) -> list[tuple[str, int]]:
    found = []
    for line in stdout.splitlines():
        size, _, path = line.partition(" ")
        if size.isdigit() and path.startswith(db + ".pre-") and not path.endswith(PARTIAL_SUFFIX):
            found.append((path, int(size)))
    return found


def _entry(path: str, size: int, record: BackupRecord | None, *, on_host: bool = True) -> BackupEntry | None:
    match = STAMP_RE.search(path)
    if not match:
        return None
    return BackupEntry(
        path=path, label=match.group("label"), stamp=match.group("stamp"), bytes=size,
        verified=record.integrity if record else "", sha256=record.sha256 if record else "",
        recorded_at=record.created_at if record else 0.0, offsite_path=record.offsite_path if record else "",
        on_host=on_host,
    )


def _newest_first(entries: list[BackupEntry]) -> tuple[BackupEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (e.stamp, e.recorded_at, e.path), reverse=True))


async def recorded_backups(engine: Engine) -> BackupsResult:
    """The backups of this database the journal knows, without asking the host (whose machines may
    all be stopped): what a rollback confirmation can show before anything is started."""
    known = await engine.journal.backups(engine.key)
    entries = [_entry(path, record.bytes, record) for path, record in known.items()
               if path.startswith(engine.db_path + ".pre-")]
    return BackupsResult(True, engine.db_path, _newest_first([e for e in entries if e is not None]))


async def list_backups(engine: Engine) -> BackupsResult:
    db = engine.db_path
    # The quoted prefix is literal; only `.pre-*` is a glob.
    script = (
        f"for f in {sh_quote(db)}.pre-*; do "
        '[ -f "$f" ] || continue; printf \'%s %s\\n\' "$(wc -c < "$f")" "$f"; done'
    )
    result = await engine.target.sh(script, timeout=60)
    if not result.ok:
        raise OpsError(f"could not list backups: {result.stderr.strip()[:200]}", hint="Check DB_PATH.")
    known = await engine.journal.backups(engine.key)
    listed = parse_listing(db, result.stdout)
    entries = [_entry(path, size, known.get(path)) for path, size in listed]
    # Gone from the host (a lost or cleaned volume) but kept off it: still a way back.
    on_host = {path for path, _ in listed}
    entries += [_entry(path, r.bytes, r, on_host=False) for path, r in known.items()
                if path not in on_host and r.offsite_path and path.startswith(db + ".pre-")]
    return BackupsResult(True, db, _newest_first([e for e in entries if e is not None]))
