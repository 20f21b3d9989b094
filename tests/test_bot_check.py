"""`python -m bot check`: a healthy setup passes; each broken piece is a ✘ line with its fix.

Real parts throughout: SQLite files and the sqlite3 CLI, the stand-in `fly` executable, a
local aiohttp health server, and the real discord.py client against the loopback Discord.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import pytest
from aiohttp import web

from bot.check import Finding, missing_permissions, report, run_checks
from ops.config import load_settings
from ops.targets.base import Target
from tests.bot_harness import bot_settings
from tests.conftest import REPO
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.discord_standin.validation import spec_path_from_env

if TYPE_CHECKING:
    from tests.fakefly.plugin import FakeFly

BAD_MIGRATION = "-- requires: user_settings\nVACUUM;\nDELETE FROM user_settings;\nCOMMIT;\nSELECT 1;\n"


@pytest.fixture
async def health_url() -> AsyncIterator[str]:
    async def health(_: web.Request) -> web.Response:
        return web.Response(text='{"status": "ok"}')

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/health"
    await runner.cleanup()


def dead_url() -> str:
    """A URL on a port nobody listens on: connection refused, at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


@pytest.fixture
def env(tmp_path: Path, app_db: Path, migrations_dir: Path, health_url: str,
        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A healthy local setup; tests break one piece at a time."""
    monkeypatch.delenv("FLY_APP_NAME", raising=False)  # set on Fly machines only
    return {"TARGET": "local", "DB_PATH": str(app_db), "MIGRATIONS_DIR": str(migrations_dir),
            "STATE_DB": str(tmp_path / "state" / "opsbot.db"), "HEALTH_URL": health_url}


@pytest.fixture
def fly_env(env: dict[str, str], fakefly: FakeFly, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The same setup reached through the stand-in flyctl."""
    for name, value in fakefly.env.items():
        monkeypatch.setenv(name, value)
    return {**env, "TARGET": "fly", "FLYCTL": str(fakefly.bin), "FLY_APP": fakefly.app,
            "FLY_API_TOKEN": fakefly.token}


async def check(env: dict[str, str], *, target: Target | None = None, **discord: Any) -> list[Finding]:
    return await run_checks(bot_settings(load_settings(env), **discord), target=target)


def failures(findings: list[Finding]) -> list[str]:
    return [f.line() for f in findings if not f.ok]


def only_failure(findings: list[Finding]) -> str:
    bad = failures(findings)
    assert len(bad) == 1, report(findings)
    return bad[0]


# --- healthy setups ------------------------------------------------------------------------


async def test_healthy_local_setup_passes(env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    findings = await check(env)
    text = report(findings)
    assert failures(findings) == [], text
    for expected in ("✔ TARGET=local", "has sqlite3 3.", "tables, user_version 7",
                     "0001_remove_suspend.sql lints clean", "HEALTH_URL answers: HTTP 200", "is writable",
                     "Discord accepted the token", "operator role @operator", "approver role @approver", "#ops"):
        assert expected in text, text
    assert text.endswith("checks passed")
    assert c.BOT_TOKEN not in text and c.BOT_TOKEN not in discord_standin.dump().replace(
        f"Bot {c.BOT_TOKEN}", "")
    # Only REST reads: no gateway session, nothing posted.
    assert discord_standin.gateway.identify is None
    assert {r.method for r in discord_standin.requests} == {"GET"}


async def test_healthy_fly_setup_passes(fly_env: dict[str, str], fakefly: FakeFly,
                                        discord_standin: DiscordStandIn) -> None:
    findings = await check(fly_env)
    text = report(findings)
    assert failures(findings) == [], text
    for expected in ("flyctl fly v0.3.0-fakefly", "flyctl is authenticated for timelogger-staging",
                     "has a started machine: 148e21ea3e0d89", "fly:timelogger-staging) has sqlite3",
                     "sqlite3 CLI here"):
        assert expected in text, text
    commands = {" ".join(argv[:2]) for argv in fakefly.argvs()}
    assert commands == {"version", "status --app", "machine list", "ssh console"}, commands
    assert fakefly.token not in text


# --- the app host ----------------------------------------------------------------------------


async def test_flyctl_missing(fly_env: dict[str, str], tmp_path: Path, discord_standin: DiscordStandIn) -> None:
    findings = await check({**fly_env, "FLYCTL": str(tmp_path / "nowhere" / "fly")})
    bad = failures(findings)
    assert len(bad) == 2, report(findings)
    assert bad[0].startswith("✘ flyctl not found") and "→ install it" in bad[0] and "set FLYCTL" in bad[0]
    assert bad[1].startswith("✘ sqlite3 and the database on timelogger-staging were not checked")


async def test_flyctl_not_authenticated(fly_env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    findings = await check({**fly_env, "FLY_API_TOKEN": "FlyV1 fm2_some-other-apps-token-000"})
    bad = failures(findings)
    assert "flyctl cannot read the app timelogger-staging" in bad[0], report(findings)
    assert "fly tokens create deploy" in bad[0]
    assert "some-other-apps-token" not in report(findings)


async def test_no_started_machine(fly_env: dict[str, str], fakefly: FakeFly,
                                  discord_standin: DiscordStandIn) -> None:
    fakefly.set_machines([{"id": "3d8d9e1b2c4f87", "state": "stopped"}])
    findings = await check(fly_env)
    bad = failures(findings)
    assert bad[0].startswith("✘ timelogger-staging has no started machine (3d8d9e1b2c4f87 stopped)"), bad
    assert "`fly machine start 3d8d9e1b2c4f87 --app timelogger-staging`" in bad[0]
    assert "never `fly scale count 0`" in bad[0]
    assert len(bad) == 2 and "were not checked" in bad[1]
    assert not [argv for argv in fakefly.argvs() if argv[:2] == ["ssh", "console"]]


async def test_sqlite3_missing_on_the_fly_host(fly_env: dict[str, str], fakefly: FakeFly, tmp_path: Path,
                                               discord_standin: DiscordStandIn) -> None:
    # The machine's PATH comes from flyctl's environment: give it python3 (for the stand-in
    # itself) and sh, but no sqlite3, like an app image built without it.
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    sh = shutil.which("sh")
    assert sh
    (bare / "sh").symlink_to(os.path.realpath(sh))
    (bare / "python3").symlink_to(os.path.realpath(sys.executable))
    target = fakefly.target(env={"PATH": str(bare)})
    findings = await check(fly_env, target=target)
    bad = failures(findings)
    assert len(bad) == 2, report(findings)
    assert bad[0].startswith("✘ the sqlite3 CLI on fly:timelogger-staging: the sqlite3 CLI is not installed")
    assert "Install it in the app's image (Debian: apt-get install sqlite3" in bad[0]
    assert "was not checked → install sqlite3 on the app host first" in bad[1]


async def test_database_missing(env: dict[str, str], tmp_path: Path, discord_standin: DiscordStandIn) -> None:
    missing = tmp_path / "volume" / "typo.db"
    line = only_failure(await check({**env, "DB_PATH": str(missing)}))
    assert line.startswith(f"✘ the database {missing}: there is no database at {missing}"), line
    assert "→ Check DB_PATH" in line
    assert not missing.exists()  # sqlite3 would have created an empty file


# --- migrations, health, journal ---------------------------------------------------------


async def test_migration_with_a_lint_error(env: dict[str, str], migrations_dir: Path,
                                           discord_standin: DiscordStandIn) -> None:
    (migrations_dir / "0002_bad.sql").write_text(BAD_MIGRATION)
    findings = await check(env)
    bad = failures(findings)
    assert len(bad) == 2, report(findings)
    assert bad[0].startswith("✘ migration 0002_bad.sql: error: line 2: VACUUM cannot run inside a transaction")
    assert bad[1].startswith("✘ migration 0002_bad.sql: error: line 4: COMMIT commits part of the migration")
    assert "→ edit 0002_bad.sql" in bad[0]
    assert any("0001_remove_suspend.sql lints clean" in f.line() for f in findings)


async def test_no_migrations(env: dict[str, str], tmp_path: Path, discord_standin: DiscordStandIn) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = only_failure(await check({**env, "MIGRATIONS_DIR": str(empty)}))
    assert line.startswith(f"✘ MIGRATIONS_DIR {empty} has no .sql migrations")


async def test_health_url_down_and_unset(env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    url = dead_url()
    line = only_failure(await check({**env, "HEALTH_URL": url}))
    assert line.startswith(f"✘ HEALTH_URL {url} failed: connection failed"), line
    assert "→ check the URL and the app" in line
    findings = await check({**env, "HEALTH_URL": ""})
    assert failures(findings) == []
    assert "✔ HEALTH_URL is not set: health check skipped" in report(findings)


async def test_journal_not_writable(env: dict[str, str], tmp_path: Path, discord_standin: DiscordStandIn) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = only_failure(await check({**env, "STATE_DB": str(blocker / "opsbot.db")}))
    assert line.startswith(f"✘ the journal STATE_DB={blocker / 'opsbot.db'} is not writable"), line
    assert "[mounts] in fly.toml" in line


async def test_journal_off_the_volume_on_fly(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                             discord_standin: DiscordStandIn) -> None:
    monkeypatch.setenv("FLY_APP_NAME", "timelogger-ops")  # as on a Fly machine
    line = only_failure(await check(env))
    assert "is not a volume: runs, approvals and locks would be lost on every deploy" in line
    assert "fly volumes create opsbot_state" in line


# --- Discord ---------------------------------------------------------------------------------


async def test_unknown_channel_and_role_ids(env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    findings = await check(env, ops_channel_id=c.OPS_CHANNEL_ID + 999, approver_role_id=c.APPROVER_ROLE_ID + 999)
    bad = failures(findings)
    assert len(bad) == 2, report(findings)
    assert bad[0].startswith(f"✘ APPROVER_ROLE_ID={c.APPROVER_ROLE_ID + 999}: no such role in 'ops-staging'")
    assert "Copy Role ID" in bad[0]
    assert bad[1].startswith(f"✘ OPS_CHANNEL_ID={c.OPS_CHANNEL_ID + 999}: no such channel")
    assert "Copy Channel ID" in bad[1]


async def test_unknown_guild(env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    line = only_failure(await check(env, guild_id=c.GUILD_ID + 999))
    assert line.startswith(f"✘ DISCORD_GUILD_ID={c.GUILD_ID + 999}: the bot is not in that server")
    assert "applications.commands" in line
    assert [p for p in discord_standin.problems() if "Missing Access" in p]  # Discord's answer: 403
    discord_standin.clear_problems()


async def test_bot_lacking_permissions_in_the_channel(env: dict[str, str],
                                                      discord_standin: DiscordStandIn) -> None:
    # The bot's permissions come from @everyone and its own role: take two away from both.
    for role_id in (c.EVERYONE_ROLE_ID, c.BOT_ROLE_ID):
        discord_standin.world.roles[role_id].permissions &= ~(c.ATTACH_FILES | c.ADD_REACTIONS)
    line = only_failure(await check(env))
    assert line.startswith("✘ the bot lacks Attach Files, Add Reactions in #ops"), line
    assert "→ Edit Channel #ops → Permissions → the bot's role: allow Attach Files, Add Reactions" in line


async def test_thread_permissions_are_checked(env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    assert "✔ the bot can start a thread per run in #ops" in report(await check(env))
    await discord_standin.deny_threads(channel_id=c.OPS_CHANNEL_ID)
    line = only_failure(await check(env))
    assert line.startswith("✘ the bot cannot start a thread per run in #ops (it lacks Create Public Threads, "
                           "Send Messages in Threads): each run is posted in the channel instead"), line
    assert "allow Create Public Threads, Send Messages in Threads" in line


def test_missing_permissions_names_each_one() -> None:
    assert missing_permissions(discord.Permissions(c.EVERYONE_PERMISSIONS)) == []
    assert missing_permissions(discord.Permissions(c.ADMINISTRATOR)) == []
    assert missing_permissions(discord.Permissions.none()) == [
        "View Channel", "Send Messages", "Embed Links", "Attach Files", "Add Reactions", "Read Message History"]
    without = discord.Permissions(c.EVERYONE_PERMISSIONS & ~(c.READ_MESSAGE_HISTORY | c.EMBED_LINKS))
    assert missing_permissions(without) == ["Embed Links", "Read Message History"]


async def test_bad_discord_token(env: dict[str, str], discord_standin: DiscordStandIn) -> None:
    wrong = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.not-the-bots-token-0000000000000"
    line = only_failure(await check(env, token=wrong))
    assert line == ("✘ Discord refused the token → Developer Portal → your application → Bot → Reset Token, "
                    "then set DISCORD_TOKEN (on Fly: `fly secrets set DISCORD_TOKEN=…`)")
    assert [p for p in discord_standin.problems() if "401" in p]
    discord_standin.clear_problems()


# --- the command itself ----------------------------------------------------------------------

# A token of the shape load_bot_settings accepts (the stand-in's default one is not).
SHAPED_TOKEN = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.standin-shaped-token-for-python-m-bot"
# discord.py's URLs are class attributes: the child process points them at the stand-in here.
HOOK = '''import os
if os.environ.get("OPSBOT_TEST_DISCORD"):
    import discord.gateway, discord.http, yarl
    discord.http.Route.BASE = os.environ["OPSBOT_TEST_DISCORD"] + "/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["OPSBOT_TEST_DISCORD"])
'''
SETTING_NAMES = ("TARGET", "DB_PATH", "FLY_APP", "FLYCTL", "FLY_API_TOKEN", "FLY_MACHINE", "MIGRATIONS_DIR",
                 "STATE_DB", "HEALTH_URL", "HEALTH_EXPECT", "DISCORD_TOKEN", "DISCORD_GUILD_ID", "OPS_CHANNEL_ID",
                 "OPERATOR_ROLE_ID", "APPROVER_ROLE_ID", "FLY_APP_NAME")


async def python_m_bot_check(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `python -m bot check` in a child process; this loop keeps serving the stand-ins."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    full = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    full.update(env, PYTHONPATH=f"{hook}{os.pathsep}{REPO}")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check", cwd=tmp_path, env=full,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def discord_env(standin: DiscordStandIn) -> dict[str, str]:
    return {"OPSBOT_TEST_DISCORD": standin.base_url, "DISCORD_TOKEN": SHAPED_TOKEN,
            "DISCORD_GUILD_ID": str(c.GUILD_ID), "OPS_CHANNEL_ID": str(c.OPS_CHANNEL_ID),
            "OPERATOR_ROLE_ID": str(c.OPERATOR_ROLE_ID), "APPROVER_ROLE_ID": str(c.APPROVER_ROLE_ID)}


async def test_python_m_bot_check_on_a_broken_setup(fly_env: dict[str, str], fakefly: FakeFly,
                                                    migrations_dir: Path, tmp_path: Path) -> None:
    fakefly.set_machines([{"id": "3d8d9e1b2c4f87", "state": "stopped"}])
    (migrations_dir / "0002_bad.sql").write_text(BAD_MIGRATION)
    standin = DiscordStandIn(token=SHAPED_TOKEN, spec_path=spec_path_from_env())
    standin.world.roles[c.BOT_ROLE_ID].permissions &= ~c.ATTACH_FILES
    standin.world.roles[c.EVERYONE_ROLE_ID].permissions &= ~c.ATTACH_FILES
    await standin.start()
    try:
        env = {**fly_env, **discord_env(standin), "HEALTH_URL": dead_url(),
               "FLY_STANDIN_STATE": str(fakefly.state_dir)}
        code, out, err = await python_m_bot_check(tmp_path, env)
    finally:
        await standin.stop()
    assert code == 1, out + err
    lines = out.splitlines()
    for start in ("✘ timelogger-staging has no started machine (3d8d9e1b2c4f87 stopped) → `fly machine start",
                  "✘ sqlite3 and the database on timelogger-staging were not checked",
                  "✘ migration 0002_bad.sql: error: line 2: VACUUM",
                  "✘ HEALTH_URL http://127.0.0.1:",
                  "✘ the bot lacks Attach Files in #ops"):
        assert any(line.startswith(start) for line in lines), out
    assert all(line.startswith(("✔ ", "✘ ")) for line in lines[:-1]), out
    assert lines[-1] == "10 passed, 6 failed", out
    assert SHAPED_TOKEN not in out + err and fakefly.token not in out + err
    assert standin.problems() == []


async def test_python_m_bot_check_exits_2_on_invalid_settings(tmp_path: Path) -> None:
    code, out, err = await python_m_bot_check(tmp_path, {"DISCORD_TOKEN": SHAPED_TOKEN, "OPS_CHANNEL_ID": "ops"})
    assert code == 2 and out == ""
    assert "DISCORD_GUILD_ID is missing" in err and "OPS_CHANNEL_ID='ops'" in err
    assert SHAPED_TOKEN not in err


async def test_healthy_setup_prints_only_ticks(env: dict[str, str], tmp_path: Path) -> None:
    standin = DiscordStandIn(token=SHAPED_TOKEN, spec_path=spec_path_from_env())
    await standin.start()
    try:
        code, out, err = await python_m_bot_check(tmp_path, {**env, **discord_env(standin)})
    finally:
        await standin.stop()
    assert code == 0, out + err
    assert all(line.startswith("✔ ") for line in out.splitlines()[:-1]), out
    assert out.splitlines()[-1].startswith("all ") and standin.problems() == []


async def test_an_applied_migration_edited_since_is_flagged(env: dict[str, str], migrations_dir: Path,
                                                           discord_standin: DiscordStandIn) -> None:
    from tests.test_cli import cli

    done = cli("--json", "migrate", "0001_remove_suspend.sql", "--yes", env={**env, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout
    assert failures(await check(env)) == []  # the control: applied as it is
    path = migrations_dir / "0001_remove_suspend.sql"
    path.write_text(path.read_text() + "\n-- a note added afterwards\n")
    text = report(await check(env))
    assert "0001_remove_suspend.sql on this machine (applied by run #" in text and "only its comments" in text
    assert failures(await check(env)) == [], "a comment is flagged, not failed"
    path.write_text(path.read_text().replace("PRAGMA user_version = 8;", "PRAGMA user_version = 9;"))
    [bad] = failures(await check(env))
    assert "its SQL changed since it was applied" in bad and "put further changes in a new migration" in bad
