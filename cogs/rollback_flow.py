"""Rollback from the channel: a confirmation that says exactly what a restore undoes and loses
(a run already rolled back, later migrations), then the run, then every card it undid is marked."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord

from bot.cards import mark_run_cards
from bot.render import rows_block, simple_embed
from bot.reporter import DiscordReporter
from cogs.ui import ConfirmView
from ops import backups, rollback
from ops.backups import BackupEntry
from ops.emergency import ensure_running
from ops.outcome import headline, icon
from ops.reporter import Status

if TYPE_CHECKING:
    from cogs.migrate import MigrateCog


class RollbackFlow:
    def __init__(self, cog: MigrateCog) -> None:
        self.cog, self.bot, self.engine = cog, cog.bot, cog.engine

    async def history_warnings(self, chosen: BackupEntry, run_id: int | None) -> list[str]:
        """What this restore would undo beyond the run it was asked for, from the journal."""
        journal = self.engine.journal
        lines = []
        if run_id:
            run = await journal.run(run_id)
            if run and run["undone_by"]:
                undo = await journal.run(run["undone_by"])
                when = f" <t:{int(undo['started_at'])}:R>" if undo else ""
                who = f" by {undo['actor'].split(' (')[0]}" if undo else ""
                lines.append(f"⚠ **Run #{run_id} was already rolled back** (run #{run['undone_by']}{who}{when}). "
                             f"Rolling back again restores the same backup once more and **throws away every write "
                             f"made since that rollback**.")
            elif run and run["phase"] == "migrate" and run["outcome"] == "unchanged":
                lines.append(f"ℹ Run #{run_id} did not change the database: there is nothing of it to undo.")
        later = [r for r in await journal.changes_since(self.engine.target.name, chosen.taken_at)
                 if r["id"] != run_id and not r["undone_by"] and r["phase"] == "migrate"]
        for r in later:
            lines.append(f"⚠ This also undoes **{r['migration']}** (run #{r['id']}, <t:{int(r['started_at'])}:R>), "
                         "which ran after this backup was taken.")
        return lines

    async def confirm_and_roll_back(self, interaction: discord.Interaction, backup_path: str | None,
                                    run_id: int | None = None) -> None:
        self.cog.need(interaction, self.bot.settings.discord.approver_role_id, "roll back")
        started = await ensure_running(self.engine)  # listing and restoring need a running machine
        listing = await backups.list_backups(self.engine)
        chosen = rollback.pick(listing.backups, backup_path)[0]
        taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(chosen.taken_at))
        warnings = await self.history_warnings(chosen, run_id)
        view = ConfirmView(interaction.user.id)
        await interaction.followup.send(
            "\n".join([f"Roll back `{self.engine.db_path}` to **{chosen.name}** (taken {taken})?",
                       f"⚠ Every write made after {taken} will be lost."
                       + (f" (Rollback of run #{run_id})" if run_id else ""), *warnings]
                      + ([f"Note: the app was stopped; opsbot {started}."] if started else [])),
            view=view, ephemeral=True,
        )
        await view.wait()
        if not view.confirmed or view.interaction is None:
            if view.interaction is not None:
                await view.interaction.response.edit_message(content="Rollback cancelled; nothing changed.", view=None)
            return
        self.cog.need(interaction, self.bot.settings.discord.approver_role_id, "roll back")
        # Someone else may have rolled back (or migrated) while this confirmation was open: what
        # was confirmed is no longer what would happen, so nothing runs without a fresh look.
        now = await self.history_warnings(chosen, run_id)
        if now != warnings:
            await view.interaction.response.edit_message(
                content="\n".join(["Nothing was done: the history changed while this was open.", *now,
                                    "Press Rollback again to see what it would undo now."]), view=None)
            return
        await view.interaction.response.edit_message(content="Rolling back…", view=None)
        who = interaction.user.name
        result, rep = await self.cog.with_progress(
            interaction, f"Rollback to {chosen.name}",
            lambda r: self.roll_back(r, chosen.path, self.cog.actor(interaction), started))
        title = (f"✔ Rolled back to {chosen.name}" if result.ok
                 else f"{icon(result.outcome)} Rollback to {chosen.name}: {headline('rollback', result.outcome)}")
        fields = {"Rows now": rows_block(result.counts), "Warning": result.warning}
        if result.app_wrote:
            fields["Kept: the app's writes during the restore"] = rows_block(result.app_wrote)
        if not result.ok:
            fields["What happened"] = result.error
            fields["Next"] = result.hint
        embed = simple_embed(title, [rep.steps_text()], ok=result.ok, fields=fields)
        if not result.ok:
            embed.colour = discord.Colour.orange()
        await rep.finish(embed)
        await self.mark_undone(result, who, skip=rep.message.id if rep.message else 0)

    async def roll_back(self, reporter: DiscordReporter, path: str, actor: str,
                        started: str = "") -> rollback.RollbackResult:
        note = started or await ensure_running(self.engine)
        if note:
            reporter.step("start machine", Status.DONE, note)
        return await rollback.run_rollback(self.engine, confirmed=True, backup=path, reporter=reporter, actor=actor)

    async def mark_undone(self, result: rollback.RollbackResult, who: str, *, skip: int) -> None:
        """Every card of a run this restore undid says so, and loses its buttons."""
        line = f"⏪ **Rolled back** by {who} <t:{int(time.time())}:f> (run #{result.run_id})"
        for undone in result.undid_runs:
            await mark_run_cards(self.bot, await self.engine.journal.run_messages(undone), line,
                                 colour=discord.Colour.light_grey(), footer=f"rolled back by run #{result.run_id}",
                                 skip=skip)
            approval = await self.bot.approvals.by_run(undone)
            if approval is not None:
                await self.cog.flow.edit_request(approval, line, ok=False)
