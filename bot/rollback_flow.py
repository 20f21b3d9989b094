"""Rollback from the channel: a confirmation that says exactly what a restore undoes and loses
(ops.rollback_plan), then the run, then every card it undid is marked."""

from __future__ import annotations

import time

import discord

from bot import states
from bot.app import OpsBot, require_role
from bot.cards import mark_run_cards
from bot.progress import actor, with_progress
from bot.render import rows_block, simple_embed
from bot.reporter import discord_times
from bot.requests import edit_request
from bot.views import ConfirmView
from ops import rollback
from ops.context import Engine
from ops.rollback_plan import HistoryChanged, HistoryNote, check_current, plan_rollback, roll_back_as_planned


def note_line(n: HistoryNote) -> str:
    if n.kind == "already_undone":
        when = f" <t:{int(n.at)}:R>" if n.at else ""
        who = f" by {n.who}" if n.who else ""
        return (f"⚠ **Run #{n.run_id} was already rolled back** (run #{n.by_run}{who}{when}). Rolling back again "
                "restores the same backup once more and **throws away every write made since that rollback**.")
    if n.kind == "unchanged":
        return f"ℹ Run #{n.run_id} did not change the database: there is nothing of it to undo."
    return (f"⚠ This also undoes **{n.migration}** (run #{n.run_id}, <t:{int(n.at)}:R>), which ran after this "
            "backup was taken.")


async def confirm_and_roll_back(bot: OpsBot, engine: Engine, interaction: discord.Interaction,
                                backup_path: str | None, run_id: int | None = None) -> None:
    require_role(interaction, bot.settings.discord.approver_role_id, "roll back")
    plan = await plan_rollback(engine, backup_path, run_id)
    chosen = plan.backup
    # Discord shows these in each reader's own time zone, with how long ago.
    taken = f"<t:{int(chosen.taken_at)}:f> (<t:{int(chosen.taken_at)}:R>)"
    view = ConfirmView(interaction.user.id)
    place = f" of **{engine.env}**" if engine.env else ""
    lines = [f"Roll back the database{place} to **{chosen.name}**, taken {taken}?",
             f"⚠ Every write made after <t:{int(chosen.taken_at)}:f> will be lost."
             + (f" (Rollback of run #{run_id})" if run_id else ""),
             *(note_line(n) for n in plan.notes)]
    gained = {t: n for t, n in (plan.rows_since or {}).items() if n > 0}
    if gained:
        lines.append("Rows written since the backup, which the rollback loses: "
                     + ", ".join(f"**{t}** {n:+,}" for t, n in sorted(gained.items())) + ".")
    elif plan.rows_since is not None:
        lines.append("No table has gained rows since the backup.")
    if plan.start_first:
        lines.append("Note: the app is stopped; opsbot starts a machine first, once you confirm "
                     "(a restore needs a running machine). The backup is chosen from opsbot's records; the file "
                     "itself is checked on the host once a machine runs.")
    await interaction.followup.send("\n".join(lines), view=view, ephemeral=True)
    await view.wait()
    if not view.confirmed or view.interaction is None:
        if view.interaction is not None:
            await view.interaction.response.edit_message(content="Rollback cancelled; nothing changed.", view=None)
        return
    require_role(interaction, bot.settings.discord.approver_role_id, "roll back")
    try:
        await check_current(engine, plan)
    except HistoryChanged as exc:
        await view.interaction.response.edit_message(
            content="\n".join(["Nothing was done: the history changed while this was open.",
                               *(note_line(n) for n in exc.notes),
                               "Press Rollback again to see what it would undo now."]), view=None)
        return
    await view.interaction.response.edit_message(content="Rolling back…", view=None)
    result, rep = await with_progress(bot, interaction, f"rollback to {chosen.name}", lambda r: roll_back_as_planned(
        engine, plan, actor=actor(interaction), reporter=r), engine=engine)
    by = f"by {interaction.user.name}"
    title = (states.title("rolled_back", f"restored {chosen.name} ({by})") if result.ok
             else states.title(states.run_state(result.outcome, ok=False), f"rollback to {chosen.name} ({by})"))
    fields = {"Rows now": rows_block(result.counts), "Warning": discord_times(result.warning)}
    if result.app_wrote:
        fields["Kept: the app's writes during the restore"] = rows_block(result.app_wrote)
    if not result.ok:
        fields["What happened"] = result.error
        fields["Next"] = result.hint
    embed = simple_embed(title, [rep.steps_text()], ok=result.ok, fields=fields)
    embed.colour = states.LOOKS["rolled_back" if result.ok else states.run_state(result.outcome, ok=False)].colour
    await rep.finish(embed)
    await mark_undone(bot, result, interaction.user.name, skip=rep.message.id if rep.message else 0)


async def mark_undone(bot: OpsBot, result: rollback.RollbackResult, who: str, *, skip: int) -> None:
    """Every card of a run this restore undid says so, and loses its buttons."""
    line = f"⏪ **Rolled back** by {who} <t:{int(time.time())}:f> (run #{result.run_id})"
    for undone in result.undid_runs:
        await mark_run_cards(bot, await bot.engine.journal.run_messages(undone), line,
                             state="rolled_back", footer=f"rolled back by run #{result.run_id}",
                             skip=skip)
        approval = await bot.approvals.by_run(undone)
        if approval is not None:
            await edit_request(bot, approval, line, state="rolled_back",
                               summary=f"run #{undone}, undone by run #{result.run_id}")
