"""How long the runbook's migration holds the write lock, with the foreign-key check through the
child's index (ops.fk_check) and with the whole-database pragma, side by side on the same file.

    .venv/bin/python bench/fk_lock.py --size-mb 1024 [--rounds 3]

Each round restores the pristine database, then runs the real migration session (the sqlite3 CLI,
-safe, one transaction: ops.apply.apply_migration) and reads from its events how long the lock
was held; then the same with the app committing a row every 5 ms (tests/live/app_writer.py), whose
longest commit is the app's worst stall. Also printed, on the migrated file: the plain
`PRAGMA foreign_key_check` alone and the index path's statements alone, and `cp` + `sync` of the
file (the disk's own limit). Figures are medians. The app's own writers are not running here; see
bench_runbook.py for the app's stall.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_runbook import MIGRATION, MIGRATIONS, generate  # noqa: E402
from ops import fk_check  # noqa: E402
from ops.apply import apply_migration  # noqa: E402
from ops.migrations import load  # noqa: E402
from ops.schema import read_state  # noqa: E402
from ops.targets.local import LocalTarget  # noqa: E402
from tests.live.writer import app_writing  # noqa: E402


def timed(*argv: str, stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - start


def restore(db: Path, pristine: Path) -> None:
    shutil.copyfile(pristine, db)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


async def one_session(db: Path, pristine: Path, *, indexed: bool, restored: bool = False) -> tuple[float, float]:
    if not restored:
        restore(db, pristine)
    migration = load(MIGRATIONS, MIGRATION)
    before = await read_state(LocalTarget(), str(db), counts=False)
    if not indexed:  # the same session, written as for a host whose sqlite3 predates the plan
        before = replace(before, sqlite_version="3.30.0")
    start = time.perf_counter()
    outcome = await apply_migration(LocalTarget(), str(db), migration, before=before, busy_timeout_ms=5000,
                                    timeout=3600)
    took = time.perf_counter() - start
    if not outcome.committed or bool(outcome.fk_indexed) != indexed:
        raise SystemExit(f"the migration did not run as asked: {outcome.error or outcome.fk_indexed}")
    return outcome.seconds, took


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="opsbot-fk-"))
    try:
        db, pristine = root / "data" / "app.db", root / "pristine.db"
        counts, _ = generate(db, pristine, args.size_mb)
        print(f"{args.size_mb} MiB, {counts.get('activity_logs', 0):,} activity_logs rows")
        results: dict[str, list[float]] = {"index path": [], "pragma": []}
        for _ in range(args.rounds):
            for name, indexed in (("pragma", False), ("index path", True)):
                lock, _ = await one_session(db, pristine, indexed=indexed)
                results[name].append(lock)
        stalls: dict[str, list[float]] = {"index path": [], "pragma": []}
        for _ in range(args.rounds):
            for name, indexed in (("pragma", False), ("index path", True)):
                restore(db, pristine)
                with app_writing(db, 5) as app:
                    await asyncio.sleep(0.5)
                    await one_session(db, pristine, indexed=indexed, restored=True)
                    await asyncio.sleep(0.5)
                stalls[name].append(app.worst_s)
        restore(db, pristine)
        await one_session(db, pristine, indexed=True)
        migrated = root / "migrated.db"
        shutil.copyfile(db, migrated)
        timed("sqlite3", str(migrated), "PRAGMA wal_checkpoint(TRUNCATE);")
        before = await read_state(LocalTarget(), str(pristine), counts=False)
        keys = fk_check.indexed_keys(before, load(MIGRATIONS, MIGRATION), before.table_infos)
        statements = "\n".join(fk_check.check_sql(keys, "temp._opsbot_fk", 20))
        alone = {
            "PRAGMA foreign_key_check alone": statistics.median(
                timed("sqlite3", str(migrated), "PRAGMA foreign_key_check;") for _ in range(args.rounds)),
            "index path's statements alone": statistics.median(
                timed("sqlite3", str(migrated), stdin=statements) for _ in range(args.rounds)),
            "cp + sync (the disk)": statistics.median(
                timed("sh", "-c", 'cp "$1" "$2" && sync "$2"', "sh", str(migrated), str(root / "cp.db"))
                for _ in range(args.rounds)),
        }
        print(f"{'write lock held (BEGIN IMMEDIATE .. COMMIT)':<48} median of {args.rounds}")
        for name, values in results.items():
            print(f"  {name:<46} {statistics.median(values):7.3f} s   ({', '.join(f'{v:.3f}' for v in values)})")
        for name, value in alone.items():
            print(f"  {name:<46} {value:7.3f} s")
        print("the app's worst commit during the session (every 5 ms)")
        for name, values in stalls.items():
            print(f"  {name:<46} {statistics.median(values):7.3f} s   ({', '.join(f'{v:.3f}' for v in values)})")
        print(f"  writers wait {statistics.median(results['pragma']) - statistics.median(results['index path']):.3f}"
              " s less with the index path")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
