"""Start the real OpsBot against the loopback Discord stand-in, on the local target."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

from bot.app import EXTENSIONS, OpsBot
from bot.settings import BotSettings, DiscordSettings
from ops.context import Engine
from ops.environments import Environment
from ops.settings import Settings
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn


def bot_settings(ops: Settings | None = None, **discord: Any) -> BotSettings:
    """The stand-in's Discord IDs; ``discord`` overrides DiscordSettings fields."""
    values: dict[str, Any] = dict(
        token=c.BOT_TOKEN, guild_id=c.GUILD_ID, ops_channel_id=c.OPS_CHANNEL_ID,
        operator_role_id=c.OPERATOR_ROLE_ID, approver_role_id=c.APPROVER_ROLE_ID, approval_timeout_s=1800,
    )
    values.update(discord)
    return BotSettings(ops=ops or Settings(), discord=DiscordSettings(**values))


class RunningBot:
    def __init__(self, bot: OpsBot, task: asyncio.Task[None]) -> None:
        self.bot, self.task = bot, task

    async def stop(self) -> None:
        await self.bot.close()
        await asyncio.wait_for(self.task, timeout=10)


async def start_bot(standin: DiscordStandIn, engine: Engine, *, engine_settings: Settings | None = None,
                    engines: tuple[Engine, ...] = (), environments: tuple[Environment, ...] = (),
                    extensions: tuple[str, ...] = EXTENSIONS, **settings: Any) -> RunningBot:
    """``engines``: more environments beside ``engine`` (the first), sharing its journal;
    ``environments``: what opsbot.toml said of them (their own ops channels); ``extensions``: the
    cogs it loads (all of them unless a test leaves some out)."""
    if engine_settings is not None:
        engine.settings = engine_settings  # the engine a bot runs is built from its ops settings
    chosen = dataclasses.replace(bot_settings(engine.settings, **settings), environments=environments)
    bot = OpsBot(settings=chosen, engine=engine, engines=engines, extensions=extensions,
                 guild_ready_timeout=0.05)
    await bot.login(c.BOT_TOKEN)
    task = asyncio.create_task(bot.connect(reconnect=False))
    await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
    return RunningBot(bot, task)


def advance_clock(bot: OpsBot, seconds: float) -> None:
    """Move the bot's approvals clock forward: expiry is tested by moving time, not by editing rows."""
    before = bot.approvals.clock
    bot.approvals.clock = lambda: before() + seconds


def user_version(db: str | Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def button_ids(message: Any) -> list[str]:
    return [comp.get("custom_id", "") for comp in message.iter_components()]


def is_applied_run(m: Any) -> bool:
    """The card of an approved migration run that applied (bot.states: "✅ Applied: migrate X (request #N, …)"),
    not its request card, whose title shows the same state once the run is done."""
    return "✅ Applied: migrate" in m.text() and "(request #" in m.text()


def details_of(standin: Any, card: Any) -> Any:
    """A stand-alone phase's card in the channel shows its state in one line; its steps and details
    are the first message of the thread started from it."""
    thread = standin.thread_of(card.id)
    assert thread is not None, f"card {card.id} has no thread"
    return standin.thread_messages(thread.id)[0]
