"""Reactions on request cards of every kind (migration, code revert), their expiry, and making the
channel true again after a start or a reconnect. Thin: the rules are ops.requests'; the showing is
bot.approval_desk's and bot.reconcile's."""

from __future__ import annotations

import discord
from discord.ext import commands, tasks

from bot.app import OpsBot
from bot.approval_desk import ApprovalDesk
from bot.reconcile import Reconciler


class ApprovalsCog(commands.Cog, name="approvals"):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot
        self.desk = ApprovalDesk(bot)
        self.reconciler = Reconciler(bot, self.desk)

    async def cog_load(self) -> None:
        self.expire_loop.start()

    async def cog_unload(self) -> None:
        self.expire_loop.cancel()

    @tasks.loop(seconds=15)
    async def expire_loop(self) -> None:
        await self.desk.expire_due()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.reconciler.run("start")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        await self.reconciler.run("reconnect")

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.desk.on_reaction(payload)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.desk.on_reaction_removed(payload)


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(ApprovalsCog(bot))
