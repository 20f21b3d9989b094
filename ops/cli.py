"""`python -m ops`: every runbook phase from the terminal.

Exit status: 0 the phase succeeded, 1 it failed (or a check failed), 2 bad usage or settings.
With --json, stdout is exactly one JSON object and progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console

from ops.context import Engine
from ops.environments import Environment, find_config, load_config
from ops.errors import OpsError, UsageError
from ops.outcome import headline
from ops.redact import install_log_redaction, redact
from ops.targets import registry

log = logging.getLogger(__name__)


class _JsonParser(argparse.ArgumentParser):
    """With --json, a usage error is one JSON object on stdout too (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(json.dumps({"ok": False, "error": {"message": message, "hint": f"See `{self.prog} --help`."}}))
        raise SystemExit(2)


def parser(*, json_errors: bool = False) -> argparse.ArgumentParser:
    cls = _JsonParser if json_errors else argparse.ArgumentParser
    p = cls(prog="python -m ops", description="Run the safe-migration runbook, phase by phase.")
    p.add_argument("--target", choices=registry.names(),
                   help=f"where the app runs (default: TARGET or {registry.DEFAULT})")
    p.add_argument("--db", help="the database path on the app host (default: DB_PATH)")
    p.add_argument("--app", help=f"the app to operate on (default: {' / '.join(registry.app_settings())})")
    p.add_argument("--env", help="the environment in opsbot.toml (default: its first)")
    p.add_argument("--config", help="the opsbot.toml to read (default: OPSBOT_CONFIG, else ./opsbot.toml)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=cls)
    s = sub.add_parser("preflight", help="rehearse a migration on a consistent copy")
    s.add_argument("migration", help="its name in MIGRATIONS_DIR, or a path to it inside that folder")
    s.add_argument("--keep", action="store_true", help="keep the downloaded copy under the state directory")
    s.add_argument("--print-script", action="store_true",
                   help="print the exact sqlite3 session migrate would run, run nothing")
    s.add_argument("--allow-row-loss", action="append", default=[], metavar="TABLE",
                   help="this table may lose rows (repeat for several)")
    s = sub.add_parser("backup", help="take and verify a backup on the host")
    s.add_argument("--label", default="manual")
    s.add_argument("--offsite", action="store_true", help="also keep a second copy off the app host, as migrate does")
    sub.add_parser("backups", help="list backups, newest first")
    s = sub.add_parser("migrate", help="back up, then apply a migration atomically")
    s.add_argument("migration", help="its name in MIGRATIONS_DIR, or a path to it inside that folder")
    s.add_argument("--allow-row-loss", action="append", default=[], metavar="TABLE",
                   help="this table may lose rows (repeat for several); recorded in the journal")
    s.add_argument("--yes", action="store_true", help="confirm: this changes the live database")
    s.add_argument("--fingerprint", help="refuse unless the live schema has this fingerprint (from preflight)")
    s = sub.add_parser("verify", help="counts, integrity, foreign keys, user_version, fingerprint")
    s.add_argument("--quick", action="store_true", help="quick_check instead of integrity_check")
    s = sub.add_parser("rollback", help="restore a verified backup with .restore")
    s.add_argument("--backup", help="path or file name of the backup (default: newest good one)")
    s.add_argument("--yes", action="store_true", help="confirm: writes made after the backup are lost")
    s = sub.add_parser("health", help="GET the health URL")
    s.add_argument("--url")
    s = sub.add_parser("logs", help="recent app log lines")
    s.add_argument("--lines", type=int, default=50)
    sub.add_parser("status", help="machines, database, newest backup, lock")
    sub.add_parser("pending", help="which migrations are applied here (the ledger) and which are pending")
    s = sub.add_parser("prune", help="remove backups beyond KEEP_BACKUPS_HOST / KEEP_BACKUPS_OFFSITE (never the "
                                      "newest verified, a recent one, or one a recent run depends on)")
    s.add_argument("--yes", action="store_true", help="remove them (without it: only say which)")
    sub.add_parser("drill", help="restore the newest backup into a scratch file here and check it against its record")
    s = sub.add_parser("lock", help="hold this environment: no migration starts until `unlock`")
    s.add_argument("--reason", required=True, help="shown on every refusal and in status")
    sub.add_parser("unlock", help="release this environment's lock")
    s = sub.add_parser("emergency-stop", help="stop the app now, keeping its machines (takes no lock)")
    s.add_argument("--yes", action="store_true", help="confirm: the app goes down until it is started again")
    s.add_argument("--for-run", type=int, metavar="RUN", help="the run whose failure this answers (journaled)")
    sub.add_parser("start", help="start the app's stopped machines, then check health")
    s = sub.add_parser("demo", help="build a throwaway staging and run every phase against it")
    s.add_argument("--keep", action="store_true", help="keep the demo's temp directory")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(json_errors="--json" in argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    out = Console(stderr=args.json, highlight=False)
    if args.command == "demo":
        from ops.demo import run_demo

        return asyncio.run(run_demo(out, keep=args.keep))
    try:
        app = dict.fromkeys(registry.app_settings(), args.app)
        path = find_config(args.config)
        if path is not None and (args.target or args.db or args.app):
            # With a file, an environment is its table: an override would run one environment's
            # database under another's policy, ledger and lock.
            raise UsageError("--target, --db and --app do not apply when opsbot.toml names the environments",
                             hint=f"Pick one with --env NAME, or change its table in {path}.")
        config = load_config(path, target=args.target, db_path=args.db, **app)
        environment = config.get(args.env)
        result = asyncio.run(_dispatch(args, environment, out, config.environments))
    except OpsError as exc:
        return _fail(exc, args.json, out)
    except KeyboardInterrupt:
        return _fail(OpsError("interrupted", hint="Run verify to see the state of the database."), args.json, out)
    except Exception as exc:  # noqa: BLE001 - one JSON object (or one clear line) whatever failed
        log.exception("unexpected error")
        return _fail(OpsError(f"unexpected error: {type(exc).__name__}: {str(exc)[:300]}",
                              hint="This is a bug in opsbot; run verify to see the state of the database, and "
                                   "rerun with -v for the traceback."), args.json, out)
    data = result.to_dict()
    if args.json:
        print(redact(json.dumps(data, default=str, ensure_ascii=False)))
    else:
        _render(args.command, data, out)
    return 0 if data.get("ok") else 1


async def _dispatch(args: argparse.Namespace, environment: Environment, out: Console,
                    environments: tuple[Environment, ...] = ()) -> Any:
    from ops import (
        appinfo,
        backup,
        backups,
        drill,
        emergency,
        health,
        history,
        ledger,
        migrate,
        policy,
        preflight,
        retention,
        rollback,
        rollback_plan,
        script,
        verify,
    )
    from ops.console import ConsoleReporter

    settings = environment.settings
    if args.command == "health":
        url = args.url or settings.health.url
        if not url:
            raise UsageError("no health URL", hint="Pass --url or set HEALTH_URL.")
        return await health.check_health(url, expect=settings.health.expect)
    if args.command == "emergency-stop" and not args.yes:
        raise UsageError("emergency-stop stops the app and needs confirmation",
                         hint="Re-run with --yes. The app stays down until `start` (or the target's own start).")
    if getattr(args, "migration", None):
        from ops.migrations import resolve_name

        args.migration = resolve_name(settings.engine.migrations_dir, args.migration)
    engine = await Engine.open(settings, env=environment.name, policy=environment.policy)
    rep = ConsoleReporter(out)
    allow = tuple(getattr(args, "allow_row_loss", ()))
    phases: dict[str, Callable[[], Awaitable[Any]]] = {
        "preflight": lambda: (script.print_script(engine, args.migration, allow_row_loss=allow) if args.print_script
                              else preflight.run_preflight(engine, args.migration, reporter=rep, keep=args.keep,
                                                           allow_row_loss=allow)),
        "backup": lambda: backup.run_backup(engine, label=args.label, reporter=rep, offsite=args.offsite),
        "backups": lambda: backups.list_backups(engine),
        # The CLI is one person: who is at the terminal asks for the change and, with --yes, is its one
        # approval (an environment that needs more refuses --yes). The journal and the ledger say so:
        # "alice (cli) + alice (--yes)" reads as requester alice, approved by alice at the terminal.
        "migrate": lambda: migrate.migrate_and_check(engine, args.migration, confirmed=args.yes,
                                                     expected_fingerprint=args.fingerprint, reporter=rep,
                                                     allow_row_loss=allow, actor=f"{_who()} (cli) + {_who()} (--yes)"),
        "verify": lambda: verify.run_verify(engine, quick=args.quick, reporter=rep),
        # Refused without --yes (before anything is started); confirmed, a stopped app is started first.
        "rollback": lambda: (rollback_plan.start_then_roll_back(engine, backup=args.backup, actor="cli", reporter=rep)
                             if args.yes else rollback.run_rollback(engine, confirmed=False, backup=args.backup)),
        "logs": lambda: appinfo.run_logs(engine, lines=args.lines),
        "status": lambda: _status(engine, environment, environments),
        "pending": lambda: ledger.pending_for(engine),
        "drill": lambda: drill.run_drill(engine, reporter=rep),
        "prune": lambda: retention.run_prune(engine, apply=args.yes, reporter=rep),
        "lock": lambda: policy.lock(engine.journal, engine.key, engine.env_name, args.reason[:200], _who()),
        "unlock": lambda: policy.unlock(engine.journal, engine.key, engine.env_name),
        "emergency-stop": lambda: emergency.emergency_stop(engine, actor="cli", for_run=args.for_run),
        "start": lambda: emergency.start_app(engine, actor="cli"),
    }
    try:
        # A history kept under this database's old key (before opsbot.toml, or a rename) is its own.
        claim = history.claim_for(environment, environments or (environment,))
        if claim is not None:
            await history.adopt(engine.journal, claim)
        return await phases[args.command]()
    finally:
        await engine.journal.close()


async def _status(engine: Engine, environment: Environment, environments: tuple[Environment, ...]) -> Any:
    from dataclasses import replace

    from ops import appinfo, history

    result = await appinfo.run_status(engine)
    return replace(result, history=await history.note(engine.journal, environment, environments or (environment,)))


def _who() -> str:
    """The person at the terminal, as the journal records the CLI's runs."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _fail(exc: OpsError, as_json: bool, out: Console) -> int:
    code = 2 if isinstance(exc, UsageError) else 1
    if as_json:
        print(redact(json.dumps({"ok": False, "error": exc.as_dict()}, ensure_ascii=False)))
    else:
        prefix = f"{headline('', exc.outcome)}: " if exc.outcome in ("changed", "unknown") else ""
        out.print(f"[bold red]✘ {_esc(redact(prefix + exc.message))}[/]")
        if exc.hint:
            out.print(f"  → {_esc(redact(exc.hint))}")
    return code


def _render(command: str, data: dict[str, Any], out: Console) -> None:
    """Summaries for what the progress lines did not already show."""
    if command == "backups":
        if not data["backups"]:
            out.print(f"no backups beside {data['db']}")
        for b in data["backups"]:
            verified = {"ok": "verified", "": "not verified by opsbot"}.get(b["verified"], "FAILED verification")
            out.print(f"  {b['stamp']}  {b['bytes'] / 1024 / 1024:8.1f} MiB  {verified:24} {_esc(b['path'])}")
        return
    if command == "logs":
        for i, line in enumerate(data["lines"]):
            out.print(f"[red]! {_esc(line)}[/]" if i in data["errors"] else f"  {_esc(line)}")
        return
    if command == "preflight" and "script" in data and data["ok"]:
        out.file.write(data["script"])
        return
    if command == "emergency-stop":
        out.print(f"[bold green]✔ stopped[/] {_esc(', '.join(data['machines']) or 'nothing')} (kept, not destroyed)")
        out.print(f"  → start again with `python -m ops start`, or {_esc(data['how_to_undo'])}")
        return
    if command == "start":
        mark = "[bold green]✔" if data["ok"] else "[bold red]✘"
        out.print(f"{mark} started[/] {_esc(', '.join(data['machines']) or 'nothing (none was stopped)')}; "
                  f"{_esc(data['health_text'])}")
        return
    if command == "pending":
        _render_pending(data, out)
        return
    if command == "prune":
        verb = "removed" if data["applied"] else "would remove (add --yes)"
        for path in data["host"]:
            out.print(f"  {verb}: {_esc(path)} (host)")
        for path in data["offsite"]:
            out.print(f"  {verb}: {_esc(path)} (off-host copy)")
        for path, why in data["kept"].items():
            out.print(f"  kept: {_esc(path)} — {_esc(why)}")
        if not data["host"] and not data["offsite"]:
            out.print("  nothing beyond the counts")
        return
    if command in ("lock", "unlock"):
        if data["locked"]:
            out.print(f"[bold]🔒 {_esc(data['env'])} locked[/]: {_esc(data['reason'])}")
        elif data["by"]:
            out.print(f"🔓 {_esc(data['env'])} unlocked (was locked by {_esc(data['by'])}: {_esc(data['reason'])})")
        else:
            out.print(f"{_esc(data['env'])} was not locked")
        return
    if command in ("health", "status"):
        flags = data.pop("ledger_warnings", ())
        for key, value in data.items():
            out.print(f"  {key:14} {_esc(str(value))}")
        for flag in flags:
            out.print(f"  [bold yellow]⚠ ledger[/]: {_esc(flag)}")
        return
    if data.get("ok"):
        out.print(f"[bold green]✔ {command} succeeded[/] in {data.get('seconds', 0):.1f}s")
        for line in data.get("schema_diff", ()):
            out.print(f"    {_esc(line)}")
        if command == "preflight":
            out.print(f"  schema fingerprint before: {data['fingerprint']}")
        if data.get("health_ok") is False:
            out.print("[bold yellow]⚠ the migration is applied, but the app's health check fails[/]: "
                      "read the logs; roll back if the migration caused it")
    else:
        outcome = headline(command, str(data.get("outcome") or ""), ok=False) if "outcome" in data else "failed"
        out.print(f"[bold red]✘ {command}: {_esc(outcome)}:[/] {_esc(str(data.get('error', '')))}")
        if data.get("hint"):
            out.print(f"  → {_esc(data['hint'])}")


def _render_pending(data: dict[str, Any], out: Console) -> None:
    import time

    out.print(f"{_esc(data['env'])}: user_version {data['user_version']} (shown for comparison; the ledger "
              "decides what is applied)")
    for a in data["applied"]:
        at = time.strftime("%Y-%m-%d %H:%M", time.gmtime(a["at"]))
        flag = {"sql": "  [bold red]⚠ its SQL changed since[/]", "comments": "  [yellow]⚠ comments changed since[/]",
                "missing": "  [bold red]⚠ the file is gone[/]"}.get(a["changed_since_applied"] or "", "")
        out.print(f"  [green]✔ applied[/]  {_esc(a['name'])}  run #{a['run_id']} {at} UTC{flag}")
    for p in data["pending"]:
        late = "  [bold yellow]⚠ out of order[/]" if p["name"] in data["out_of_order"] else ""
        back = f" (rolled back by run #{p['rolled_back_by']})" if p.get("rolled_back_by") else ""
        out.print(f"  [cyan]… pending[/]  {_esc(p['name'])}{back}{late}")
    if not data["applied"] and not data["pending"]:
        out.print("  no migrations in the folder")
    for t in data["tool_tables"]:
        if t.get("error"):
            out.print(f"  [yellow]⚠ {_esc(t['tool'])}'s table {_esc(t['table'])} could not be read: "
                      f"{_esc(t['error'])}[/]")
            continue
        out.print(f"  {_esc(t['tool'])}'s table {_esc(t['table'])} ({t['rows']} rows, read only): "
                  f"applied {_esc(', '.join(t['applied']) or 'none')} — {_esc(t['meaning'])}")


def _esc(text: str) -> str:
    return text.replace("[", "\\[")
