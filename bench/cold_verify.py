"""verify on a cold file: the plain integrity_check beside opsbot's verify (read-ahead, then mmap).

    sudo .venv/bin/python bench/cold_verify.py [--size-mb 1024]

Builds the bench database (bench_runbook.generate), then twice: drops the page cache (root: it
writes /proc/sys/vm/drop_caches) and times `sqlite3 app.db "PRAGMA integrity_check"`; drops it
again and times `run_verify` through the local target; then times `run_verify` warm. integrity_check
reads pages in descending order, which defeats the kernel's read-ahead on a cold file; opsbot
reads the file front to back first when memory holds it. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import bench_runbook as br  # noqa: E402
from ops.context import Engine  # noqa: E402
from ops.journal import Journal  # noqa: E402
from ops.targets.local import LocalTarget  # noqa: E402
from ops.verify import run_verify  # noqa: E402


async def bench(size_mb: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="opsbot-cold-verify-"))
    try:
        db = root / "volume" / "app.db"
        br.generate(db, root / "pristine.db", size_mb)
        journal = await Journal.open(root / "state" / "opsbot.db")
        try:
            engine = Engine(target=LocalTarget(), journal=journal, db_path=str(db), migrations_dir=br.MIGRATIONS,
                            work_dir=root / "state" / "work")
            br.COLD["on"] = True
            for _ in range(2):
                br.settle()
                start = time.perf_counter()
                br.sh("sqlite3", db, "PRAGMA integrity_check")
                plain = time.perf_counter() - start
                br.settle()
                start = time.perf_counter()
                result = await run_verify(engine)
                cold = time.perf_counter() - start
                start = time.perf_counter()
                await run_verify(engine)
                warm = time.perf_counter() - start
                print(f"{db.stat().st_size / 2**20:.0f} MiB: plain integrity_check cold {plain:.2f}s | opsbot verify "
                      f"cold {cold:.2f}s (ok={result.ok}) | opsbot verify warm {warm:.2f}s", flush=True)
        finally:
            await journal.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    asyncio.run(bench(parser.parse_args().size_mb))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
