"""A restore drill shown in the channel (ops.drill): one card, ✅ passed or ❌ failed; a failed
drill pings the alert role, because the way back it tested is not there."""

from __future__ import annotations

import logging

import discord

from bot import states
from bot.app import OpsBot
from bot.progress import with_progress
from bot.render import rows_block, simple_embed
from ops.context import Engine
from ops.drill import DrillResult, run_drill

log = logging.getLogger(__name__)


async def drill_and_show(bot: OpsBot, engine: Engine, interaction: discord.Interaction | None,
                         who: str) -> DrillResult:
    on = f" on {engine.env}" if engine.env else ""
    result, rep = await with_progress(bot, interaction, f"restore drill{on}",
                                      lambda r: run_drill(engine, reporter=r, actor=who), engine=engine)
    name = result.backup.rsplit("/", 1)[-1]
    title = states.phase_title(result.ok, f"restore drill{on} of {name} (by {who.split(' (')[0]})")
    lines = [rep.steps_text()]
    if not result.ok:
        lines += ["", "**This backup would not restore as recorded.** Take a new backup now (`/migrate backup`), "
                      "and find out what damaged this one before relying on it."]
    fields = {"Taken": f"<t:{int(result.taken_at)}:f> (<t:{int(result.taken_at)}:R>), restored from the "
                       f"{'copy off the host' if result.source == 'offsite' else 'host'}",
              "Rows in the restored copy": rows_block(result.counts) if result.counts else "none"}
    embed = simple_embed(title, lines, ok=result.ok, fields=fields)
    role = bot.settings.discord.alert_role_id
    content = f"<@&{role}> a restore drill failed" if role and not result.ok else None
    mentions = discord.AllowedMentions(everyone=False, users=False,
                                       roles=[discord.Object(role)] if content else False)
    if content and rep.shown is not None:
        # The role is pinged in a new message's content (an edit notifies no one): in the card's thread
        # (a mention there notifies too), so the card stays the drill's one card in the channel.
        await rep.finish(embed)
        place = rep.channel if rep.card is not None else await bot.ops_channel(engine)
        try:
            await place.send(content=f"{content}: {rep.shown.jump_url}", allowed_mentions=mentions)
        except discord.HTTPException as exc:
            log.warning("could not ping the alert role about the failed drill: %s", exc)
    else:
        await rep.finish(embed)
    return result
