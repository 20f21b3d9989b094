"""The Bot subclass: dependencies passed in (discord.py's examples/advanced_startup.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord import app_commands
from discord.ext import commands

from bot.settings import BotSettings
from bot.views import RunAction
from ops.approvals import Approval, Approvals
from ops.context import Engine
from ops.errors import OpsError
from ops.redact import redact

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.approvals", "cogs.migrate", "cogs.health", "cogs.deploy", "cogs.drift", "cogs.drill")


class Refused(app_commands.CheckFailure):
    """A user may not do this here (wrong guild, missing role, two-person rule)."""


class OpsBot(commands.Bot):
    def __init__(self, *, settings: BotSettings, engine: Engine, extensions: tuple[str, ...] = EXTENSIONS,
                 engines: tuple[Engine, ...] = (), **kwargs: Any) -> None:
        """``engine``: the first (default) environment's; ``engines``: the others opsbot.toml names,
        sharing its journal."""
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default(), **kwargs)
        if settings.ops != engine.settings:
            # One source: the ops settings the engine was built from are what every cog reads
            # (bot.engine.settings); a second, different copy would be silently ignored.
            raise ValueError("the bot's ops settings differ from the ones its engine was built with")
        self.settings = settings
        self.engine = engine
        self.engines: dict[str, Engine] = {e.env: e for e in (engine, *engines)}
        # An environment may have its own ops channel (opsbot.toml ops_channel_id); else the shared one.
        self.channel_ids: dict[str, int] = {e.name: e.ops_channel_id for e in settings.environments
                                            if e.ops_channel_id}
        self.approvals = Approvals(engine.journal)
        self.initial_extensions = extensions
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        # Progress reporters of runs in flight, so the health monitor can note its state there.
        self.active_reporters: set[Any] = set()
        # Approved requests run through the executor their kind registered (kind → coroutine).
        self.approval_executors: dict[str, Callable[[Approval, str], Awaitable[None]]] = {}
        # Run buttons (bot.views.RunAction) dispatch through these (action → handler).
        self.said_no_threads = False  # the fallback to the channel is announced once per process
        self.threadless: set[int] = set()  # cards Discord refused a thread: asked once per card
        self.run_actions: dict[str, Callable[[discord.Interaction, int, int | None], Awaitable[None]]] = {}

    async def setup_hook(self) -> None:
        self.scheduler.start()
        self.add_dynamic_items(RunAction)
        for ext in self.initial_extensions:
            await self.load_extension(ext)
        self.tree.on_error = self.on_tree_error
        self.tree.interaction_check = self.in_our_guild  # type: ignore[method-assign]
        guild = discord.Object(id=self.settings.discord.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def close(self) -> None:
        for reporter in list(self.active_reporters):
            if hasattr(reporter, "close"):
                reporter.close()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await super().close()

    def env_names(self) -> list[str]:
        return [name for name in self.engines if name]

    def engine_for(self, environment: str | None) -> Engine:
        """The engine of the environment a command names; the first one when it names none."""
        if not environment:
            return self.engine
        found = self.engines.get(environment)
        if found is None:
            known = ", ".join(self.env_names()) or "only the one this bot was started with"
            raise OpsError(f"there is no environment called {environment!r}", hint=f"Environments: {known}.")
        return found

    def engine_by_key(self, key: str) -> Engine:
        """The engine whose journal rows (runs, requests, locks) carry ``key``; a row of an
        environment this bot does not serve (the config changed since) is refused, not run on
        another environment."""
        found = next((e for e in self.engines.values() if e.key == key), None)
        if found is None:
            raise OpsError(f"this belongs to the environment {key!r}, which this opsbot does not serve",
                           hint="Nothing was done. Add it back to opsbot.toml, or act on it by hand.")
        return found

    async def engine_of_run(self, run_id: int) -> Engine:
        run = await self.engine.journal.run(run_id)
        if run is None:
            raise OpsError(f"run #{run_id} is not in the journal", hint="Nothing was done; see /migrate history.")
        return self.engine_by_key(run.target)

    async def in_our_guild(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id != self.settings.discord.guild_id:
            raise Refused("opsbot only works in its own server.")
        return True

    def is_ops_channel(self, channel_id: int) -> bool:
        return channel_id == self.settings.discord.ops_channel_id or channel_id in self.channel_ids.values()

    async def ops_channel(self, engine: Engine | None = None) -> discord.abc.Messageable:
        """The ops channel, or the environment's own when opsbot.toml gives it one."""
        channel_id = self.channel_ids.get(engine.env, 0) if engine is not None else 0
        channel_id = channel_id or self.settings.discord.ops_channel_id
        channel = self.get_channel(channel_id)
        if channel is None:
            channel = await self.fetch_channel(channel_id)
        assert isinstance(channel, discord.abc.Messageable)
        return channel

    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The one error handler: an ephemeral reply that says what happened and what to do."""
        original = getattr(error, "original", error)
        if isinstance(original, OpsError):
            text = f"✘ {original.message}" + (f"\n→ {original.hint}" if original.hint else "")
        elif isinstance(error, app_commands.CheckFailure):
            text = f"✘ {error}"
        else:
            log.error("command %s failed", interaction.command and interaction.command.qualified_name,
                      exc_info=original)
            text = "✘ Something unexpected went wrong; it is logged. Check `/migrate status` before retrying."
        await send_ephemeral(interaction, redact(text)[:1900])


async def send_ephemeral(interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(text, ephemeral=True, **kwargs)
    except discord.HTTPException as exc:
        log.warning("could not answer the interaction: %s", exc)


def has_role(member: discord.abc.User | discord.Member | None, role_id: int) -> bool:
    return isinstance(member, discord.Member) and any(r.id == role_id for r in member.roles)


async def environment_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for every command's ``environment`` option: the configured names that match."""
    names = interaction.client.env_names() if isinstance(interaction.client, OpsBot) else []
    return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()][:25]


def require_role(interaction: discord.Interaction, role_id: int, what: str) -> None:
    """Roles are checked at the point of action, not only by command visibility."""
    if not has_role(interaction.user, role_id):
        raise Refused(f"You need the <@&{role_id}> role to {what}.")
