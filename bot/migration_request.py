"""A migration's preflight card and its approval request, as /migrate preflight, run and promote
show them: the rehearsal in the requester's own answer (or the channel), then the one request
card in the environment's ops channel with its thread. ops.requests decides; this shows."""

from __future__ import annotations

import discord

from bot.app import OpsBot, send_ephemeral
from bot.progress import actor, with_progress
from bot.render import preflight_embed, request_embed, request_files
from bot.reporter import DiscordReporter
from bot.requests import post_request
from bot.states import phase_title
from bot.threads import post_preflight_steps
from ops import ledger, preflight, requests
from ops.approvals import parse_table_list
from ops.context import Engine
from ops.errors import OpsError


def on(engine: Engine) -> str:
    """" on production" in a card's title when environments have names; "" when there is one."""
    return f" on {engine.env}" if engine.env else ""


def where(engine: Engine) -> str:
    return f"{engine.env} ({engine.target.describe()})" if engine.env else engine.target.describe()


async def show_preflight(bot: OpsBot, engine: Engine, interaction: discord.Interaction, migration: str,
                         allow_row_loss: tuple[str, ...] = (), *,
                         private: bool = False) -> tuple[preflight.PreflightResult, DiscordReporter]:
    """Run the preflight with its progress shown, then its result card (and attachments)."""
    result, rep = await with_progress(
        bot, interaction, f"preflight {migration}{on(engine)}",
        lambda r: preflight.run_preflight(engine, migration, reporter=r, actor=actor(interaction),
                                          allow_row_loss=allow_row_loss),
        private=private, engine=engine,
    )
    heading = phase_title(result.ok, f"preflight {migration}{on(engine)} (by {interaction.user.name})")
    embed, files = preflight_embed(result, heading, rep.steps_text())
    await rep.finish(embed, attachments=files)
    return result, rep


async def request_migration(bot: OpsBot, gate: requests.RequestGate, interaction: discord.Interaction,
                            engine: Engine, migration: str, allow_row_loss: str) -> None:
    """/migrate run (no name: the next pending one) and /migrate promote: preflight, then the card."""
    if not migration:
        migration = (await ledger.pending_report(engine.journal, engine.key, engine.env_name,
                                                 engine.migrations_dir)).next
        if not migration:
            raise OpsError(f"nothing is pending on {engine.env_name}: every migration in the folder is applied",
                           hint="Add a migration file, or see /migrate pending.")
    allow = parse_table_list(allow_row_loss)
    discord_settings = bot.settings.discord
    rehearsed: list[DiscordReporter] = []

    async def rehearse() -> preflight.PreflightResult:
        # The requester watches the preflight in their own answer: the request card is the
        # run's one card in the channel, and the preflight's steps go into its thread.
        result, rep = await show_preflight(bot, engine, interaction, migration, allow, private=True)
        rehearsed.append(rep)
        return result

    made = await requests.request_migration(
        engine, bot.approvals, gate, migration, requester_id=interaction.user.id,
        requester=interaction.user.name, allow_row_loss=allow, timeout_s=discord_settings.approval_timeout_s,
        preflight_max_age_s=discord_settings.preflight_max_age_s, preflight=rehearse)
    embed = request_embed(made.approval, made.preflight, made.backup_path, discord_settings.approver_role_id,
                          where=where(engine), env=engine.env)
    message = await post_request(bot, bot.approvals, await bot.ops_channel(engine), made.approval.id,
                                 embed, retry_hint="Run /migrate run again in a minute (the preflight is reused).",
                                 ping_role=discord_settings.approver_role_id,
                                 files=request_files(migration, made.sql, made.preflight))
    if rehearsed:
        await post_preflight_steps(bot, message, made.approval, rehearsed[0].steps_text())
    await send_ephemeral(interaction, f"Approval requested: {message.jump_url}")
