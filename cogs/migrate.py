"""/migrate: the runbook's phases as slash commands. Thin: check roles, call ops/, render.

Every command defers first (Discord wants an answer within 3 s); long phases post one
progress message in the ops channel and edit it; the invoker gets an ephemeral link to it.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OpsBot, environment_choices, require_role, send_ephemeral
from bot.drill_card import drill_and_show
from bot.migration_request import on, request_migration, show_preflight
from bot.migration_run import execute_migration
from bot.progress import actor, with_progress
from bot.render import (
    PEOPLE_FIELD,
    people_checklist,
    rows_block,
    simple_embed,
    text_file,
)
from bot.rollback_flow import confirm_and_roll_back
from bot.states import phase_title, title
from bot.status_card import history_embed, pending_embed, status_embed
from bot.views import checklist_view
from ops import appinfo, backup, backups, ledger, policy, requests, verify
from ops.checklist import Checklist
from ops.context import Engine
from ops.emergency import emergency_stop, start_app
from ops.errors import OpsError
from ops.migrations import list_migrations, load
from ops.units import short_hash, size

log = logging.getLogger(__name__)
ENV_HELP = "where (default: the first in opsbot.toml)"


class MigrateCog(
    commands.GroupCog,
    name="migrate",
    group_name="migrate",
    group_description="Run the safe-migration runbook",
):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot
        self.gate = requests.RequestGate()
        self.checklist = Checklist(bot.engine.journal)

    async def cog_load(self) -> None:
        self.bot.approval_executors["migrate"] = lambda a, who: execute_migration(self.bot, a, who)
        self.bot.run_actions.update({"rollback": self.rollback_button, "verify": self.verify_button,
                                     "estop": self.estop_button, "logs": self.logs_button,
                                     "tick": self.tick_button})

    async def cog_unload(self) -> None:
        self.bot.approval_executors.pop("migrate", None)
        for action in ("rollback", "verify", "estop", "logs", "tick"):
            self.bot.run_actions.pop(action, None)

    def need(self, interaction: discord.Interaction, role_id: int, what: str) -> None:
        require_role(interaction, role_id, what)

    # --- autocomplete ---------------------------------------------------------------------

    def chosen(self, interaction: discord.Interaction) -> Engine:
        """The engine of the environment already typed in this command, for autocomplete."""
        try:
            return self.bot.engine_for(getattr(interaction.namespace, "environment", None))
        except OpsError:
            return self.bot.engine

    async def migration_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        engine = self.chosen(interaction)
        pending = {p["name"] for p in (await ledger.pending_report(
            engine.journal, engine.key, engine.env_name, engine.migrations_dir)).pending}
        names = sorted(list_migrations(engine.migrations_dir), key=lambda n: n not in pending)  # pending first
        return [app_commands.Choice(name=f"{n}{'' if n in pending else ' (applied)'}"[:100], value=n)
                for n in names if current.lower() in n.lower()][:25]

    async def backup_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        listing = await backups.list_backups(self.chosen(interaction))
        return [
            app_commands.Choice(
                name=f"{b.name} ({'verified' if b.verified == 'ok' else 'unverified'})"[:100], value=b.path[:100]
            )
            for b in listing.backups
            if current.lower() in b.name.lower()
        ][:25]

    # --- commands -------------------------------------------------------------------------

    @app_commands.command(name="preflight", description="Rehearse a migration on a consistent copy")
    @app_commands.describe(migration="file name in MIGRATIONS_DIR",
                           environment=ENV_HELP)
    @app_commands.autocomplete(migration=migration_names, environment=environment_choices)
    async def preflight_cmd(self, interaction: discord.Interaction, migration: str,
                            environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "run a preflight")
        engine = self.bot.engine_for(environment)
        load(engine.migrations_dir, migration)  # a bad name is refused before anything is posted
        await show_preflight(self.bot, engine, interaction, migration)

    @app_commands.command(name="backup", description="Take and verify a backup on the app host")
    @app_commands.describe(label="letters, digits, . _ - (default: manual)",
                           offsite="also keep a second copy off the app host, as every migration does",
                           environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def backup_cmd(self, interaction: discord.Interaction, label: str = "manual", offsite: bool = False,
                         environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "take a backup")
        backup.check_label(label)
        engine = self.bot.engine_for(environment)
        result, rep = await with_progress(
            self.bot, interaction, f"backup ({label}){on(engine)}",
            lambda r: backup.run_backup(engine, label=label, reporter=r, actor=actor(interaction), offsite=offsite),
            engine=engine,
        )
        await rep.finish(
            simple_embed(
                title("backed_up", f"{result.path.rsplit('/', 1)[-1]}{on(engine)} (by {interaction.user.name})"),
                [rep.steps_text()],
                fields={
                    "Verified": f"integrity {result.integrity} · {size(result.bytes)} · "
                    f"sha256 `{short_hash(result.sha256)}`",
                    "Copies": "on the app host" + (", and off it on opsbot's disk (sha256 matches)"
                                                   if result.offsite else " only"),
                    "Rows": rows_block(result.counts),
                },
            )
        )

    @app_commands.command(name="backups", description="List backups, newest first")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def backups_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "list backups")
        listing = await backups.list_backups(self.bot.engine_for(environment))
        lines = [backup_listing_line(b) for b in listing.backups[:20]] or ["No backups yet: `/migrate backup`."]
        lines.append("host: on the app's volume · off-host: the second copy on opsbot's own disk")
        await interaction.followup.send(embed=simple_embed("Backups (newest first)", lines), ephemeral=True)

    @app_commands.command(name="run", description="Request a migration: preflight, then an approver's ✅")
    @app_commands.describe(migration="file name in MIGRATIONS_DIR (default: the next pending one)",
                           allow_row_loss="tables this migration may delete rows from, comma-separated "
                                          "(shown on the approval)",
                           environment=ENV_HELP)
    @app_commands.autocomplete(migration=migration_names, environment=environment_choices)
    async def run_cmd(self, interaction: discord.Interaction, migration: str = "", allow_row_loss: str = "",
                      environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "request a migration")
        await request_migration(self.bot, self.gate, interaction, self.bot.engine_for(environment), migration,
                                allow_row_loss)

    @app_commands.command(name="promote", description="Request a migration that succeeded on the environment "
                                                      "this one promotes from")
    @app_commands.describe(migration="the migration that succeeded there",
                           environment="where to promote it (an environment with requires_success_on)")
    @app_commands.autocomplete(migration=migration_names, environment=environment_choices)
    async def promote_cmd(self, interaction: discord.Interaction, migration: str,
                          environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "request a migration")
        engine = self.promotion_target(environment)
        await request_migration(self.bot, self.gate, interaction, engine, migration, "")

    def promotion_target(self, environment: str | None) -> Engine:
        if environment:
            engine = self.bot.engine_for(environment)
        else:
            engine = next((e for e in self.bot.engines.values() if e.policy.requires_success_on), self.bot.engine)
        if not engine.policy.requires_success_on:
            raise OpsError(f"{engine.env_name} does not promote from another environment",
                           hint="Use /migrate run there, or name an environment whose policy has "
                                "requires_success_on in opsbot.toml.")
        return engine

    @app_commands.command(name="verify", description="Counts, integrity_check, foreign keys, user_version")
    @app_commands.describe(quick="quick_check instead of integrity_check (faster on large files)",
                           environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def verify_cmd(self, interaction: discord.Interaction, quick: bool = False,
                         environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "verify the database")
        await self.run_verify(self.bot.engine_for(environment), interaction, quick)

    async def run_verify(self, engine: Engine, interaction: discord.Interaction, quick: bool) -> None:
        result, rep = await with_progress(
            self.bot, interaction, f"verify{on(engine)}",
            lambda r: verify.run_verify(engine, quick=quick, reporter=r, actor=actor(interaction)), engine=engine,
        )
        await rep.finish(
            simple_embed(
                phase_title(result.ok, f"verify{on(engine)} (by {interaction.user.name})"),
                [rep.steps_text()],
                ok=result.ok,
                fields={
                    "Rows": rows_block(result.counts),
                    "State": f"{result.check}: {result.integrity[:200]} · "
                    f"foreign-key violations {result.fk_violations} · "
                    f"user_version {result.user_version} · schema `{short_hash(result.fingerprint)}`",
                },
            )
        )

    @app_commands.command(name="rollback", description="Restore a verified backup (approvers)")
    @app_commands.describe(backup="default: the newest verified backup",
                           environment=ENV_HELP)
    @app_commands.autocomplete(backup=backup_names, environment=environment_choices)
    async def rollback_cmd(self, interaction: discord.Interaction, backup: str | None = None,
                           environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await confirm_and_roll_back(self.bot, self.bot.engine_for(environment), interaction, backup)

    async def rollback_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        engine = await self.bot.engine_of_run(run_id)
        record = await engine.journal.backup_for_run(engine.key, run_id)
        await confirm_and_roll_back(self.bot, engine, interaction, record.path if record else None, run_id=run_id)

    async def verify_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "verify the database")
        await self.run_verify(await self.bot.engine_of_run(run_id), interaction, quick=False)

    # --- emergency actions ----------------------------------------------------------------

    @app_commands.command(name="emergency-stop", description="Stop the app's machines now (approvers)")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def estop_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.emergency_stop(self.bot.engine_for(environment), interaction)

    async def estop_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.emergency_stop(await self.bot.engine_of_run(run_id), interaction, run_id)

    async def emergency_stop(self, engine: Engine, interaction: discord.Interaction, run_id: int | None = None) -> None:
        self.need(interaction, self.bot.settings.discord.approver_role_id, "stop the app")
        action = await emergency_stop(engine, actor=actor(interaction), for_run=run_id)
        stopped = ", ".join(action.machines) or "nothing"
        undo = f"`/migrate start`, or {action.how_to_undo}"
        text = (f"🛑 **Emergency stop**{on(engine)} by {interaction.user.mention}: stopped {stopped} "
                f"(the machines are kept, not destroyed). Start again with {undo}.")
        await (await self.bot.ops_channel(engine)).send(text, allowed_mentions=discord.AllowedMentions.none())
        await send_ephemeral(interaction, "Stopped. " + undo)

    @app_commands.command(name="start", description="Start the app's stopped machines and check health")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def start_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "start the app")
        engine = self.bot.engine_for(environment)
        result = await start_app(engine, actor=actor(interaction))
        await (await self.bot.ops_channel(engine)).send(
            f"▶️{on(engine)} {interaction.user.mention} started "
            f"{', '.join(result.machines) or 'no machine (none was stopped)'}; {result.health_text}.",
            allowed_mentions=discord.AllowedMentions.none())
        await send_ephemeral(interaction, f"Started; {result.health_text}.")

    async def logs_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "read the app's logs")
        await self.send_logs(await self.bot.engine_of_run(run_id), interaction, 40)

    # --- the people's half of the checklist -----------------------------------------------

    async def tick_button(self, interaction: discord.Interaction, run_id: int, idx: int | None) -> None:
        self.need(interaction, self.bot.settings.discord.operator_role_id, "tick the checklist")
        ticked = await self.checklist.tick(run_id, idx or 0, interaction.user.name)
        items = await self.checklist.items(run_id)
        message = interaction.message
        embed = message.embeds[0] if message and message.embeds else None
        if embed is not None:
            for i, field in enumerate(embed.fields):
                if field.name == PEOPLE_FIELD:
                    embed.set_field_at(i, name=PEOPLE_FIELD, value=people_checklist(items), inline=False)
        complete = await self.checklist.complete_if_done(run_id)
        if complete and embed is not None:
            embed.title = f"{embed.title} — ✅ complete"[:256]
        await interaction.response.edit_message(embed=embed, view=checklist_view(run_id, items))
        if not ticked:
            await interaction.followup.send("That item was already ticked.", ephemeral=True)
        if complete:  # said beside the checklist: in the run's thread (or its card's channel)
            place = message.channel if message is not None else await self.bot.ops_channel(
                await self.bot.engine_of_run(run_id))
            await place.send(f"✅ Run #{run_id} is complete: every checklist item, automatic and human, is ticked.")

    @app_commands.command(name="status", description="Per environment: schema, last change, pending, lock, "
                                                     "incident, newest backup")
    @app_commands.describe(environment="one environment (default: every one)")
    @app_commands.autocomplete(environment=environment_choices)
    async def status_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        engines = [self.bot.engine_for(environment)] if environment else list(self.bot.engines.values())
        embeds = [await status_embed(self.bot, engine) for engine in engines[:10]]
        await interaction.followup.send(embeds=embeds, ephemeral=True)

    @app_commands.command(name="drill", description="Restore the newest backup into a scratch copy and check it")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def drill_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "run a restore drill")
        await drill_and_show(self.bot, self.bot.engine_for(environment), interaction, actor(interaction))

    @app_commands.command(name="pending", description="What is applied here (the ledger) and what is pending")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def pending_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await ledger.pending_for(self.bot.engine_for(environment))
        await interaction.followup.send(embed=pending_embed(report), ephemeral=True)

    @app_commands.command(name="lock", description="Hold an environment: no migration starts until unlocked")
    @app_commands.describe(reason="shown on every refusal and in status",
                           environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def lock_cmd(self, interaction: discord.Interaction, reason: str, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "lock an environment")
        engine = self.bot.engine_for(environment)
        await policy.set_sticky_lock(engine.journal, engine.key, reason[:200], interaction.user.name)
        await (await self.bot.ops_channel(engine)).send(
            f"🔒 {interaction.user.mention} locked {engine.env_name}: {reason[:200]}. No migration starts there "
            "until `/migrate unlock`.", allowed_mentions=discord.AllowedMentions.none())
        await send_ephemeral(interaction, f"Locked {engine.env_name}.")

    @app_commands.command(name="unlock", description="Release an environment's lock")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def unlock_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "unlock an environment")
        engine = self.bot.engine_for(environment)
        held = await policy.release_sticky_lock(engine.journal, engine.key)
        if held is None:
            await send_ephemeral(interaction, f"{engine.env_name} was not locked.")
            return
        await (await self.bot.ops_channel(engine)).send(
            f"🔓 {interaction.user.mention} unlocked {engine.env_name} (locked by {held.by}: {held.reason}).",
            allowed_mentions=discord.AllowedMentions.none())
        await send_ephemeral(interaction, f"Unlocked {engine.env_name}.")

    @app_commands.command(name="logs", description="Recent app log lines")
    @app_commands.describe(lines="how many (1-200)",
                           environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def logs_cmd(self, interaction: discord.Interaction, lines: app_commands.Range[int, 1, 200] = 30,
                       environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "read the app's logs")
        await self.send_logs(self.bot.engine_for(environment), interaction, lines)

    async def send_logs(self, engine: Engine, interaction: discord.Interaction, lines: int) -> None:
        result = await appinfo.run_logs(engine, lines=lines)
        text = "\n".join(("! " if i in result.errors else "  ") + ln for i, ln in enumerate(result.lines))
        if not text:
            await interaction.followup.send("No log lines.", ephemeral=True)
        elif len(text) < 1900:
            await interaction.followup.send(f"```\n{text}\n```", ephemeral=True)
        else:
            await interaction.followup.send(
                f"{len(result.lines)} lines, {len(result.errors)} look like errors:",
                file=text_file("logs.txt", text),
                ephemeral=True,
            )

    @app_commands.command(name="history", description="Recent runs")
    @app_commands.describe(environment="one environment (default: every one)")
    @app_commands.autocomplete(environment=environment_choices)
    async def history_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(embed=await history_embed(self.bot, environment), ephemeral=True)


def backup_listing_line(b: backups.BackupEntry) -> str:
    host = ("host ✅" if b.verified == "ok" else "host ❔") if b.on_host else "host ✘ gone"
    away = " · off-host ✅" if b.offsite_path else ""
    return f"<t:{int(b.taken_at)}:f> {size(b.bytes)} `{b.name}` — {host}{away}"


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(MigrateCog(bot))
