"""/migrate: the runbook's phases as slash commands. Thin: check roles, call ops/, render.

Every command defers first (Discord wants an answer within 3 s); long phases post one
progress message in the ops channel and edit it; the invoker gets an ephemeral link to it.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OpsBot, require_role, send_ephemeral
from bot.migration_run import execute_migration
from bot.progress import actor, with_progress
from bot.render import (
    PEOPLE_FIELD,
    people_checklist,
    preflight_embed,
    request_embed,
    request_files,
    rows_block,
    simple_embed,
    text_file,
)
from bot.reporter import DiscordReporter
from bot.requests import post_request
from bot.rollback_flow import confirm_and_roll_back
from bot.states import phase_title, title
from bot.status_card import backup_line, history_line, incident_line, last_change_line, message_link
from bot.threads import post_preflight_steps
from bot.views import checklist_view
from ops import appinfo, backup, backups, preflight, requests, verify
from ops.approvals import parse_table_list
from ops.checklist import Checklist
from ops.emergency import emergency_stop, start_app
from ops.migrations import list_migrations, load
from ops.units import short_hash, size

log = logging.getLogger(__name__)


class MigrateCog(
    commands.GroupCog,
    name="migrate",
    group_name="migrate",
    group_description="Run the safe-migration runbook against staging",
):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot
        self.engine = bot.engine
        self.gate = requests.RequestGate()
        self.checklist = Checklist(self.engine.journal)

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

    async def migration_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = list_migrations(self.engine.migrations_dir)
        return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()][:25]

    async def backup_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        listing = await backups.list_backups(self.engine)
        return [
            app_commands.Choice(
                name=f"{b.name} ({'verified' if b.verified == 'ok' else 'unverified'})"[:100], value=b.path[:100]
            )
            for b in listing.backups
            if current.lower() in b.name.lower()
        ][:25]

    # --- commands -------------------------------------------------------------------------

    @app_commands.command(name="preflight", description="Rehearse a migration on a consistent copy")
    @app_commands.describe(migration="file name in MIGRATIONS_DIR")
    @app_commands.autocomplete(migration=migration_names)
    async def preflight_cmd(self, interaction: discord.Interaction, migration: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "run a preflight")
        load(self.engine.migrations_dir, migration)  # a bad name is refused before anything is posted
        await self.run_preflight(interaction, migration)

    async def run_preflight(self, interaction: discord.Interaction, migration: str,
                            allow_row_loss: tuple[str, ...] = (), *,
                            private: bool = False) -> tuple[preflight.PreflightResult, DiscordReporter]:
        result, rep = await with_progress(
            self.bot, interaction, f"preflight {migration}",
            lambda r: preflight.run_preflight(self.engine, migration, reporter=r, actor=actor(interaction),
                                              allow_row_loss=allow_row_loss),
            private=private,
        )
        heading = phase_title(result.ok, f"preflight {migration} (by {interaction.user.name})")
        embed, files = preflight_embed(result, heading, rep.steps_text())
        await rep.finish(embed, attachments=files)
        return result, rep

    @app_commands.command(name="backup", description="Take and verify a backup on the app host")
    @app_commands.describe(label="letters, digits, . _ - (default: manual)")
    async def backup_cmd(self, interaction: discord.Interaction, label: str = "manual") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "take a backup")
        backup.check_label(label)
        result, rep = await with_progress(
            self.bot, interaction, f"backup ({label})",
            lambda r: backup.run_backup(self.engine, label=label, reporter=r, actor=actor(interaction)),
        )
        await rep.finish(
            simple_embed(
                title("backed_up", f"{result.path.rsplit('/', 1)[-1]} (by {interaction.user.name})"),
                [rep.steps_text()],
                fields={
                    "Verified": f"integrity {result.integrity} · {size(result.bytes)} · "
                    f"sha256 `{short_hash(result.sha256)}`",
                    "Rows": rows_block(result.counts),
                },
            )
        )

    @app_commands.command(name="backups", description="List backups, newest first")
    async def backups_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "list backups")
        listing = await backups.list_backups(self.engine)
        lines = [
            f"`{b.stamp}` {size(b.bytes)} {'✅' if b.verified == 'ok' else '❔'} `{b.name}`"
            for b in listing.backups[:20]
        ] or ["No backups yet: `/migrate backup`."]
        await interaction.followup.send(embed=simple_embed("Backups (newest first)", lines), ephemeral=True)

    @app_commands.command(name="run", description="Request a migration: preflight, then an approver's ✅")
    @app_commands.describe(migration="file name in MIGRATIONS_DIR",
                           allow_row_loss="tables this migration may delete rows from, comma-separated "
                                          "(shown on the approval)")
    @app_commands.autocomplete(migration=migration_names)
    async def run_cmd(self, interaction: discord.Interaction, migration: str, allow_row_loss: str = "") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "request a migration")
        allow = parse_table_list(allow_row_loss)
        discord_settings = self.bot.settings.discord
        rehearsed: list[DiscordReporter] = []

        async def rehearse() -> preflight.PreflightResult:
            # The requester watches the preflight in their own answer: the request card is the
            # run's one card in the channel, and the preflight's steps go into its thread.
            result, rep = await self.run_preflight(interaction, migration, allow, private=True)
            rehearsed.append(rep)
            return result

        made = await requests.request_migration(
            self.engine, self.bot.approvals, self.gate, migration, requester_id=interaction.user.id,
            requester=interaction.user.name, allow_row_loss=allow, timeout_s=discord_settings.approval_timeout_s,
            preflight_max_age_s=discord_settings.preflight_max_age_s, preflight=rehearse)
        embed = request_embed(made.approval, made.preflight, made.backup_path, discord_settings.approver_role_id,
                              where=self.engine.target.describe())
        message = await post_request(self.bot, self.bot.approvals, await self.bot.ops_channel(), made.approval.id,
                                     embed, retry_hint="Run /migrate run again in a minute (the preflight is reused).",
                                     ping_role=discord_settings.approver_role_id,
                                     files=request_files(migration, made.sql, made.preflight))
        if rehearsed:
            await post_preflight_steps(self.bot, message, made.approval, rehearsed[0].steps_text())
        await send_ephemeral(interaction, f"Approval requested: {message.jump_url}")

    @app_commands.command(name="verify", description="Counts, integrity_check, foreign keys, user_version")
    @app_commands.describe(quick="quick_check instead of integrity_check (faster on large files)")
    async def verify_cmd(self, interaction: discord.Interaction, quick: bool = False) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "verify the database")
        await self.run_verify(interaction, quick)

    async def run_verify(self, interaction: discord.Interaction, quick: bool) -> None:
        result, rep = await with_progress(
            self.bot, interaction, "verify",
            lambda r: verify.run_verify(self.engine, quick=quick, reporter=r, actor=actor(interaction)),
        )
        await rep.finish(
            simple_embed(
                phase_title(result.ok, f"verify (by {interaction.user.name})"),
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
    @app_commands.describe(backup="default: the newest verified backup")
    @app_commands.autocomplete(backup=backup_names)
    async def rollback_cmd(self, interaction: discord.Interaction, backup: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await confirm_and_roll_back(self.bot, interaction, backup)

    async def rollback_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        record = await self.engine.journal.backup_for_run(self.engine.key, run_id)
        await confirm_and_roll_back(self.bot, interaction, record.path if record else None, run_id=run_id)

    async def verify_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "verify the database")
        await self.run_verify(interaction, quick=False)

    # --- emergency actions ----------------------------------------------------------------

    @app_commands.command(name="emergency-stop", description="Stop the app's machines now (approvers)")
    async def estop_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.emergency_stop(interaction)

    async def estop_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.emergency_stop(interaction, run_id)

    async def emergency_stop(self, interaction: discord.Interaction, run_id: int | None = None) -> None:
        self.need(interaction, self.bot.settings.discord.approver_role_id, "stop the app")
        action = await emergency_stop(self.engine, actor=actor(interaction), for_run=run_id)
        stopped = ", ".join(action.machines) or "nothing"
        undo = f"`/migrate start`, or {action.how_to_undo}"
        text = (f"🛑 **Emergency stop** by {interaction.user.mention}: stopped {stopped} "
                f"(the machines are kept, not destroyed). Start again with {undo}.")
        await (await self.bot.ops_channel()).send(text, allowed_mentions=discord.AllowedMentions.none())
        await send_ephemeral(interaction, "Stopped. " + undo)

    @app_commands.command(name="start", description="Start the app's stopped machines and check health")
    async def start_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "start the app")
        result = await start_app(self.engine, actor=actor(interaction))
        await (await self.bot.ops_channel()).send(
            f"▶️ {interaction.user.mention} started {', '.join(result.machines) or 'no machine (none was stopped)'}; "
            f"{result.health_text}.", allowed_mentions=discord.AllowedMentions.none())
        await send_ephemeral(interaction, f"Started; {result.health_text}.")

    async def logs_button(self, interaction: discord.Interaction, run_id: int, _: int | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "read the app's logs")
        await self.send_logs(interaction, 40)

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
        if complete:
            await (await self.bot.ops_channel()).send(
                f"✅ Run #{run_id} is complete: every checklist item, automatic and human, is ticked.")

    @app_commands.command(name="status", description="Machines, database, newest backup, lock")
    async def status_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await appinfo.run_status(self.engine)
        pending = await self.bot.approvals.pending(self.engine.key)
        lock = await self.engine.journal.lock_for(self.engine.key)
        live = await self.run_place(lock.run_id) if lock else ""
        lines = [
            f"**app** {self.engine.target.describe()} · machines "
            + (", ".join(f"{m['id']} {m['state']}" for m in result.machines) or "none"),
            f"**schema** user_version {result.user_version} · fingerprint `{short_hash(result.fingerprint) or '?'}` · "
            f"{size(result.db_bytes or 0)}",
            last_change_line(await appinfo.last_change(self.engine)),
            f"**running** {result.lock or 'nothing'}{f' — follow it in {live}' if live else ''}",
            "**pending approvals** " + (", ".join(f"[#{a.id} {a.subject}]({message_link(self.bot, a)})"
                                                  if a.message_id else f"#{a.id} {a.subject}" for a in pending)
                                        or "none"),
            incident_line(result.incident),
            backup_line(result),
        ]
        if result.error:
            lines.append(f"✘ {result.error}")
        await interaction.followup.send(embed=simple_embed("Status", lines, ok=result.ok), ephemeral=True)

    async def run_place(self, run_id: int) -> str:
        """Where a run's progress is shown: its thread (a channel mention opens it), or ""."""
        for channel_id, _ in await self.engine.journal.run_messages(run_id):
            if channel_id != self.bot.settings.discord.ops_channel_id:
                return f"<#{channel_id}>"
        return ""

    @app_commands.command(name="logs", description="Recent app log lines")
    @app_commands.describe(lines="how many (1-200)")
    async def logs_cmd(self, interaction: discord.Interaction, lines: app_commands.Range[int, 1, 200] = 30) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "read the app's logs")
        await self.send_logs(interaction, lines)

    async def send_logs(self, interaction: discord.Interaction, lines: int) -> None:
        result = await appinfo.run_logs(self.engine, lines=lines)
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
    async def history_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        runs = await self.engine.journal.runs(15)
        lines = [history_line(r) for r in runs] or ["No runs yet."]
        await interaction.followup.send(embed=simple_embed("History", lines), ephemeral=True)


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(MigrateCog(bot))
