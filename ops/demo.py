"""`python -m ops demo`: a throwaway timelogger staging, and every phase run against it.

It builds the database (WAL mode, ~100k rows, with fresh commits left only in `-wal`), serves
`/health` from a local HTTP server that queries it, then runs preflight → backup → migrate →
verify → health → rollback → verify through the local target, printing every step. Then it
promotes the migration to a second database, "production", whose policy takes only what
succeeded on staging: refused while staging's run is rolled back, accepted once it ran again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from ops import backup, demo_data, health, ledger, migrate, preflight, rollback, verify
from ops.console import ConsoleReporter
from ops.context import Engine
from ops.errors import OpsError
from ops.journal import Journal
from ops.policy import Policy
from ops.promotion import NotPromotable
from ops.settings import HealthSettings, Settings
from ops.targets.local import LocalTarget
from ops.units import short_hash

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION = "0001_remove_suspend.sql"


@contextmanager
def health_server(db: Path) -> Iterator[str]:
    """A stand-in for timelogger's /health: 200 only when the database answers a query."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            try:
                con = sqlite3.connect(db, timeout=5)
                users = con.execute("SELECT count(*) FROM user_settings").fetchone()[0]
                con.close()
                code, body = 200, f'{{"ok": true, "users": {users}}}'
            except sqlite3.Error as exc:
                code, body = 503, f'{{"ok": false, "error": "{exc}"}}'
            self.send_response(code if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


def wal_only_commits(db: Path, rows: int = 25) -> sqlite3.Connection:
    """Commit rows that stay in `-wal` (the app holds the file open, no checkpoint yet)."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_autocheckpoint=0")
    for i in range(rows):
        con.execute("INSERT INTO activity_logs (user_id, activity, started_at) VALUES (?, 'late-night', ?)",
                    (1 + i, f"2026-11-27T02:{i:02d}"))
        con.commit()
    return con


async def run_demo(out: Console, *, keep: bool = False) -> int:
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="opsbot-demo-"))
    db = root / "data" / "app.db"
    db.parent.mkdir()
    try:
        out.rule("[bold]opsbot demo: a throwaway timelogger staging")
        counts = demo_data.create(db)
        app = wal_only_commits(db)
        wal = (db.parent / "app.db-wal").stat().st_size
        out.print(f"  database {db}: {sum(counts.values()) + 25:,} rows, WAL mode; 25 fresh commits live only in "
                  f"app.db-wal ({wal / 1024:.0f} KiB) — a plain `cp app.db` would miss them")
        with health_server(db) as url:
            journal = await Journal.open(root / "state" / "opsbot.db")
            engine = Engine(target=LocalTarget(), journal=journal, db_path=str(db), migrations_dir=MIGRATIONS,
                            work_dir=root / "state" / "work",
                            settings=Settings(health=HealthSettings(url=url)), env="staging")
            try:
                ok = await _phases(engine, out, url) and await _promotion(engine, root, out)
            finally:
                await journal.close()
                app.close()
        out.rule()
        verdict = "[bold green]demo finished: every phase passed" if ok else "[bold red]demo failed"
        out.print(f"{verdict}[/] in {time.monotonic() - started:.1f}s")
        return 0 if ok else 1
    except OpsError as exc:
        out.print(f"[bold red]✘ {exc.message}[/]\n  → {exc.hint}")
        return 1
    finally:
        if keep:
            out.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


async def _phases(engine: Engine, out: Console, url: str) -> bool:
    rep = ConsoleReporter(out, show_running=False)
    results = []
    out.rule("1. preflight: rehearse on a consistent copy")
    pre = await preflight.run_preflight(engine, MIGRATION, reporter=rep)
    for line in pre.schema_diff:
        out.print(f"    {line}")
    logs = pre.counts_before.get("activity_logs", 0)
    out.print(f"  fingerprint {short_hash(pre.fingerprint)}, activity_logs in the copy: {logs:,} "
              "(WAL commits included)")
    results.append(pre.ok)
    out.rule("2. backup")
    bk = await backup.run_backup(engine, label="demo", reporter=rep)
    out.print(f"  {bk.path}")
    results.append(bk.ok)
    out.rule("3. migrate (confirmed; the bot asks an approver first)")
    mig = await migrate.run_migrate(engine, MIGRATION, confirmed=True, expected_fingerprint=pre.fingerprint,
                                    reporter=rep)
    out.print(f"  committed={mig.committed}, user_version {mig.user_version_before} → {mig.user_version}, "
              f"write lock held {mig.lock_seconds:.2f}s")
    results.append(mig.ok)
    out.rule("4. verify")
    results.append((await verify.run_verify(engine, reporter=rep)).ok)
    out.rule("5. health")
    hc = await health.check_health(url)
    out.print(f"  {'✔' if hc.ok else '✘'} HTTP {hc.status} in {hc.latency_ms} ms: {hc.body}")
    results.append(hc.ok)
    out.rule("6. rollback (confirmed)")
    rb = await rollback.run_rollback(engine, confirmed=True, reporter=rep)
    out.print(f"  restored {Path(rb.backup).name}; {rb.warning}")
    results.append(rb.ok and rb.counts == mig.counts_before and rb.user_version == mig.user_version_before)
    out.rule("7. verify")
    results.append((await verify.run_verify(engine, reporter=rep)).ok)
    return all(results)


async def _promotion(staging: Engine, root: Path, out: Console) -> bool:
    """Staging → production, as opsbot.toml's requires_success_on = "staging" makes it."""
    rep = ConsoleReporter(out, show_running=False)
    db = root / "production" / "app.db"
    db.parent.mkdir()
    demo_data.create(db, users=800, logs=8000)
    production = dataclasses.replace(staging, db_path=str(db), env="production", work_dir=root / "state" / "prod",
                                     policy=Policy(requires_success_on="staging"))
    out.rule("8. promote to production: refused, staging's run was rolled back")
    try:
        await migrate.run_migrate(production, MIGRATION, confirmed=True, reporter=rep)
        out.print("[bold red]  ✘ production took a migration that is rolled back on staging[/]")
        return False
    except NotPromotable as exc:
        out.print(f"  ✔ refused: {exc.message}")
    out.rule("9. migrate staging again (the rollback made it pending again)")
    # Backups are named to the second: step 3's is still there, so start in the next second.
    second = int(time.time())
    while int(time.time()) == second:
        await asyncio.sleep(0.05)
    again = await migrate.run_migrate(staging, MIGRATION, confirmed=True, reporter=rep)
    out.rule("10. promote: production's preflight is compared with staging's run, then it migrates")
    pre = await preflight.run_preflight(production, MIGRATION, reporter=rep)
    promoted = pre.promoted_from or {}
    out.print(f"  from {promoted.get('env')} run #{promoted.get('run_id')}; row changes that differ: "
              f"{promoted.get('row_changes_differ') or 'none'}")
    done = await migrate.run_migrate(production, MIGRATION, confirmed=True, expected_fingerprint=pre.fingerprint,
                                     reporter=rep)
    report = await ledger.pending_report(production.journal, production.key, "production", MIGRATIONS)
    out.print(f"  production's ledger: {', '.join(a['name'] for a in report.applied)} applied by run #{done.run_id}")
    return again.ok and pre.ok and done.ok and promoted.get("run_id") == again.run_id
