"""A phase run from Discord: one card in the ops channel that shows its state in one line, and its
progress, steps and details in a thread started from it (bot.threads; without the permission, the
one card holds them as before); the invoker gets an ephemeral link to it; an expected failure
finishes the card before the error is raised.

A ``private`` phase (the preflight that ``/migrate run`` starts before it asks for approval) shows
its progress in the invoker's own answer instead, so the request card stays the run's one card in
the channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord

from bot import states
from bot.app import OpsBot, send_ephemeral
from bot.render import simple_embed
from bot.reporter import DiscordReporter, one_line_card
from bot.threads import thread_for
from ops.context import Engine
from ops.errors import OpsError

T = TypeVar("T")


async def with_progress(bot: OpsBot, interaction: discord.Interaction | None, what: str,
                        phase: Callable[[DiscordReporter], Awaitable[T]],
                        where: discord.abc.Messageable | None = None, *,
                        private: bool = False, engine: Engine | None = None) -> tuple[T, DiscordReporter]:
    """``what`` the card is about ("preflight 0001_x.sql"): titled 🔄 Running while it runs.
    ``where``: the run's thread (bot.threads) when it has one already (an approved request's); by
    default the phase's own card in the ops channel and a thread started from it."""
    title = states.title("running", what)
    if private and interaction is not None:
        # Not journaled as the run's card: an ephemeral answer cannot be edited after a restart.
        reporter = DiscordReporter(OwnAnswer(interaction), title)
        await reporter.start()
    else:
        reporter = (DiscordReporter(where, title, journal=bot.engine.journal) if where is not None
                    else await own_card(bot, engine, what, title))
        message = reporter.message or await reporter.start()
        if interaction is not None:
            await send_ephemeral(interaction, f"Started: {message.jump_url}")
    bot.active_reporters.add(reporter)
    try:
        result = await phase(reporter)
    except OpsError as exc:
        await reporter.finish(failure_card(what, reporter, exc))
        raise
    finally:
        bot.active_reporters.discard(reporter)
    return result, reporter


async def own_card(bot: OpsBot, engine: Engine | None, what: str, title: str) -> DiscordReporter:
    """A stand-alone phase (/migrate preflight, backup, verify, rollback, drill): its card in the ops
    channel, then its progress in the card's thread; where threads are refused, in the card itself."""
    channel = await bot.ops_channel(engine)
    card = await channel.send(embed=one_line_card(None, title=title))
    place = await thread_for(bot, card.channel.id, card.id, what)
    if not isinstance(place, discord.Thread):
        reporter = DiscordReporter(channel, title, journal=bot.engine.journal)
        await reporter.start(existing=card)
        return reporter
    reporter = DiscordReporter(place, title, journal=bot.engine.journal, card=card)
    await reporter.start()
    return reporter


class OwnAnswer:
    """The invoker's deferred answer as a place to show progress: only they see it."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction

    async def send(self, **kwargs: Any) -> discord.InteractionMessage:
        return await self.interaction.edit_original_response(**kwargs)


def failure_card(what: str, reporter: DiscordReporter, exc: OpsError) -> discord.Embed:
    """A phase that stopped with an expected error: its steps, what happened, what to do."""
    return simple_embed(states.title("failed", what), [reporter.steps_text(), "", f"**{exc.message}**",
                                      f"→ {exc.hint}" if exc.hint else ""], ok=False)


def actor(interaction: discord.Interaction) -> str:
    """Who did it, as the journal records people: name and id."""
    return f"{interaction.user.name} ({interaction.user.id})"
