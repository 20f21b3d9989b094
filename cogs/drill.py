"""Scheduled restore drills (ops.drill), one job per environment (DRILL_INTERVAL_S, nightly by
default); `/migrate drill` runs one on demand. Thin: schedule, call, and bot.drill_card shows it."""

from __future__ import annotations

import logging

from discord.ext import commands

from bot.app import OpsBot
from bot.drill_card import drill_and_show
from ops.context import Engine
from ops.errors import OpsError

log = logging.getLogger(__name__)
JOB_ID = "restore-drill"


class DrillCog(commands.Cog, name="drill"):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        for env, engine in self.bot.engines.items():
            interval = engine.settings.engine.drill_interval_s
            if interval:
                self.bot.scheduler.add_job(self.drill, "interval", args=(engine,), seconds=interval,
                                           id=f"{JOB_ID}:{env}", max_instances=1, coalesce=True,
                                           replace_existing=True)

    async def cog_unload(self) -> None:
        for env in self.bot.engines:
            if self.bot.scheduler.get_job(f"{JOB_ID}:{env}"):
                self.bot.scheduler.remove_job(f"{JOB_ID}:{env}")

    async def drill(self, engine: Engine) -> None:
        try:
            await drill_and_show(self.bot, engine, None, "scheduled drill")
        except OpsError as exc:  # no backup yet, or the host unreachable: said on its card already
            log.warning("the scheduled drill of %s did not run: %s", engine.env_name, exc.message)
        except Exception:  # a failing job must never kill the scheduler
            log.exception("the scheduled drill of %s crashed", engine.env_name)


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(DrillCog(bot))
