"""Drift watch (ops.drift): each environment's schema compared on a schedule; a change made outside
opsbot is posted once in the ops channel. Thin: schedule, call ops.drift.check, render."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.app import OpsBot
from bot.render import simple_embed
from ops import drift
from ops.context import Engine
from ops.errors import OpsError
from ops.units import short_hash

log = logging.getLogger(__name__)
JOB_ID = "drift-check"


class DriftCog(commands.Cog, name="drift"):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        interval = self.bot.settings.drift_interval_s
        if not interval:
            return
        for env, engine in self.bot.engines.items():
            self.bot.scheduler.add_job(self.check, "interval", args=(engine,), seconds=interval,
                                       id=f"{JOB_ID}:{env}", max_instances=1, coalesce=True, replace_existing=True)

    async def cog_unload(self) -> None:
        for env in self.bot.engines:
            if self.bot.scheduler.get_job(f"{JOB_ID}:{env}"):
                self.bot.scheduler.remove_job(f"{JOB_ID}:{env}")

    async def check(self, engine: Engine) -> list[drift.Drift]:
        try:
            found = await drift.check(engine)
        except OpsError as exc:  # the host is unreachable now: the next check tries again
            log.warning("drift check of %s failed: %s", engine.env_name, exc.message)
            return []
        except Exception:  # a failing job must never kill the scheduler
            log.exception("drift check of %s crashed", engine.env_name)
            return []
        for each in found:
            await self.post(engine, each)
        return found

    async def post(self, engine: Engine, found: drift.Drift) -> None:
        lines = [f"The schema of **{found.env}** changed outside opsbot (fingerprint `{short_hash(found.before)}` → "
                 f"`{short_hash(found.after)}`): no opsbot run made this change.",
                 "```diff\n" + ("\n".join(found.changes) or "(only the order or text of the schema)")[:3500] + "\n```",
                 "If this was not meant, find out who changed it; `/migrate verify` checks the database, and "
                 "`/migrate pending` shows what opsbot applied."]
        embed = simple_embed(f"⚠ Schema drift on {found.env}", lines, ok=False)
        embed.colour = discord.Colour.orange()
        try:
            await (await self.bot.ops_channel(engine)).send(embed=embed)
        except discord.HTTPException as exc:
            log.warning("could not post the drift of %s: %s", found.env, exc)


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(DriftCog(bot))
