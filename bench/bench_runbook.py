"""Each opsbot phase next to the runbook's plain command, on the same generated database.

    .venv/bin/python bench/bench_runbook.py [--size-mb 1024] [--also-mb 100] [--out bench/out] [--keep] [--cold]

For each size: build a timelogger database in WAL mode (ops.demo_data), keep a pristine
`.backup` of it, then time backup, preflight, migrate and verify through the local target
against the runbook's `cp` / `sqlite3 db < migration.sql`. By default the OS page cache is not
dropped: every figure is the second of two runs, i.e. a warm cache. With ``--cold`` (root: it
writes /proc/sys/vm/drop_caches) the cache is emptied right before each timed run, opsbot's and
the plain command's alike, as on a host that has not read the file for a while. Where opsbot
takes more than 1.5x the plain command, the step timings from its reporter events and the
same work run standalone say where the time goes. Figures are printed and written to
OUT/results.md; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops import demo_data
from ops.apply import build_session
from ops.backup import run_backup
from ops.context import Engine
from ops.journal import Journal
from ops.migrate import run_migrate
from ops.migrations import load
from ops.preflight import run_preflight
from ops.reporter import ListReporter, Status, StepEvent
from ops.rollback import run_rollback
from ops.schema import read_state
from ops.targets.local import LocalTarget
from ops.verify import run_verify

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "migrations"
MIGRATION = "0001_remove_suspend.sql"
NOTE_BYTES = 900
ROW_BYTES = 1058  # measured: one activity_logs row with a 900-byte note, its index entry, page overhead
SLOW = 1.5
STEP_WORK = {  # what each opsbot step runs, to read the step timings against the standalone ones
    "free space": "df", "check tables": "schema read", "sqlite versions": "sqlite3 --version",
    "backup": ".backup", "snapshot": ".backup",
    "verify backup": "integrity_check + counts, alongside sha256 (openssl when present)",
    "download": "copy alongside the host's sha256, then sha256 here", "inspect copy": "integrity_check + counts",
    "inspect result": "integrity_check + counts",
    "rehearse": "BEGIN IMMEDIATE, counts, migration, foreign_key_check, checks, counts, COMMIT",
    "apply": "BEGIN IMMEDIATE, counts, migration, foreign_key_check, checks, counts, COMMIT",
    "verify": "integrity_check (or quick_check) (+ foreign_key_check and counts in the verify phase)",
}


@dataclass
class Row:
    phase: str
    ops: float
    plain: float
    compared: str
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ops / self.plain if self.plain else float("inf")


@dataclass
class SizeReport:
    size_mb: int
    db_bytes: int
    counts: dict[str, int]
    generate_s: float
    components: dict[str, float]
    rows: list[Row]


@dataclass
class Bench:
    root: Path
    engine: Engine

    @property
    def db(self) -> Path:
        return Path(self.engine.db_path)

    @property
    def pristine(self) -> Path:
        return self.root / "pristine.db"

    def restore(self) -> None:
        """Put the pristine file back; only ever called while nothing has the database open. The
        ledger forgets what it had applied: the database is the unmigrated one again."""
        for suffix in ("-wal", "-shm", ""):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.pristine, self.db)
        self.drop_backups()
        con = sqlite3.connect(self.root / "state" / "opsbot.db")
        try:
            con.execute("DELETE FROM ledger")
            con.commit()
        except sqlite3.OperationalError:  # an opsbot from before the ledger (bench run against it)
            pass
        finally:
            con.close()

    def drop_backups(self) -> None:
        for path in self.db.parent.glob(f"{self.db.name}.pre-*"):
            path.unlink()


def sh(*argv: str | Path, stdin: Path | None = None) -> str:
    """Run an argument list (no shell); a failure stops the benchmark."""
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as fh:
        done = subprocess.run([str(a) for a in argv], stdin=fh, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, argv))} exited {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


COLD = {"on": False}  # --cold: settle() empties the page cache before each timed run


def settle() -> None:
    """With --cold, write dirty pages out and drop the page cache, so the next read comes from disk."""
    if COLD["on"]:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


async def twice(fn: Callable[[], Any], reset: Callable[[], None] | None = None) -> tuple[float, Any]:
    """Run ``fn`` twice (``reset`` before each) and return the second run's seconds and result
    (warm; with --cold the cache is dropped before each run)."""
    took, result = 0.0, None
    for _ in range(2):
        if reset:
            reset()
        settle()
        start = time.perf_counter()
        result = fn()
        if inspect.isawaitable(result):
            result = await result
        took = time.perf_counter() - start
    return took, result


def step_times(events: list[StepEvent]) -> list[tuple[str, float]]:
    """(step, seconds) from the reporter's running → done/failed events, slowest first."""
    started: dict[str, float] = {}
    out = []
    for e in events:
        if e.status is Status.RUNNING:
            started[e.name] = e.at
        elif e.status in (Status.DONE, Status.FAILED) and e.name in started:
            out.append((e.name, e.at - started.pop(e.name)))
    return sorted(out, key=lambda s: -s[1])


def require_ok(result: Any, what: str) -> None:
    if not result.ok:
        raise SystemExit(f"{what} failed: {getattr(result, 'error', '') or result}")


def tables_of(db: Path) -> list[str]:
    """The runbook's `.schema` step, and the table names it shows."""
    names = re.findall(r'^CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)', sh("sqlite3", db, ".schema"), re.MULTILINE)
    return [n for n in names if not n.startswith("sqlite_")]


def plain_preflight(db: Path, test: Path, migration: Path) -> None:
    """Runbook 1.1-1.2: copy, apply, look at the schema, one COUNT(*) per table."""
    sh("cp", db, test)
    sh("sqlite3", test, stdin=migration)
    for table in tables_of(test):
        sh("sqlite3", test, f"SELECT COUNT(*) FROM {table}")


async def components(b: Bench) -> dict[str, float]:
    """The work opsbot's steps are made of, each run alone on the same file (warm)."""
    scratch = b.root / "scratch.db"
    tables = " ".join(f"SELECT count(*) FROM {t};" for t in tables_of(b.db))
    jobs: dict[str, Callable[[], Any]] = {
        "cp": lambda: sh("cp", b.db, scratch),
        "cp + fsync": lambda: (sh("cp", b.db, scratch), sh("sync", scratch)),  # the disk's own limit
        ".backup": lambda: sh("sqlite3", b.db, f'.backup "{scratch}"'),
        "sha256sum": lambda: sh("sha256sum", b.db),
        "integrity_check": lambda: sh("sqlite3", b.db, "PRAGMA integrity_check"),
        "quick_check": lambda: sh("sqlite3", b.db, "PRAGMA quick_check"),
        "foreign_key_check": lambda: sh("sqlite3", b.db, "PRAGMA foreign_key_check"),
        "counts": lambda: sh("sqlite3", b.db, tables),
    }
    out = {}
    for name, job in jobs.items():
        out[name], _ = await twice(job, lambda: scratch.unlink(missing_ok=True))
    scratch.unlink(missing_ok=True)
    return out


async def bench_backup(b: Bench) -> Row:
    rep = ListReporter()

    async def ops() -> None:
        rep.events.clear()
        require_ok(await run_backup(b.engine, label="bench", reporter=rep), "run_backup")

    ops_s, _ = await twice(ops, b.drop_backups)
    b.drop_backups()
    copy = b.db.with_name(b.db.name + ".copy")
    plain_s, _ = await twice(lambda: (sh("cp", b.db, copy), sh("sync", copy)), lambda: copy.unlink(missing_ok=True))
    copy.unlink()
    return Row("backup", ops_s, plain_s, "run_backup (.backup + verify) | cp app.db app.db.copy + sync",
               step_times(rep.events))


async def bench_preflight(b: Bench) -> Row:
    rep = ListReporter()

    async def ops() -> None:
        rep.events.clear()
        require_ok(await run_preflight(b.engine, MIGRATION, reporter=rep), "run_preflight")

    ops_s, _ = await twice(ops)
    test = b.root / "test.db"
    plain_s, _ = await twice(lambda: plain_preflight(b.db, test, MIGRATIONS / MIGRATION),
                             lambda: test.unlink(missing_ok=True))
    test.unlink()
    return Row("preflight", ops_s, plain_s, "run_preflight | cp + sqlite3 test.db < sql + .schema + COUNT(*) each",
               step_times(rep.events))


async def bench_migrate(b: Bench, parts: dict[str, float]) -> list[Row]:
    rep = ListReporter()

    async def ops() -> Any:
        rep.events.clear()
        result = await run_migrate(b.engine, MIGRATION, confirmed=True, reporter=rep)
        require_ok(result, "run_migrate")
        return result

    ops_s, result = await twice(ops, b.restore)
    b.restore()
    copy = b.root / "plain.db"
    plain_s, _ = await twice(lambda: sh("sqlite3", copy, stdin=MIGRATIONS / MIGRATION),
                             lambda: shutil.copyfile(b.pristine, copy))
    copy.unlink()
    before = await read_state(LocalTarget(), str(b.pristine), counts=False)
    body = build_session(load(MIGRATIONS, MIGRATION), before).body
    # each whole-database pragma reads every child row when nothing is wrong (ops.fk_check sends the
    # tables it can check through their index elsewhere: bench/fk_lock.py)
    scans = body.count("FROM pragma_foreign_key_check LIMIT")
    inside = [(f"foreign_key_check x{scans} (standalone x{scans})", scans * parts["foreign_key_check"]),
              ("counts x2 (standalone x2)", 2 * parts["counts"])]
    return [
        Row("migrate", ops_s, plain_s, "run_migrate (backup + apply + integrity) | sqlite3 copy.db < sql",
            step_times(rep.events)),
        Row("migrate: writers blocked", result.lock_seconds, plain_s,
            "BEGIN IMMEDIATE..COMMIT | sqlite3 < sql (runbook: app at 0 for all of phase 2)", inside),
    ]


async def bench_rollback(b: Bench) -> Row:
    """After a migration: restore its backup (opsbot: check, .restore, verify, checkpoint) against
    the runbook's rollback, `cp` of the backup over the database with the app stopped."""
    rep = ListReporter()
    state: dict[str, Any] = {}

    def migrated() -> None:
        b.restore()
        state["backup"] = None

    async def ops() -> None:
        rep.events.clear()
        mig = await run_migrate(b.engine, MIGRATION, confirmed=True)
        require_ok(mig, "run_migrate")
        settle()
        start = time.perf_counter()
        result = await run_rollback(b.engine, confirmed=True, backup=mig.backup, reporter=rep)
        require_ok(result, "run_rollback")
        state["took"] = time.perf_counter() - start

    took = []
    for _ in range(2):
        migrated()
        await ops()
        took.append(state["took"])
    b.restore()
    backup = b.root / "backup.db"
    plain_s, _ = await twice(lambda: sh("cp", backup, b.db), lambda: shutil.copyfile(b.pristine, backup))
    b.restore()
    return Row("rollback", took[-1], plain_s, "run_rollback (check, .restore, verify, checkpoint) | cp backup app.db",
               step_times(rep.events))


async def bench_stalls(b: Bench) -> list[Row]:
    """The app's worst commit while a migrate, then a rollback of it, run: a separate process
    commits a row every 5 ms throughout (tests/live/app_writer.py) and reports its longest commit."""
    sys.path.insert(0, str(REPO))
    from tests.live.writer import app_writing

    b.restore()
    settle()
    with app_writing(b.db, 5) as during_migrate:
        mig = await run_migrate(b.engine, MIGRATION, confirmed=True)
    require_ok(mig, "run_migrate (app writing)")
    settle()
    with app_writing(b.db, 5) as during_rollback:
        back = await run_rollback(b.engine, confirmed=True, backup=mig.backup)
    require_ok(back, "run_rollback (app writing)")
    b.restore()
    return [
        Row("migrate: app's worst stall", during_migrate.worst_s, 0.0,
            f"longest of {during_migrate.committed} app commits (every 5 ms) | runbook: app scaled to 0"),
        Row("rollback: app's worst stall", during_rollback.worst_s, 0.0,
            f"longest of {during_rollback.committed} app commits (every 5 ms) | runbook: app scaled to 0"),
    ]


async def bench_verify(b: Bench) -> Row:
    rep = ListReporter()

    async def full() -> None:
        rep.events.clear()
        require_ok(await run_verify(b.engine, quick=False, reporter=rep), "run_verify")

    full_s, _ = await twice(full)
    quick_s, _ = await twice(lambda: run_verify(b.engine, quick=True))
    return Row("verify", full_s, quick_s, "run_verify (integrity_check) | run_verify --quick (quick_check)",
               step_times(rep.events))


@contextmanager
def workspace(size_mb: int, keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=f"opsbot-bench-{size_mb}mb-"))
    try:
        yield root
    finally:
        if keep:
            print(f"  kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def generate(db: Path, pristine: Path, size_mb: int) -> tuple[dict[str, int], float]:
    logs = max(1000, size_mb * 2**20 // ROW_BYTES)
    db.parent.mkdir(parents=True)
    start = time.perf_counter()
    counts = demo_data.create(db, users=max(200, logs // 50), logs=logs, note_bytes=NOTE_BYTES, wal=True)
    took = time.perf_counter() - start
    sh("sqlite3", db, f'.backup "{pristine}"')
    return counts, took


async def bench_size(size_mb: int, keep: bool) -> SizeReport:
    with workspace(size_mb, keep) as root:
        db = root / "volume" / "app.db"
        print(f"[{size_mb} MiB] generating {db} ...", flush=True)
        counts, gen_s = generate(db, root / "pristine.db", size_mb)
        journal = await Journal.open(root / "state" / "opsbot.db")
        try:
            engine = Engine(target=LocalTarget(), journal=journal, db_path=str(db), migrations_dir=MIGRATIONS,
                            work_dir=root / "state" / "work")
            b = Bench(root, engine)
            print(f"[{size_mb} MiB] {db.stat().st_size / 2**20:.0f} MiB in {gen_s:.1f}s; timing ...", flush=True)
            parts = await components(b)
            rows = [await bench_backup(b), await bench_preflight(b)]
            rows += await bench_migrate(b, parts)
            rows.append(await bench_rollback(b))
            rows += await bench_stalls(b)
            rows.append(await bench_verify(b))
        finally:
            await journal.close()
        return SizeReport(size_mb, db.stat().st_size, counts, gen_s, parts, rows)


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    return {
        "CPU": cpu.group(1).strip() if cpu else platform.processor() or "?",
        "cores": str(os.cpu_count()),
        "RAM": f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "?",
        "disk free": f"{free / 2**30:.0f} GiB in {tempfile.gettempdir()}",
        "sqlite3": sh("sqlite3", "--version").split()[0],
        "Python": platform.python_version(),
    }


def explanations(r: SizeReport) -> list[str]:
    """One line per phase slower than SLOW x its plain command: where the extra time goes."""
    out = []
    for row in r.rows:
        if row.ratio <= SLOW or not row.plain:
            continue
        shown = [(name, s) for name, s in row.steps if s >= 0.01][:5]
        steps = ", ".join(f"{name} {s:.2f}s [{STEP_WORK.get(name, 'measured alone')}]" for name, s in shown)
        rest = row.ops - sum(s for _, s in row.steps)
        out.append(f"{row.phase} {row.ratio:.1f}x (+{row.ops - row.plain:.2f}s): {steps}; rest {rest:.2f}s")
    return out


def summary(r: SizeReport) -> list[str]:
    parts = ", ".join(f"{k} {v:.2f}s" for k, v in r.components.items())
    return [
        f"{r.db_bytes / 2**20:.0f} MiB database ({r.counts['activity_logs']:,} log rows with {NOTE_BYTES}-byte notes, "
        f"{r.counts['user_settings']:,} users), generated in {r.generate_s:.1f}s",
        f"standalone on this file: {parts}",
    ]


def shown_ratio(ratio: float) -> str:
    return "—" if ratio == float("inf") else f"{ratio:.1f}x"


def text_report(r: SizeReport) -> str:
    head = f"{'phase':<30}{'opsbot s':>10}{'plain s':>10}{'ratio':>8}{'vs disk':>9}  opsbot | plain"
    lines = [f"== {r.size_mb} MiB ==", *summary(r), head, "-" * len(head)]
    lines += [f"{w.phase:<30}{w.ops:>10.2f}{w.plain:>10.2f}{shown_ratio(w.ratio):>8}"
              f"{shown_ratio(w.ops / r.components['cp + fsync']):>9}  {w.compared}" for w in r.rows]
    lines += [f"  > {line}" for line in explanations(r)]
    return "\n".join(lines)


def md_report(r: SizeReport) -> str:
    lines = [f"## {r.size_mb} MiB", "", *(f"- {s}" for s in summary(r)), "",
             "| phase | opsbot s | plain s | ratio | vs disk (cp + fsync) | opsbot \\| plain |",
             "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {w.phase} | {w.ops:.2f} | {w.plain:.2f} | {shown_ratio(w.ratio)} | "
              f"{shown_ratio(w.ops / r.components['cp + fsync'])} | {w.compared.replace('|', '&#124;')} |"
              for w in r.rows]
    lines += ["", *(f"- {line}" for line in explanations(r))]
    return "\n".join(lines) + "\n"


NOTE = ("Every figure is the second of two runs ({cache}); plain = the "
        "runbook's command on the same file. 'writers blocked', plain: only the sqlite3 run; with the runbook's "
        "`fly scale count 0` the app is down from scale-down to the new machine's start, which is not timed here.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="main database size in MiB (default 1024)")
    parser.add_argument("--also-mb", type=int, default=100, help="a second, smaller size; 0 skips it")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="where results.md goes")
    parser.add_argument("--keep", action="store_true", help="keep the temp directories")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each timed run (root)")
    args = parser.parse_args()
    COLD["on"] = args.cold
    note = NOTE.format(cache="page cache dropped before each run: cold" if args.cold
                       else "warm page cache: the cache was not dropped")
    started = time.perf_counter()
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    reports = []
    for size in (s for s in (args.size_mb, args.also_mb) if s > 0):
        reports.append(asyncio.run(bench_size(size, args.keep)))
        print(text_report(reports[-1]), flush=True)
    print(note)
    args.out.mkdir(parents=True, exist_ok=True)
    md = ["# opsbot runbook benchmark", "", *(f"- {k}: {v}" for k, v in info.items()), "", note, ""]
    (args.out / "results.md").write_text("\n".join(md) + "\n" + "\n".join(md_report(r) for r in reports))
    print(f"wrote {args.out / 'results.md'}; total {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
