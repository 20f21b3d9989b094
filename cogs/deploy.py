"""/deploy: the runbook's code rollback (3.2) — `git revert HEAD` and push, after approval."""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OpsBot, require_role, send_ephemeral
from bot.render import clip, simple_embed
from bot.requests import edit_request, post_request
from bot.states import retitle, title
from bot.threads import request_thread_name, thread_for
from ops.approvals import Approval
from ops.coderevert import KIND, CodeRepo, Commit, request_revert, run_approved_revert
from ops.errors import OpsError
from ops.outcome import DONE, UNCHANGED
from ops.requests import APPROVE, CANCEL, RequestGate
from ops.units import short_hash

log = logging.getLogger(__name__)


def commit_line(c: Commit) -> str:
    return f"`{c.short}` {clip(c.subject, 80)} — {c.author}, {c.date[:16].replace('T', ' ')}"


class DeployCog(commands.GroupCog, name="deploy", group_name="deploy",
                group_description="Code rollback of the app's deploy branch"):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot
        self.gate = RequestGate()
        s = bot.engine.settings
        self.code = CodeRepo(url=s.code.repo, branch=s.code.branch, clone_dir=s.engine.state_db.parent / "code",
                             name=s.code.committer_name, email=s.code.committer_email, deploy_key=s.code.deploy_key)

    async def cog_load(self) -> None:
        self.bot.approval_executors[KIND] = self.execute

    def repo(self) -> CodeRepo:
        if not self.code.url:
            raise OpsError("no code repository is configured", hint="Set CODE_REPO (and CODE_BRANCH) and restart.")
        return self.code

    @app_commands.command(name="log", description="The last commits of the deploy branch")
    async def log_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "read the deploy branch")
        code = self.repo()
        await code.sync()
        commits = await code.log(5)
        await interaction.followup.send(embed=simple_embed(f"{code.branch}: last commits",
                                                           [commit_line(c) for c in commits]), ephemeral=True)

    @app_commands.command(name="revert", description="Revert the last commit of the deploy branch (approval needed)")
    async def revert_cmd(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need(interaction, self.bot.settings.discord.operator_role_id, "request a code rollback")
        code = self.repo()
        approval, preview = await request_revert(
            self.bot.engine, self.bot.approvals, code, requester_id=interaction.user.id,
            requester=interaction.user.name, timeout_s=self.bot.settings.discord.approval_timeout_s, gate=self.gate)
        files = "\n".join(f"{path}  +{a} -{r}" for path, a, r in preview.files[:30]) or "(no file changes)"
        warn = ["⚠ HEAD is a merge commit: it cannot be reverted automatically."] if preview.is_merge else []
        embed = retitle(simple_embed(f"revert {preview.head.short} on {code.branch}", [
            f"Requested by **{approval.requester}** (<@{approval.requester_id}>). An approver who is not the "
            f"requester reacts {APPROVE} to revert and push (never forced); {CANCEL} cancels. "
            f"Expires <t:{int(approval.expires_at)}:R>.", *warn], fields={
            "Last 5 commits": "\n".join(commit_line(c) for c in preview.recent),
            f"What `git revert HEAD` changes (+{preview.added} -{preview.removed})": f"```\n{clip(files, 990)}\n```",
            "Bound to": f"commit `{preview.head.id}`: if {code.branch} moves first, nothing is reverted.",
        }), "pending")
        message = await post_request(self.bot, self.bot.approvals, await self.bot.ops_channel(), approval.id, embed,
                                     retry_hint="Run /deploy revert again in a minute.",
                                     ping_role=self.bot.settings.discord.approver_role_id)
        await send_ephemeral(interaction, f"Code rollback requested: {message.jump_url}")

    async def execute(self, a: Approval, approver: str) -> None:
        code = self.repo()
        await edit_request(self.bot, a, f"✅ Approved by {approver}; reverting…", state="running")
        done = await run_approved_revert(self.bot.engine, self.bot.approvals, code, a, approver)
        exc, result = done.error, done.result
        # The result goes into the request's thread: the request card is the one card in the channel.
        thread = await thread_for(self.bot, a.channel_id, a.message_id, request_thread_name(a))
        if exc is not None:
            await edit_request(self.bot, a, f"✘ {exc.message}\n→ {exc.hint}",
                               state="stale" if done.state == "stale" else UNCHANGED)
            await thread.send(embed=simple_embed(
                title("failed", f"code rollback of {code.branch} did not happen"), [exc.message, f"→ {exc.hint}"],
                ok=False))
            return
        assert result is not None
        new = short_hash(result.new_commit)
        lines = [f"Reverted `{short_hash(result.reverted)}` on **{code.branch}** and pushed `{new}` "
                 f"(approved by {approver}, requested by {a.requester}).",
                 f"Commit: `{new}` — {clip(result.subject, 200)}",
                 "The deploy pipeline picks it up from the branch as usual."]
        await thread.send(embed=simple_embed(title(DONE, f"code rollback of {code.branch}"), lines))
        await edit_request(self.bot, a, f"✔ Done: new commit `{new}` <t:{int(time.time())}:f>.", state=DONE)

    def need(self, interaction: discord.Interaction, role_id: int, what: str) -> None:
        require_role(interaction, role_id, what)


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(DeployCog(bot))
