"""How fast the bot acknowledges interactions while a long phase runs (issue 3, 7).

Starts the real bot against the loopback Discord stand-in on a generated database, starts a
preflight (snapshot + download + rehearsal: the longest read phase), and while it runs sends
`/migrate status` every 100 ms. Prints the median and worst time from an interaction being
dispatched to its acknowledgement, and the bot process's peak memory. Figures only; nothing
is asserted.

    .venv/bin/python bench/ack_latency.py [--logs 1500000] [--commands 40]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ops import demo_data  # noqa: E402
from ops.context import Engine  # noqa: E402
from ops.journal import Journal  # noqa: E402
from ops.targets.local import LocalTarget  # noqa: E402
from tests.bot_harness import start_bot  # noqa: E402
from tests.discord_standin import constants as c  # noqa: E402
from tests.discord_standin.plugin import discord_pointed_at  # noqa: E402
from tests.discord_standin.standin import DiscordStandIn  # noqa: E402


async def measure(logs: int, commands: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="opsbot-ack-"))
    db = root / "vol" / "app.db"
    db.parent.mkdir()
    t0 = time.perf_counter()
    demo_data.create(db, users=5000, logs=logs, note_bytes=200)
    print(f"database: {db.stat().st_size / 1048576:.0f} MiB, {logs:,} log rows ({time.perf_counter() - t0:.1f}s)")
    journal = await Journal.open(root / "state" / "j.db")
    engine = Engine(target=LocalTarget(), journal=journal, db_path=str(db), migrations_dir=REPO / "migrations",
                    work_dir=root / "state" / "work")
    standin = DiscordStandIn(spec_path=None)
    await standin.start()
    try:
        with discord_pointed_at(standin):
            bot = await start_bot(standin, engine)
            try:
                await run_load(standin, commands)
            finally:
                await bot.stop()
    finally:
        await standin.stop()
        await journal.close()


async def run_load(standin: DiscordStandIn, commands: int) -> None:
    long = await standin.send_slash_command("migrate preflight", {"migration": "0001_remove_suspend.sql"},
                                            user_id=c.OPERATOR1_ID)
    started = time.perf_counter()
    records = []
    for _ in range(commands):
        records.append(await standin.send_slash_command("migrate status", {}, user_id=c.OPERATOR1_ID))
        await asyncio.sleep(0.1)
    for rec in [long, *records]:
        await standin.wait_for_ack(rec, timeout=10)
    done = await standin.wait_for_message(lambda m: "Preflight" in m.text() and ("✔" in m.text() or "✘" in m.text()),
                                          timeout=600)
    phase_s = time.perf_counter() - started
    lat = sorted(r.ack_latency * 1000 for r in records)
    during = sum(1 for r in records if r.acked_at is not None)
    print(f"long phase: preflight, {phase_s:.1f}s ({'ok' if '✔' in done.text() else 'failed'})")
    print(f"/migrate status x{len(lat)} sent while it ran ({during} acknowledged)")
    print(f"ack latency: median {statistics.median(lat):.1f} ms, p90 {lat[int(len(lat) * 0.9) - 1]:.1f} ms, "
          f"worst {lat[-1]:.1f} ms; the preflight command itself: {long.ack_latency * 1000:.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (bot + stand-in): {peak:.0f} MiB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--logs", type=int, default=1_500_000)
    p.add_argument("--commands", type=int, default=40)
    args = p.parse_args()
    asyncio.run(measure(args.logs, args.commands))


if __name__ == "__main__":
    main()
