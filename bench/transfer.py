"""The preflight over a slow link: the snapshot sent as it is against zstd-compressed.

    .venv/bin/python bench/transfer.py [--size-mb 1024] [--mbps 20]

Through the stand-in flyctl (tests/fakefly), whose `ssh sftp get` copies at ``--mbps`` megabytes
per second (its state's bandwidth_bps), on a generated timelogger database (ops.demo_data, the
same rows as bench_runbook.py). Prints, side by side: the link's own time for the file
(size / bandwidth), opsbot's preflight with COMPRESS_TRANSFER=false, and with it on (zstd -1 on
the host, unpacked here, sha256 checked on the unpacked file), with the bytes each sent. Warm
cache; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ops import demo_data  # noqa: E402
from ops.context import Engine  # noqa: E402
from ops.journal import Journal  # noqa: E402
from ops.preflight import run_preflight  # noqa: E402
from ops.reporter import ListReporter, Status  # noqa: E402
from ops.settings import EngineSettings, Settings  # noqa: E402
from tests.fakefly.plugin import FakeFly  # noqa: E402

NOTE_BYTES, ROW_BYTES = 900, 1058  # as bench_runbook.py: a 1 GiB file has about a million log rows


async def preflight(root: Path, db: Path, fakefly: FakeFly, compress: bool) -> tuple[float, str]:
    journal = await Journal.open(root / f"state-{compress}" / "opsbot.db")
    try:
        settings = Settings(engine=replace(EngineSettings(), compress_transfer=compress))
        engine = Engine(target=fakefly.target(), journal=journal, db_path=str(db),
                        migrations_dir=REPO / "migrations", work_dir=root / f"work-{compress}", settings=settings)
        rep = ListReporter()
        start = time.perf_counter()
        result = await run_preflight(engine, "0001_remove_suspend.sql", reporter=rep)
        took = time.perf_counter() - start
        if not result.ok:
            raise SystemExit(f"preflight failed: {result.error}")
        sent = next((e.detail for e in rep.events if e.name == "download" and e.status is Status.DONE), "")
        return took, sent
    finally:
        await journal.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--mbps", type=float, default=20.0, help="the link's speed in MB/s (default 20)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="opsbot-transfer-"))
    try:
        db = root / "volume" / "app.db"
        db.parent.mkdir(parents=True)
        logs = max(1000, args.size_mb * 2**20 // ROW_BYTES)
        demo_data.create(db, users=max(200, logs // 50), logs=logs, wal=True)
        # Notes that compress like real data rather than demo_data's 'x' padding: random hex
        # halves under zstd (real text does better, about 3x), so the figure errs against zstd.
        con = sqlite3.connect(db)
        con.execute(f"UPDATE activity_logs SET note = hex(randomblob({NOTE_BYTES // 2}))")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        size = db.stat().st_size
        fakefly = FakeFly(root / "fakefly")
        state = fakefly.state()
        state["bandwidth_bps"] = int(args.mbps * 1e6)
        fakefly.save_state(state)
        link = size / (args.mbps * 1e6)
        print(f"{size / 2**20:.0f} MiB database over a {args.mbps:g} MB/s link: the file alone takes {link:.1f} s")
        for compress in (False, True):
            await preflight(root, db, fakefly, compress)  # warm the cache, then time the second run
            took, sent = await preflight(root, db, fakefly, compress)
            print(f"  preflight, {'zstd -1' if compress else 'as it is':9}: {took:6.1f} s "
                  f"({took / link:.2f}x the link's time for the file) — {sent}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
