"""One thread per run: the request card stays the one card in the ops channel; the run's progress,
its result, its follow-ups and the ping to the requester go into a thread started from it.

Without the Create Public Threads / Send Messages in Threads permissions the bot falls back to
posting in the channel as before, and says why once.
"""

from __future__ import annotations

import logging

import discord

from bot.app import OpsBot
from bot.render import simple_embed
from ops.approvals import Approval

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES = 1440  # a day: the run's thread stays in the channel's list through the night
NO_THREADS = ("ℹ opsbot cannot start threads here (it needs **Create Public Threads** and **Send Messages in "
              "Threads** in this channel), so each run's progress is posted in the channel instead. Grant them to "
              "the bot's role to keep one card per run here.")


async def thread_for(bot: OpsBot, channel_id: int | None, message_id: int | None,
                     name: str) -> discord.abc.Messageable:
    """The thread of this card (started now, or the one it already has), or the card's own channel
    (its environment's ops channel)."""
    if not channel_id or not message_id:
        return await bot.ops_channel()
    own = bot.get_channel(channel_id) or bot.get_partial_messageable(channel_id, guild_id=bot.settings.discord.guild_id)
    existing = bot.get_channel(message_id)  # a thread started from a message has the message's id
    if isinstance(existing, discord.Thread):
        return existing
    if message_id in bot.threadless:  # refused already (its preflight's steps): the run follows it
        return own  # type: ignore[return-value]
    # A thread needs the message's guild: a partial messageable without one cannot start it.
    message = bot.get_partial_messageable(channel_id, guild_id=bot.settings.discord.guild_id,
                                          type=discord.ChannelType.text).get_partial_message(message_id)
    try:
        return await message.create_thread(name=name[:100], auto_archive_duration=THREAD_ARCHIVE_MINUTES)
    except discord.Forbidden as exc:
        bot.threadless.add(message_id)
        await _say_no_threads_once(bot, exc, own)  # type: ignore[arg-type]
    except discord.HTTPException as exc:
        if exc.code == 160004:  # this message already has a thread (a retry, or a restart): use it
            try:
                found = await bot.fetch_channel(message_id)
                if isinstance(found, discord.Thread):
                    return found
            except discord.HTTPException as again:
                log.warning("could not fetch the thread of message %s: %s", message_id, again)
        else:
            log.warning("could not start a thread on message %s: %s", message_id, exc)
    return own  # type: ignore[return-value]


async def _say_no_threads_once(bot: OpsBot, exc: discord.Forbidden, where: discord.abc.Messageable) -> None:
    if bot.said_no_threads:
        return
    bot.said_no_threads = True
    log.warning("threads are not allowed in the ops channel (%s): posting runs in the channel", exc.text)
    try:
        await where.send(NO_THREADS)
    except discord.HTTPException as again:
        log.warning("could not say that threads are unavailable: %s", again)


def request_thread_name(a: Approval) -> str:
    return f"{a.kind} {a.subject} · request #{a.id}"


async def post_preflight_steps(bot: OpsBot, card: discord.Message, a: Approval, steps: str) -> None:
    """The preflight that a request just ran, step by step, as the first message of the request's
    thread (its result is on the card itself)."""
    place = await thread_for(bot, card.channel.id, card.id, request_thread_name(a))
    try:
        await place.send(embed=simple_embed(f"Preflight of {a.subject}: its steps", [steps]))
    except discord.HTTPException as exc:
        log.warning("could not post the preflight of request #%s: %s", a.id, exc)
