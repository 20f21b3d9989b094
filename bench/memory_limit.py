"""integrity_check and opsbot's backup in a small memory limit, with and without mmap.

    sudo .venv/bin/python bench/memory_limit.py [--size-mb 1024] [--limit-mb 256]

A Fly machine of 256 MiB holds a fraction of a 1 GiB database in its page cache. This runs, inside
a memory cgroup of ``--limit-mb`` (cgroup v1 or v2; needs root to create it), side by side on the
same file: `cat` of the file (the disk's own rate), `PRAGMA integrity_check` with mmap off and with
mmap_size = the file, and opsbot's backup (whose mmap gate reads the limit and turns mmap off).
Then the same outside the limit. Each figure is the second of two runs. Nothing is asserted. The
file is generated outside the limit, so its pages are already cached when the reads run: the
reads are warm either way; writing a new copy is what the limit slows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ops import demo_data  # noqa: E402

NOTE_BYTES, ROW_BYTES = 900, 1058

BACKUP = """
import asyncio, sys
from pathlib import Path
from ops.backup import run_backup
from ops.context import Engine
from ops.journal import Journal
from ops.targets.local import LocalTarget

async def main():
    journal = await Journal.open(sys.argv[2])
    engine = Engine(target=LocalTarget(), journal=journal, db_path=sys.argv[1], migrations_dir=Path("."),
                    work_dir=Path(sys.argv[2]).parent / "work")
    try:
        result = await run_backup(engine, label="membench")
        Path(result.path).unlink()
    finally:
        await journal.close()

asyncio.run(main())
"""


def cgroup(limit: int) -> tuple[Path, str]:
    """A memory cgroup with this limit: (its directory, the procs file to join it)."""
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if v2.exists() and "memory" in v2.read_text():
        group = Path("/sys/fs/cgroup/opsbot-bench")
        group.mkdir(exist_ok=True)
        (group / "memory.max").write_text(str(limit))
        return group, "cgroup.procs"
    group = Path("/sys/fs/cgroup/memory/opsbot-bench")
    group.mkdir(exist_ok=True)
    (group / "memory.limit_in_bytes").write_text(str(limit))
    return group, "cgroup.procs"


def timed(argv: list[str], group: Path | None, procs: str) -> float:
    """Seconds of the second of two runs of ``argv``, inside ``group`` when given."""
    took = 0.0
    for _ in range(2):
        if group is not None:
            # Join the cgroup in the child before it execs (sh writes its own pid).
            argv_in = ["sh", "-c", f'echo $$ > {group / procs}; exec "$@"', "sh", *argv]
        else:
            argv_in = argv
        start = time.perf_counter()
        done = subprocess.run(argv_in, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        took = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"{argv[:3]} exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--limit-mb", type=int, default=256)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root to create a memory cgroup")
    root = Path(tempfile.mkdtemp(prefix="opsbot-mem-"))
    group = None
    try:
        db = root / "app.db"
        logs = max(1000, args.size_mb * 2**20 // ROW_BYTES)
        demo_data.create(db, users=max(200, logs // 50), logs=logs, note_bytes=NOTE_BYTES, wal=True)
        subprocess.run(["sqlite3", str(db), "PRAGMA wal_checkpoint(TRUNCATE)"], capture_output=True, check=True)
        size = db.stat().st_size
        group, procs = cgroup(args.limit_mb * 2**20)
        journal = root / "state" / "opsbot.db"
        journal.parent.mkdir()
        copy = root / "copy.db"
        jobs = {
            "cat (the disk's rate)": ["cat", str(db)],
            "cp to a new file (writing 1 copy)": ["sh", "-c", f'rm -f "{copy}"; cp "{db}" "{copy}"'],
            "sqlite3 .backup to a new file": ["sh", "-c", f'rm -f "{copy}"; sqlite3 "{db}" ".backup \'{copy}\'"'],
            "integrity_check, mmap off": ["sqlite3", str(db), "PRAGMA integrity_check"],
            "integrity_check, mmap = file": ["sqlite3", str(db), f"PRAGMA mmap_size={size}",
                                             "PRAGMA integrity_check"],
            # opsbot's backup verifies the copy it has just written: inside the limit that copy's pages
            # cannot stay cached, so the checks read it back from the disk
            ".backup, then integrity_check of it": ["sh", "-c", f'rm -f "{copy}"; sqlite3 "{db}" ".backup \'{copy}\'" '
                                                    f'&& sqlite3 "{copy}" "PRAGMA integrity_check"'],
            ".backup, then sha256sum of it": ["sh", "-c", f'rm -f "{copy}"; sqlite3 "{db}" ".backup \'{copy}\'" '
                                              f'&& sha256sum "{copy}"'],
            "opsbot backup (mmap gated)": [sys.executable, "-c", BACKUP, str(db), str(journal)],
        }
        print(f"{size / 2**20:.0f} MiB database; memory limit {args.limit_mb} MiB vs none")
        for name, argv in jobs.items():
            inside = timed(argv, group, procs)
            outside = timed(argv, None, procs)
            print(f"  {name:32} {inside:7.1f} s in {args.limit_mb} MiB   {outside:7.1f} s without a limit")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if group is not None:
            try:
                group.rmdir()
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
