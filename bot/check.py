"""`python -m bot check`: is this deployment ready? Checked without starting the bot.

Each check returns findings (✔ or ✘ with what to do). The checks only read: the target's own
checks (`Target.doctor`: for fly, flyctl `version`, `status` and `machine list`), `sqlite3 --version`
and one read transaction on the app host, one GET of HEALTH_URL, a temporary file beside the
journal, and Discord REST reads (no gateway connection, so a bot already running elsewhere stays
connected).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import discord

from bot.settings import BotSettings
from ops import history, hostfs, ledger, schema
from ops import migrations as mig
from ops.errors import OpsError
from ops.health import check_health
from ops.journal import Journal
from ops.redact import register_secret
from ops.settings import Settings
from ops.targets import registry
from ops.targets.base import Finding, Target, failed, from_error, passed, sqlite_here
from ops.targets.registry import build_target

log = logging.getLogger(__name__)

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


# --- the app host: sqlite3 and the database -------------------------------------------------


async def check_host(settings: Settings, target: Target) -> list[Finding]:
    db_path = settings.engine.db_path
    try:
        version = await hostfs.sqlite_version(target)
    except OpsError as exc:
        return [from_error(f"the sqlite3 CLI on {target.name}", exc),
                failed(f"the database {db_path} was not checked", "install sqlite3 on the app host first")]
    found = [passed(f"the app host ({target.name}) has sqlite3 {version}")]
    try:
        state = await schema.read_state(target, db_path, counts=False,
                                        busy_timeout_ms=settings.engine.busy_timeout_ms, timeout=HOST_TIMEOUT_S)
    except OpsError as exc:
        return [*found, from_error(f"the database {db_path}", exc)]
    tables = len(state.tables)
    return [*found, passed(f"the database {db_path}: {tables} tables, user_version {state.user_version}, "
                           f"{state.journal_mode} mode, {state.bytes // 1024} KiB")]


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


async def check_health_url(settings: Settings, target: Target) -> Finding:
    health = settings.health
    if not health.url:
        return passed("HEALTH_URL is not set: health check skipped (set it to have runs check the app)")
    try:
        result = await check_health(health.url, timeout=HEALTH_TIMEOUT_S, attempts=1, expect=health.expect)
    except OpsError as exc:
        return from_error("HEALTH_URL", exc)
    if result.ok:
        return passed(f"HEALTH_URL answers: HTTP {result.status} in {result.latency_ms:g} ms")
    return failed(f"HEALTH_URL {health.url} failed: {result.error}",
                  f"check the URL and the app ({target.status_text()})")


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


async def _discord_findings(client: discord.Client, bot_settings: BotSettings) -> list[Finding]:
    settings = bot_settings.discord
    await client.login(settings.token)
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
    found = [passed(f"the bot can view, post, embed, attach, react and read history in #{channel.name}")]
    return [*found, _thread_finding(channel.permissions_for(member), channel.name)]


THREAD_PERMISSIONS = {"create_public_threads": "Create Public Threads",
                      "send_messages_in_threads": "Send Messages in Threads"}


def _thread_finding(permissions: discord.Permissions, name: str) -> Finding:
    """One thread per run needs two more permissions; without them runs are posted in the channel."""
    missing = [label for attr, label in THREAD_PERMISSIONS.items() if not getattr(permissions, attr)]
    if missing:
        return failed(f"the bot cannot start a thread per run in #{name} (it lacks {', '.join(missing)}): "
                      "each run is posted in the channel instead",
                      f"Edit Channel #{name} → Permissions → the bot's role: allow {', '.join(missing)}")
    return passed(f"the bot can start a thread per run in #{name}")


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


async def check_app_host(settings: Settings, target: Target) -> list[Finding]:
    """The target's own checks (tools, credentials, a machine), then sqlite3 and the database on
    the host: each needs the one before."""
    found = [] if target.here else [sqlite_here()]
    reached = await target.doctor()
    if all(f.ok for f in reached):
        return [*found, *reached, *await check_host(settings, target)]
    return [*found, *reached, failed(f"sqlite3 and the database on {target.describe()} were not checked",
                                     "fix the finding above, then run the check again")]


async def check_ledger(settings: BotSettings, target: Target) -> list[Finding]:
    """What the ledger flags in each environment: an applied file edited since, one gone, one
    pending out of order. Only read: no journal yet means nothing applied yet."""
    state_db = settings.ops.engine.state_db
    if not Path(state_db).exists():
        return []
    journal = await Journal.open(state_db)
    try:
        envs = [(e.name, e.name, e.settings.engine.migrations_dir) for e in settings.environments] or \
            [(target.name, target.describe(), settings.ops.engine.migrations_dir)]
        found: list[Finding] = []
        for key, name, folder in envs:
            report = await ledger.pending_report(journal, key, name, folder)
            for a in report.changed:
                what = f"{a['name']} on {name} (applied by run #{a['run_id']})"
                if a["changed_since_applied"] == "comments":
                    found.append(passed(f"{what}: only its comments changed since"))
                elif a["changed_since_applied"] == "missing":
                    found.append(failed(f"{what}: the file is gone from the migrations folder",
                                        "put it back: the folder should hold every applied migration"))
                else:
                    found.append(failed(f"{what}: its SQL changed since it was applied",
                                        "restore the applied version; put further changes in a new migration"))
            found += [failed(f"{n} on {name} is pending but sorts before an applied migration (out of order)",
                             "rename it to sort after the applied ones, or confirm the order is meant")
                      for n in report.out_of_order]
        for e in settings.environments:  # a history kept under an old key (ops.history)
            said = await history.note(journal, e, settings.environments)
            if said:
                stuck = "not adopted" in said and "not adopted: not yet" not in said
                found.append(failed(f"{e.name}: {said}", "its applied migrations look pending until it is adopted")
                             if stuck else passed(f"{e.name}: {said}"))
        return found
    finally:
        await journal.close()


async def run_checks(settings: BotSettings, *, target: Target | None = None) -> list[Finding]:
    ops = settings.ops
    register_secret(settings.discord.token)
    target = target or build_target(ops)
    name = registry.spec(ops.target).name
    intro = passed(f"settings are valid (TARGET={name}: {target.describe()}, DB_PATH={ops.engine.db_path})")

    async def health() -> list[Finding]:
        return [await check_health_url(ops, target)]

    async def local(check: Callable[[], list[Finding]]) -> list[Finding]:
        return await asyncio.to_thread(check)

    groups = await asyncio.gather(
        guarded("the app host", lambda: check_app_host(ops, target)),
        guarded("the migrations", lambda: local(lambda: check_migrations(ops.engine.migrations_dir))),
        guarded("HEALTH_URL", health),
        guarded("the journal", lambda: local(lambda: check_journal(ops.engine.state_db))),
        guarded("the ledger", lambda: check_ledger(settings, target)),
        guarded("Discord", lambda: check_discord(settings)),
    )
    return [intro, *(finding for group in groups for finding in group)]


def report(findings: list[Finding]) -> str:
    lines = [f.line() for f in findings]
    bad = sum(not f.ok for f in findings)
    lines.append(f"{len(findings) - bad} passed, {bad} failed" if bad else f"all {len(findings)} checks passed")
    return "\n".join(lines)
