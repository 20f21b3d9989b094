"""Reactions on request cards, for every kind of request: decided by ops.requests, shown here,
and an approved request handed to the executor its kind registered (``bot.approval_executors``)."""

from __future__ import annotations

import logging

import discord

from bot.app import OpsBot, has_role
from bot.requests import edit_request, note_on_request
from bot.threads import request_thread_name, thread_for
from ops import requests
from ops.approvals import Approval

log = logging.getLogger(__name__)


class ApprovalDesk:
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot
        self.approvals = bot.approvals
        self.executing: set[int] = set()  # approved requests whose run is in flight in this process

    def reactor(self, user_id: int, member: discord.Member | None) -> requests.Reactor:
        return requests.Reactor(user_id, member.name if member else str(user_id),
                                has_role(member, self.bot.settings.discord.approver_role_id))

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        if self.bot.user and payload.user_id == self.bot.user.id:
            return
        approval = await self.approvals.by_message(payload.message_id)
        if approval is None:
            return
        await self.handle_reaction(approval, str(payload.emoji), payload.user_id, payload.member)

    async def on_reaction_removed(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != requests.APPROVE:
            return
        approval = await self.approvals.by_message(payload.message_id)
        if approval is None:
            return
        guild = self.bot.get_guild(self.bot.settings.discord.guild_id)
        who = self.reactor(payload.user_id, guild.get_member(payload.user_id) if guild else None)
        decision = await requests.withdraw(self.approvals, approval, who)
        if decision is not None:
            name = (await self.approvals.reactions(approval.id))[-1].user_name
            log.info("✅ withdrawn by %s on request #%s", name, approval.id)
            await note_on_request(self.bot, approval, f"↩ {name} took their ✅ back: {decision.outcome}.")

    async def handle_reaction(self, approval: Approval, emoji: str, user_id: int,
                              member: discord.Member | None, *, late: bool = False, run: bool = True) -> str:
        """One reaction, live or read back after a restart or a reconnect (``late``): the same rules.
        With ``run=False`` an approval is recorded and the caller starts the run."""
        who = self.reactor(user_id, member)
        decision = await requests.react(self.approvals, approval, emoji, who)
        log.info("%sreaction %s by %s on request #%s: %s", "late " if late else "", emoji, who.name, approval.id,
                 decision.outcome)
        if decision.outcome.startswith("ignored: ") and emoji in requests.APPROVAL_EMOJI:
            await self.answer_ignored(approval, emoji, who, decision.outcome)
        if decision.outcome.startswith(requests.COUNTED):  # one of several approvers the policy needs
            await note_on_request(self.bot, approval, f"{emoji} {who.name}: {decision.outcome}.")
        if decision.moved_to == "cancelled":
            await edit_request(self.bot, approval, f"🚫 Cancelled by {who.name}.", state="cancelled")
        elif decision.moved_to == "expired":
            await self.show_expired(approval)
        elif decision.moved_to == "approved" and run:
            decided = await self.approvals.get(approval.id)  # every approver, when it needed several
            await self.run_approved(approval, (decided.decided_by if decided else None) or who.name, late=late)
        return decision.outcome

    async def answer_ignored(self, approval: Approval, emoji: str, who: requests.Reactor, outcome: str) -> None:
        """A ✅/❌ that does not count is answered on the card, once per person and reason, so it
        does not sit there looking like a decision."""
        seen = [r for r in await self.approvals.reactions(approval.id)
                if r.user_id == who.user_id and r.outcome == outcome]
        if len(seen) == 1:  # just recorded: the first time
            await note_on_request(self.bot, approval, f"{emoji} from {who.name} {outcome}.")

    async def run_approved(self, approval: Approval, who: str, *, late: bool = False) -> None:
        if late:
            # Into the request's thread: the request card stays its one card in the channel.
            place = await thread_for(self.bot, approval.channel_id, approval.message_id,
                                     request_thread_name(approval))
            await place.send(
                f"✅ {who} approved request #{approval.id} ({approval.subject}) while opsbot was offline; "
                "running it now.", allowed_mentions=discord.AllowedMentions.none())
        self.executing.add(approval.id)
        try:
            executor = self.bot.approval_executors.get(approval.kind)
            if executor is None:
                await edit_request(self.bot, approval, f"✘ Nothing here can run a {approval.kind} request.",
                                   state="stale")
                return
            await executor(approval, who)
        finally:
            self.executing.discard(approval.id)

    async def expire_due(self) -> None:
        for a in await requests.expire_due(self.approvals):
            await self.show_expired(a)

    async def show_expired(self, a: Approval) -> None:
        again = "`/migrate run`" if a.kind == "migrate" else "the command that asked for it"
        await edit_request(self.bot, a, f"⌛ Expired: no decision in time. Request again with {again}.",
                           state="expired")
