"""A backup, a preflight snapshot and a migrate while the app keeps committing, against idle.

    .venv/bin/python bench/busy_backup.py [--size-mb 1024] [--keep]

Builds a timelogger database in WAL mode (ops.demo_data, as bench_runbook.py does), then, in one
run and on the same file:
- the disk's own limit (`dd` of the file to /dev/null, page cache warm) and `cp`;
- the bare `sqlite3 .backup` the runbook would run, idle and with the app writing (it gives up
  after a bound: under writes it restarts from page 1 after every commit);
- opsbot's backup (`run_backup`), preflight (`run_preflight`) and migrate (`run_migrate`),
  idle and with tests/live/app_writer.py committing every 5 ms and every 1000 ms.
Every figure is printed; nothing is asserted. The migrate rows restore the pristine copy first.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_runbook import MIGRATION, MIGRATIONS, generate  # noqa: E402
from ops.backup import run_backup  # noqa: E402
from ops.context import Engine  # noqa: E402
from ops.journal import Journal  # noqa: E402
from ops.migrate import run_migrate  # noqa: E402
from ops.preflight import run_preflight  # noqa: E402
from ops.targets.local import LocalTarget  # noqa: E402
from tests.live.writer import app_writing  # noqa: E402

PLAIN_BOUND_S = 60.0


def timed(argv: list[str], *, stdin: str = "", bound: float = 600) -> str:
    start = time.perf_counter()
    try:
        subprocess.run(argv, input=stdin, text=True, capture_output=True, timeout=bound, check=True)
    except subprocess.TimeoutExpired:
        return f"not finished after {bound:.0f} s"
    return f"{time.perf_counter() - start:.2f} s"


async def phase(name: str, engine: Engine, root: Path, pristine: Path) -> str:
    db = Path(engine.db_path)
    for old in db.parent.glob(db.name + ".pre-*"):
        old.unlink()
    start = time.perf_counter()
    if name == "backup":
        result = await run_backup(engine, label="bench")
    elif name == "preflight":
        result = await run_preflight(engine, MIGRATION)
    else:
        result = await run_migrate(engine, MIGRATION, confirmed=True)
    took = time.perf_counter() - start
    if name == "migrate":  # back to the unmigrated file for the next row
        subprocess.run(["sqlite3", str(db), f'.restore "{pristine}"'], check=True)
    return f"{took:.2f} s" + ("" if result.ok else f" (FAILED: {result.error})")


async def bench(size_mb: int, root: Path) -> list[tuple[str, str, str, str]]:
    db = root / "volume" / "app.db"
    pristine = root / "pristine.db"
    print(f"[{size_mb} MiB] generating ...", flush=True)
    generate(db, pristine, size_mb)
    print(f"[{size_mb} MiB] {db.stat().st_size / 2**20:.0f} MiB; timing ...", flush=True)
    rows = [("disk: dd to /dev/null", timed(["dd", f"if={db}", "of=/dev/null", "bs=4M"]), "", ""),
            ("cp", timed(["cp", str(db), str(root / "cp.db")]), "", "")]
    (root / "cp.db").unlink(missing_ok=True)
    plain = ["sqlite3", "-cmd", ".timeout 10000", str(db)]
    cells = []
    for interval in (None, 5, 1000):
        out = root / "plain.db"
        out.unlink(missing_ok=True)
        if interval is None:
            cells.append(timed(plain, stdin=f'.backup "{out}"\n', bound=PLAIN_BOUND_S))
        else:
            with app_writing(db, interval):
                cells.append(timed(plain, stdin=f'.backup "{out}"\n', bound=PLAIN_BOUND_S))
        out.unlink(missing_ok=True)
    rows.append(("plain sqlite3 .backup (the runbook)", *cells))
    journal = await Journal.open(root / "state" / "opsbot.db")
    try:
        engine = Engine(target=LocalTarget(), journal=journal, db_path=str(db), migrations_dir=MIGRATIONS,
                        work_dir=root / "state" / "work")
        for name in ("backup", "preflight", "migrate"):
            cells = [await phase(name, engine, root, pristine)]
            for interval in (5, 1000):
                with app_writing(db, interval) as writer:
                    cells.append(await phase(name, engine, root, pristine))
                cells[-1] += f", app committed {writer.committed}"
            rows.append((f"opsbot {name}", *cells))
    finally:
        await journal.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="opsbot-busy-"))
    try:
        rows = asyncio.run(bench(args.size_mb, root))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.size_mb} MiB, WAL, page cache warm")
    print("| what | idle | app commits every 5 ms | app commits every 1000 ms |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
