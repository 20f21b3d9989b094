"""`python -m bot check`: is this deployment ready? Checked without starting the bot.

Each check returns findings (✔ or ✘ with what to do). The checks only read: flyctl `version`,
`status` and `machine list`, `sqlite3 --version` and one read transaction on the app host,
one GET of HEALTH_URL, a temporary file beside the journal, and Discord REST reads (no
gateway connection, so a bot already running elsewhere stays connected).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import discord

from bot.settings import BotSettings
from ops import hostfs, schema
from ops import migrations as mig
from ops.errors import OpsError
from ops.health import check_health
from ops.redact import redact, register_secret
from ops.settings import Settings, build_target
from ops.targets.base import Target, run_argv
from ops.targets.fly import FlyTarget

log = logging.getLogger(__name__)

FLYCTL_TIMEOUT_S = 20.0
HOST_TIMEOUT_S = 60.0
HEALTH_TIMEOUT_S = 10.0
DISCORD_TIMEOUT_S = 30.0
# An upper bound for a whole group of checks, on top of each call's own timeout.
GROUP_TIMEOUT_S = 300.0

# What the bot does in the ops channel, as discord.Permissions attribute → the name Discord shows.
CHANNEL_PERMISSIONS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "add_reactions": "Add Reactions",
    "read_message_history": "Read Message History",
}
SCALE_ZERO = "never `fly scale count 0`: it destroys the machines and leaves nothing to ssh into"


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        text = f"✔ {self.what}" if self.ok else f"✘ {self.what}" + (f" → {self.fix}" if self.fix else "")
        return redact(" ".join(text.split()))


def passed(what: str) -> Finding:
    return Finding(True, what)


def failed(what: str, fix: str) -> Finding:
    return Finding(False, what, fix)


def from_error(prefix: str, exc: OpsError) -> Finding:
    return failed(f"{prefix}: {exc.message}", exc.hint or "see the message")


# --- flyctl and the app's machines --------------------------------------------------------


async def check_flyctl(engine: Settings, target: FlyTarget) -> list[Finding]:
    """flyctl runs here, and it may read FLY_APP (the token is valid for that app)."""
    path = shutil.which(engine.flyctl)
    if path is None:
        return [failed(f"flyctl not found (FLYCTL={engine.flyctl})",
                       "install it (https://fly.io/docs/flyctl/install/) or set FLYCTL to its path; "
                       "the Docker image has it at /usr/local/bin/fly")]
    try:
        out = await run_argv([path, "version"], timeout=FLYCTL_TIMEOUT_S, env={**os.environ, "NO_COLOR": "1"},
                             what="`fly version`", hint="Reinstall flyctl.")
    except OpsError as exc:
        return [from_error(f"flyctl at {path} does not run", exc)]
    if not out.ok:
        return [failed(f"flyctl at {path} does not run: {out.stderr.strip()[:200]}", "reinstall flyctl")]
    found = [passed(f"flyctl {out.stdout.strip().splitlines()[0] if out.stdout.strip() else ''} at {path}")]
    try:
        await target.status()
    except OpsError as exc:
        return [*found, from_error(f"flyctl cannot read the app {engine.fly_app}", exc)]
    return [*found, passed(f"flyctl is authenticated for {engine.fly_app}")]


async def check_machines(engine: Settings, target: FlyTarget) -> list[Finding]:
    app = engine.fly_app
    try:
        machines = await target.machines()
    except OpsError as exc:
        return [from_error(f"could not list the machines of {app}", exc)]
    started = [m for m in machines if m.state == "started"]
    if engine.fly_machine:
        pinned = next((m for m in machines if m.id == engine.fly_machine), None)
        if pinned is None:
            return [failed(f"FLY_MACHINE={engine.fly_machine} is not a machine of {app}",
                           f"pick an id from `fly machine list --app {app}` or leave FLY_MACHINE empty")]
        if pinned.state != "started":
            return [failed(f"the pinned machine {pinned.id} is {pinned.state}",
                           f"`fly machine start {pinned.id} --app {app}`; {SCALE_ZERO}")]
        return [passed(f"{app}: the pinned machine {pinned.id} ({pinned.region}) is started")]
    if not started:
        states = ", ".join(f"{m.id} {m.state}" for m in machines) or "no machines at all"
        first = machines[0].id if machines else "ID"
        return [failed(f"{app} has no started machine ({states})",
                       f"`fly machine start {first} --app {app}`; {SCALE_ZERO}")]
    more = f"; {len(started)} started, opsbot uses the first" if len(started) > 1 else ""
    return [passed(f"{app} has a started machine: {started[0].id} ({started[0].region}){more}")]


# --- the app host: sqlite3 and the database -------------------------------------------------


async def check_host(engine: Settings, target: Target) -> list[Finding]:
    try:
        version = await hostfs.sqlite_version(target)
    except OpsError as exc:
        return [from_error(f"the sqlite3 CLI on {target.name}", exc),
                failed(f"the database {engine.db_path} was not checked", "install sqlite3 on the app host first")]
    found = [passed(f"the app host ({target.name}) has sqlite3 {version}")]
    try:
        state = await schema.read_state(target, engine.db_path, counts=False,
                                        busy_timeout_ms=engine.busy_timeout_ms, timeout=HOST_TIMEOUT_S)
    except OpsError as exc:
        return [*found, from_error(f"the database {engine.db_path}", exc)]
    tables = len(state.tables)
    return [*found, passed(f"the database {engine.db_path}: {tables} tables, user_version {state.user_version}, "
                           f"{state.journal_mode} mode, {state.bytes // 1024} KiB")]


def check_local_sqlite() -> Finding:
    """Preflight rehearses each migration on this machine: the bot needs sqlite3 here too."""
    path = shutil.which("sqlite3")
    if path is None:
        return failed("no sqlite3 CLI on this machine (preflight rehearses migrations here)",
                      "apt-get install sqlite3 (the Docker image has it)")
    return passed(f"sqlite3 CLI here for preflight rehearsals ({path})")


# --- migrations, health, journal ---------------------------------------------------------


def check_migrations(directory: Path) -> list[Finding]:
    if not directory.is_dir():
        return [failed(f"MIGRATIONS_DIR {directory} is not a directory",
                       "set MIGRATIONS_DIR to the folder of .sql files (in the Docker image: /app/migrations)")]
    names = mig.list_migrations(directory)
    if not names:
        return [failed(f"MIGRATIONS_DIR {directory} has no .sql migrations",
                       "add migration files named like 0002_add_index.sql")]
    return [finding for name in names for finding in _lint_one(directory, name)]


def _lint_one(directory: Path, name: str) -> list[Finding]:
    try:
        migration = mig.load(directory, name)
    except OpsError as exc:
        return [from_error(f"migration {name}", exc)]
    if migration.errors:
        fix = f"edit {name}; README › Migration files lists what a migration may not do"
        return [failed(f"migration {name}: {error}", fix) for error in migration.errors]
    warnings = migration.warnings
    note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''}: {warnings[0].message})" if warnings else ""
    return [passed(f"migration {name} lints clean{note}")]


async def check_health_url(engine: Settings) -> Finding:
    if not engine.health_url:
        return passed("HEALTH_URL is not set: health check skipped (set it to have runs check the app)")
    try:
        result = await check_health(engine.health_url, timeout=HEALTH_TIMEOUT_S, attempts=1,
                                    expect=engine.health_expect)
    except OpsError as exc:
        return from_error("HEALTH_URL", exc)
    if result.ok:
        return passed(f"HEALTH_URL answers: HTTP {result.status} in {result.latency_ms:g} ms")
    return failed(f"HEALTH_URL {engine.health_url} failed: {result.error}",
                  f"check the URL and the app (`fly status --app {engine.fly_app}`, `fly logs --app {engine.fly_app}`)")


def check_journal(state_db: Path) -> list[Finding]:
    directory = state_db.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".opsbot-check-"):
            pass
        if state_db.exists() and not os.access(state_db, os.W_OK):
            raise PermissionError(f"{state_db} is read-only")
    except OSError as exc:
        return [failed(f"the journal STATE_DB={state_db} is not writable: {exc.strerror or exc}",
                       "on Fly: keep STATE_DB on the volume ([mounts] in fly.toml) owned by the bot's user; "
                       "elsewhere: fix the directory's owner or permissions")]
    found = [passed(f"the journal STATE_DB={state_db} is writable")]
    if os.environ.get("FLY_APP_NAME") and not os.path.ismount(directory):
        found.append(failed(f"{directory} is not a volume: runs, approvals and locks would be lost on every deploy",
                            "`fly volumes create opsbot_state --size 1 --region REGION`, keep [mounts] in fly.toml, "
                            "then `fly deploy`"))
    return found


# --- Discord -----------------------------------------------------------------------------


def missing_permissions(permissions: discord.Permissions) -> list[str]:
    """The channel permissions the bot needs but lacks, by their Discord names."""
    if permissions.administrator:  # Administrator grants every permission, overwrites or not
        return []
    return [label for attr, label in CHANNEL_PERMISSIONS.items() if not getattr(permissions, attr)]


async def check_discord(settings: BotSettings) -> list[Finding]:
    client = discord.Client(intents=discord.Intents.default())
    try:
        async with asyncio.timeout(DISCORD_TIMEOUT_S):
            return await _discord_findings(client, settings)
    except TimeoutError:
        return [failed(f"Discord did not answer within {DISCORD_TIMEOUT_S:g}s",
                       "check this machine's network and https://discordstatus.com")]
    except discord.LoginFailure:
        return [failed("Discord refused the token",
                       "Developer Portal → your application → Bot → Reset Token, then set DISCORD_TOKEN "
                       "(on Fly: `fly secrets set DISCORD_TOKEN=…`)")]
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        return [failed(f"could not talk to Discord: {exc}", "check the network, then run the check again")]
    finally:
        await client.close()


async def _discord_findings(client: discord.Client, settings: BotSettings) -> list[Finding]:
    await client.login(settings.discord_token)
    assert client.user is not None
    found = [passed(f"Discord accepted the token (bot user {client.user.name})")]
    try:
        guild = await client.fetch_guild(settings.guild_id)
    except (discord.NotFound, discord.Forbidden):
        return [*found, failed(f"DISCORD_GUILD_ID={settings.guild_id}: the bot is not in that server",
                               "check the ID (right-click the server → Copy Server ID) and invite the bot with "
                               "scopes bot + applications.commands")]
    found.append(passed(f"server {guild.name!r} found"))
    for name, role_id, what in (("OPERATOR_ROLE_ID", settings.operator_role_id, "operator"),
                                ("APPROVER_ROLE_ID", settings.approver_role_id, "approver")):
        role = guild.get_role(role_id)
        found.append(passed(f"{what} role @{role.name} exists") if role else
                     failed(f"{name}={role_id}: no such role in {guild.name!r}",
                            "Server Settings → Roles → right-click the role → Copy Role ID"))
    return [*found, *await _channel_findings(client, guild, settings.ops_channel_id)]


async def _channel_findings(client: discord.Client, guild: discord.Guild, channel_id: int) -> list[Finding]:
    fix_id = "right-click the ops channel → Copy Channel ID, and set OPS_CHANNEL_ID to it"
    try:
        channel = await guild.fetch_channel(channel_id)
    except discord.NotFound:
        return [failed(f"OPS_CHANNEL_ID={channel_id}: no such channel", fix_id)]
    except discord.Forbidden:
        return [failed(f"OPS_CHANNEL_ID={channel_id}: the bot may not see that channel",
                       "allow the bot's role View Channel in the channel's permissions")]
    except discord.InvalidData:
        return [failed(f"OPS_CHANNEL_ID={channel_id} belongs to another server", fix_id)]
    if not isinstance(channel, discord.abc.Messageable):
        return [failed(f"OPS_CHANNEL_ID={channel_id} (#{channel.name}) is not a text channel", fix_id)]
    assert client.user is not None
    member = await guild.fetch_member(client.user.id)
    missing = missing_permissions(channel.permissions_for(member))
    if missing:
        return [failed(f"the bot lacks {', '.join(missing)} in #{channel.name}",
                       f"Edit Channel #{channel.name} → Permissions → the bot's role: allow {', '.join(missing)}")]
    return [passed(f"the bot can view, post, embed, attach, react and read history in #{channel.name}")]


# --- running them ------------------------------------------------------------------------


async def guarded(what: str, check: Callable[[], Awaitable[list[Finding]]]) -> list[Finding]:
    """One check failing in an unexpected way is a finding, not the end of the report."""
    log.info("checking %s", what)
    try:
        async with asyncio.timeout(GROUP_TIMEOUT_S):
            return await check()
    except TimeoutError:
        return [failed(f"{what}: no result within {GROUP_TIMEOUT_S:g}s", "check the network, then run it again")]
    except Exception as exc:  # reported as a finding, with the traceback in the log
        log.exception("check %s failed", what)
        return [failed(f"{what}: unexpected {type(exc).__name__}: {exc}", "this is an opsbot bug; see the log")]


async def check_app_host(engine: Settings, target: Target) -> list[Finding]:
    """flyctl, then the machines, then the host: each step needs the one before."""
    if not isinstance(target, FlyTarget):
        return [passed("TARGET=local: the app host is this machine"), *await check_host(engine, target)]
    found = [check_local_sqlite(), *await check_flyctl(engine, target)]
    if all(f.ok for f in found[1:]):
        found += await check_machines(engine, target)
    if all(f.ok for f in found[1:]):
        return [*found, *await check_host(engine, target)]
    return [*found, failed(f"sqlite3 and the database on {engine.fly_app} were not checked",
                           "fix the flyctl or machine finding above, then run the check again")]


async def run_checks(settings: BotSettings, *, target: Target | None = None) -> list[Finding]:
    engine = settings.engine
    register_secret(settings.discord_token)
    target = target or build_target(engine)
    intro = passed(f"settings are valid (TARGET={engine.target}, FLY_APP={engine.fly_app}, DB_PATH={engine.db_path})")

    async def health() -> list[Finding]:
        return [await check_health_url(engine)]

    async def local(check: Callable[[], list[Finding]]) -> list[Finding]:
        return await asyncio.to_thread(check)

    groups = await asyncio.gather(
        guarded("the app host", lambda: check_app_host(engine, target)),
        guarded("the migrations", lambda: local(lambda: check_migrations(engine.migrations_dir))),
        guarded("HEALTH_URL", health),
        guarded("the journal", lambda: local(lambda: check_journal(engine.state_db))),
        guarded("Discord", lambda: check_discord(settings)),
    )
    return [intro, *(finding for group in groups for finding in group)]


def report(findings: list[Finding]) -> str:
    lines = [f.line() for f in findings]
    bad = sum(not f.ok for f in findings)
    lines.append(f"{len(findings) - bad} passed, {bad} failed" if bad else f"all {len(findings)} checks passed")
    return "\n".join(lines)
