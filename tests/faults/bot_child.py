"""OpsBot in a process of its own, pointed at the loopback Discord stand-in of a test.

The SIGKILL test runs this, kills it mid-migration and starts the bot again on the same journal.
Usage (from the repository root, PYTHONPATH=.):

    python -m tests.faults.bot_child API_BASE GATEWAY_URL STATE_DB DB_PATH MIGRATIONS_DIR

API_BASE and GATEWAY_URL are the stand-in's ``api_base`` and ``gateway_url``: the same two
class-level URLs the test plugin's ``discord_pointed_at`` swaps in. With CHILD_TARGET=fly in the
environment the bot reaches the database through the stand-in fly (FLYCTL, FLY_STANDIN_STATE and
FLY_API_TOKEN name it), as it would on Fly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import discord.gateway
import discord.http
import yarl

from bot.app import OpsBot
from ops.context import Engine
from ops.journal import Journal
from ops.redact import install_log_redaction
from ops.targets.base import Target
from ops.targets.fly import FlyTarget
from ops.targets.local import LocalTarget
from tests.bot_harness import bot_settings
from tests.discord_standin import constants as c


async def run(api_base: str, gateway_url: str, state_db: str, db_path: str, migrations: str) -> None:
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    journal = await Journal.open(state_db)
    engine = Engine(target=target(), journal=journal, db_path=db_path, migrations_dir=Path(migrations),
                    work_dir=Path(state_db).parent / "work", busy_timeout_ms=2000, phase_timeout_s=120)
    bot = OpsBot(settings=bot_settings(), engine=engine, guild_ready_timeout=0.05)
    try:
        async with bot:
            await bot.start(c.BOT_TOKEN, reconnect=False)
    finally:
        await journal.close()


def target() -> Target:
    if os.environ.get("CHILD_TARGET") == "fly":
        return FlyTarget(os.environ["FLY_APP"], flyctl=os.environ["FLYCTL"], api_token=os.environ["FLY_API_TOKEN"])
    return LocalTarget()


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    install_log_redaction()
    asyncio.run(run(*sys.argv[1:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
