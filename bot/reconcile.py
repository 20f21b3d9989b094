"""After a start or a reconnect, make the channel true again (what happened while no one listened).

- Runs interrupted by a killed bot (or found interrupted by the CLI) are posted once, with their
  last completed step and Verify / Rollback buttons; their progress cards and requests are edited.
- Approved requests whose run never started are released; ones whose run finished are closed
  with the journal's outcome.
- ✅ and ❌ given while the bot was offline are read back from Discord and decided as if they
  had just arrived (same approver rules, same expiry).
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.app import OpsBot
from bot.approval_desk import ApprovalDesk
from bot.cards import mark_run_cards
from bot.render import simple_embed
from bot.requests import edit_request
from bot.threads import request_thread_name, thread_for
from bot.views import run_buttons
from ops.approvals import Approval
from ops.journal import RunRecord
from ops.outcome import headline, icon
from ops.requests import APPROVAL_EMOJI, CANCEL

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, bot: OpsBot, desk: ApprovalDesk) -> None:
        self.bot, self.engine, self.desk = bot, bot.engine, desk
        self.lock = asyncio.Lock()

    async def run(self, why: str) -> None:
        async with self.lock:  # on_ready and on_resumed may fire close together
            for part in (self.interrupted_runs, self.approved_requests, self.missed_reactions):
                try:
                    await part()
                except (discord.HTTPException, OSError) as exc:
                    log.warning("reconciling after %s: %s failed: %s", why, part.__name__, exc)

    # --- interrupted runs -----------------------------------------------------------------

    async def interrupted_runs(self) -> None:
        journal = self.engine.journal
        await journal.mark_interrupted()  # runs of processes that are gone (the CLI's too)
        for run in await journal.unannounced_interrupted():
            if await journal.mark_announced(run.id):
                await self.post_interrupted(run)

    async def note_place(self, run: RunRecord, approval: Approval | None) -> discord.abc.Messageable:
        """Where the note about an interrupted run goes: the thread of its request or of its card in the
        channel (the card itself turns ⚠ Interrupted and links the note), else the channel."""
        if approval is not None and approval.message_id:
            return await thread_for(self.bot, approval.channel_id, approval.message_id, request_thread_name(approval))
        for channel_id, message_id in await self.engine.journal.run_messages(run.id):
            if self.bot.is_ops_channel(channel_id):
                return await thread_for(self.bot, channel_id, message_id, f"{run.phase} run #{run.id}")
        known = [e for e in self.bot.engines.values() if e.key == run.target]  # a code revert has none
        return await self.bot.ops_channel(known[0] if known else None)

    async def post_interrupted(self, run: RunRecord) -> None:
        approval = await self.bot.approvals.by_run(run.id)
        channel = await self.note_place(run, approval)
        changes = run.phase in ("migrate", "rollback")
        lines = [
            f"Run #{run.id} (`{run.phase}` {run.migration or ''}, started by "
            f"{run.who} <t:{int(run.started_at)}:R>) was **interrupted**: the process "
            f"running it stopped before it finished.",
            f"Last completed step: **{run.last_step or 'none'}**.",
        ]
        if run.phase == "migrate":
            lines.append("A migration is one transaction: the database is either fully migrated or untouched. "
                         "Verify to see which; roll back if needed.")
        elif run.phase == "rollback":
            lines.append("A restore is one transaction: the database is either the backup or as it was. Verify "
                         "to see which.")
        else:
            lines.append("This phase does not change the database.")
        rollback = changes and (run.phase == "rollback" or await self.engine.journal.backup_for_run(
            run.target, run.id) is not None)
        note = await channel.send(embed=simple_embed("⚠ Interrupted run", lines, ok=False),
                                  view=run_buttons(run.id, rollback=rollback, verify=True))
        await self.engine.journal.add_run_message(run.id, note.channel.id, note.id)
        await mark_run_cards(self.bot, await self.engine.journal.run_messages(run.id),
                             f"⚠ **Interrupted**: the process running this stopped after "
                             f"**{run.last_step or 'no step'}**. See [what to do]({note.jump_url})",
                             state="interrupted", footer="interrupted", skip=note.id)
        if approval is not None and approval.state == "approved":
            await self.bot.approvals.executed(approval.id, run.id)
            await edit_request(self.bot, approval, f"⚠ Interrupted during run #{run.id}: [what to do]({note.jump_url})",
                               state="interrupted")

    # --- approved requests the bot never finished ----------------------------------------

    async def approved_requests(self) -> None:
        for a in await self.bot.approvals.approved_without_result():
            if a.id in self.desk.executing:
                continue  # its run is in flight in this process (a reconnect, not a restart)
            run = await self.engine.journal.run(a.run_id) if a.run_id else None
            if run is None:
                await self.bot.approvals.executed(a.id, None, state="stale")
                await edit_request(self.bot, a, "✘ Interrupted before it ran: opsbot stopped after the approval "
                                                "and before the migration started. Nothing was changed; request it "
                                                "again.", state="stale")
            elif run.state in ("succeeded", "failed"):
                await self.bot.approvals.executed(a.id, run.id)
                outcome = run.outcome or ("done" if run.state == "succeeded" else "unchanged")
                await edit_request(self.bot, a, f"{icon(outcome)} Run #{run.id}: {headline('migrate', outcome)} "
                                                "(opsbot restarted before it could post the result).",
                                   state=outcome)

    # --- reactions given while the bot was offline ---------------------------------------

    async def missed_reactions(self) -> None:
        """Discord does not say when a reaction was added, so the order among missed ones is not
        known: every ❌ is decided before any ✅ (a cancel always wins a tie), and a run starts
        only once every missed reaction has been recorded."""
        missed: list[tuple[int, str, int]] = []
        for a in await self.bot.approvals.pending():
            if not a.message_id or not a.channel_id:
                continue
            try:
                message = await self.bot.get_partial_messageable(a.channel_id).fetch_message(a.message_id)
            except discord.NotFound:
                continue
            seen = {(r.user_id, r.emoji) for r in await self.bot.approvals.reactions(a.id)}
            for reaction in message.reactions:
                emoji = str(reaction.emoji)
                if emoji in APPROVAL_EMOJI:
                    missed += [(a.id, emoji, user.id) async for user in reaction.users()
                               if not user.bot and (user.id, emoji) not in seen]
        approved = []
        for approval_id, emoji, user_id in sorted(missed, key=lambda m: m[1] != CANCEL):
            current = await self.bot.approvals.get(approval_id)
            assert current is not None
            member = await self.member(user_id)
            if await self.desk.handle_reaction(current, emoji, user_id, member, late=True, run=False) == "approved":
                decided = await self.bot.approvals.get(approval_id)  # every approver, when it needed several
                approved.append((current, (decided.decided_by if decided else None)
                                 or (member.name if member else str(user_id))))
        for current, who in approved:
            await self.desk.run_approved(current, who, late=True)

    async def member(self, user_id: int) -> discord.Member | None:
        guild = self.bot.get_guild(self.bot.settings.discord.guild_id)
        if guild is None:
            return None
        try:
            return guild.get_member(user_id) or await guild.fetch_member(user_id)
        except discord.HTTPException:
            return None
