"""Editing cards already in the channel when what they show has changed (a run interrupted,
rolled back): a line on top, a colour, the buttons taken off."""

from __future__ import annotations

import logging

import discord

from bot.states import retitle

log = logging.getLogger(__name__)


async def mark_card(client: discord.Client, channel_id: int, message_id: int, line: str, *,
                    state: str, footer: str = "") -> None:
    try:
        message = await client.get_partial_messageable(channel_id).fetch_message(message_id)
        embed = message.embeds[0] if message.embeds else discord.Embed()
        retitle(embed, state)
        description = embed.description or ""
        if not description.startswith(line):
            embed.description = f"{line}\n\n{description}"[:4000]
        if footer:
            embed.set_footer(text=footer)
        await message.edit(embed=embed, view=None)
    except discord.HTTPException as exc:
        log.warning("could not edit message %s: %s", message_id, exc)


async def mark_run_cards(client: discord.Client, messages: list[tuple[int, int]], line: str, *,
                         state: str, footer: str = "", skip: int = 0) -> None:
    for channel_id, message_id in messages:
        if message_id != skip:
            await mark_card(client, channel_id, message_id, line, state=state, footer=footer)
