"""The two-person rule for /migrate run: request, ✅/❌ reactions, expiry, execution.

Reactions arrive as raw gateway events and every decision is a conditional UPDATE in the
journal, so a request made before a restart can be approved after it, and two ✅ at once
still run the migration exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.app import has_role, send_ephemeral
from bot.render import clip, counts_block, migrate_embed, simple_embed
from bot.reporter import DiscordReporter
from cogs.ui import EMERGENCY_STEPS, checklist_view, emergency_view, run_buttons
from ops import migrate
from ops.approvals import Approval
from ops.backup import backup_path
from ops.errors import OpsError
from ops.health import check_health
from ops.migrate import backup_label
from ops.migrations import Migration, load
from ops.reporter import Status

if TYPE_CHECKING:
    from cogs.migrate import MigrateCog

log = logging.getLogger(__name__)

APPROVE, CANCEL = "✅", "❌"


class ApprovalFlow:
    def __init__(self, cog: MigrateCog) -> None:
        self.cog = cog
        self.bot = cog.bot
        self.engine = cog.engine
        self.approvals = cog.bot.approvals
        self.preparing: dict[str, str] = {}  # target → who is waiting for a preflight to post a request

    async def request(self, interaction: discord.Interaction, name: str,
                      allow_row_loss: tuple[str, ...] = ()) -> None:
        target = self.engine.target.name
        lock = await self.engine.journal.lock_for(target)
        if lock:
            since = time.strftime("%H:%M:%S UTC", time.gmtime(lock.since))
            raise OpsError(f"{lock.holder.split(' (')[0]} is running {lock.phase} (run #{lock.run_id}) since {since}",
                           hint="Wait for it to finish; one backup, migrate or rollback runs at a time.")
        for waiting in await self.approvals.pending(target):
            if not waiting.expired and waiting.kind == "migrate":
                raise OpsError(f"{waiting.requester} already asked to run {waiting.subject} (request #{waiting.id})",
                               hint="Approve or cancel that request first (✅/❌ on its message).")
        migration = load(self.engine.migrations_dir, name)
        preparing = self.preparing.get(target)
        if preparing:
            raise OpsError(f"{preparing} already asked to run a migration; its preflight is still running",
                           hint="Wait for that request to appear in the ops channel, then approve or cancel it.")
        # Set before the first await after the checks: two requests at once cannot both pass.
        self.preparing[target] = interaction.user.name
        try:
            await self._prepare_and_post(interaction, migration, allow_row_loss)
        finally:
            self.preparing.pop(target, None)

    async def _prepare_and_post(self, interaction: discord.Interaction, migration: Migration,
                                allow_row_loss: tuple[str, ...]) -> None:
        name = migration.name
        # A recent preflight is reused only when it was made with the same row-loss allowance.
        pre = await self.fresh_preflight(name, migration.sha256)
        if pre is not None and tuple(pre.get("allow_row_loss") or ()) != migration.row_loss_allowed(allow_row_loss):
            pre = None
        if pre is None:
            result = await self.cog.run_preflight(interaction, name, allow_row_loss)
            if not result.ok:
                raise OpsError(f"the preflight of {name} failed: {result.error}",
                               hint="Nothing was requested. Fix the migration and run it again.")
            pre = {"run_id": result.run_id, **result.to_dict()}
        await self.post_request(interaction, migration, pre, allow_row_loss)

    async def fresh_preflight(self, name: str, sha256: str) -> dict | None:
        record = await self.engine.journal.latest_preflight(self.engine.target.name, name, sha256)
        if record is None or time.time() - record.at > self.bot.settings.preflight_max_age_s:
            return None
        run = await self.engine.journal.run(record.run_id)
        return {"run_id": record.run_id, **json.loads(run["summary"])} if run and run["summary"] else None

    async def post_request(self, interaction: discord.Interaction, migration: Migration, pre: dict,
                           allow_row_loss: tuple[str, ...] = ()) -> None:
        name, sha256 = migration.name, migration.sha256
        timeout = self.bot.settings.approval_timeout_s
        approval_id = await self.approvals.create(
            target=self.engine.target.name, subject=name, sha256=sha256, fingerprint=pre["fingerprint"],
            requester_id=interaction.user.id, requester=interaction.user.name, timeout_s=timeout,
            preflight_run_id=pre["run_id"], allow_row_loss=allow_row_loss)
        approval = await self.approvals.get(approval_id)
        assert approval is not None
        channel = await self.bot.ops_channel()
        message = await channel.send(embed=self.request_embed(approval, pre, backup_label(migration)))
        await self.approvals.attach_message(approval_id, message.channel.id, message.id)
        for emoji in (APPROVE, CANCEL):
            await message.add_reaction(emoji)
        await send_ephemeral(interaction, f"Approval requested: {message.jump_url}")

    def request_embed(self, a: Approval, pre: dict, label: str) -> discord.Embed:
        lint = "\n".join(pre.get("lint") or []) or "none"
        checks = "\n".join(f"{'☑' if c['ok'] else '☒'} `{c['sql'][:120]}`" for c in pre.get("checks") or []) or "none"
        return simple_embed(f"Approval needed: migrate {a.subject}", [
            f"Requested by **{a.requester}** (<@{a.requester_id}>) · sha256 `{a.sha256[:12]}` · schema "
            f"`{a.fingerprint[:12]}`",
            f"An approver (<@&{self.bot.settings.approver_role_id}>), not the requester, reacts {APPROVE} to run it; "
            f"{CANCEL} cancels. Expires <t:{int(a.expires_at)}:R>."], ok=True, fields={
            "Preflight row counts (before → after)": counts_block(pre["counts_before"], pre["counts_after"]),
            "Lint": clip(lint), "Checks": clip(checks),
            "How the file was read": clip("\n".join(pre.get("notes") or []) or "as written"),
            "Rows may be lost in (requester's word)": clip(", ".join(a.allow_row_loss) or "none: any lost row aborts"),
            "Backup taken first": f"`{backup_path(self.engine.db_path, label)}` (time of the run)",
        })

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        if self.bot.user and payload.user_id == self.bot.user.id:
            return
        approval = await self.approvals.by_message(payload.message_id)
        if approval is None:
            return
        emoji, member = str(payload.emoji), payload.member
        who = member.name if member else str(payload.user_id)
        outcome = await self.decide(approval, emoji, payload.user_id, member)
        await self.approvals.record_reaction(approval.id, payload.user_id, who, emoji, outcome)
        log.info("reaction %s by %s on request #%s: %s", emoji, who, approval.id, outcome)
        if outcome == "approved":
            await self.execute(approval, who)

    async def decide(self, a: Approval, emoji: str, user_id: int, member: discord.Member | None) -> str:
        if a.state != "pending":
            return f"ignored: request already {a.state}"
        if a.expired:
            await self.expire(a)
            return "ignored: request expired"
        approver = has_role(member, self.bot.settings.approver_role_id)
        if emoji == APPROVE:
            if user_id == a.requester_id:
                return "ignored: the requester cannot approve their own change"
            if not approver:
                return "ignored: not an approver"
            if await self.approvals.transition(a.id, "approved", member.name if member else str(user_id),
                                               require_unexpired=True):
                return "approved"
            return "ignored: already decided"
        if emoji == CANCEL:
            if not (approver or user_id == a.requester_id):
                return "ignored: only an approver or the requester can cancel"
            if await self.approvals.transition(a.id, "cancelled", member.name if member else str(user_id)):
                await self.edit_request(a, f"❌ Cancelled by {member.name if member else user_id}.", ok=False)
                return "cancelled"
            return "ignored: already decided"
        return "ignored: not an approval emoji"

    async def execute(self, a: Approval, approver: str) -> None:
        if a.kind != "migrate":
            executor = self.bot.approval_executors.get(a.kind)
            if executor is None:
                await self.edit_request(a, f"✘ Nothing here can run a {a.kind} request.", ok=False)
                return
            await executor(a, approver)
            return
        await self.edit_request(a, f"✅ Approved by {approver}; running…")
        title = f"Migrate {a.subject} (request #{a.id}, approved by {approver})"
        try:
            result, rep = await self.cog.with_progress(None, title, lambda r: migrate.run_migrate(
                self.engine, a.subject, confirmed=True, expected_fingerprint=a.fingerprint,
                allow_row_loss=a.allow_row_loss,
                expected_sha256=a.sha256, reporter=r, actor=f"{a.requester} ({a.requester_id}) + {approver}"))
        except OpsError as exc:
            await self.approvals.executed(a.id, None, state="stale")
            await self.edit_request(a, f"✘ Stopped before running: {exc.message}\n→ {exc.hint}", ok=False)
            return
        except Exception:
            log.exception("migrate run for request #%s crashed", a.id)
            await self.edit_request(a, "✘ The run crashed; see the logs and run `/migrate verify`.", ok=False)
            raise
        await self.approvals.executed(a.id, result.run_id)
        await self.finish_run_message(rep, result, title)
        await self.edit_request(a, f"{'✔ Done' if result.ok else '✘ Failed'}: run #{result.run_id} "
                                   f"{rep.message.jump_url if rep.message else ''}", ok=result.ok)

    async def finish_run_message(self, rep: DiscordReporter, result: migrate.MigrateResult, title: str) -> None:
        """Success: health check, checklist buttons and Rollback. Failure: Rollback, plus the
        runbook's emergency steps when the database did change."""
        heading = f"{'✔' if result.ok else '✘'} {title}"
        if result.ok:
            health_ok = None
            if self.bot.settings.engine.health_url:
                rep.step("app health", Status.RUNNING)
                health = await check_health(self.bot.settings.engine.health_url,
                                            timeout=self.bot.settings.engine.health_timeout_s,
                                            expect=self.bot.settings.engine.health_expect)
                health_ok = health.ok
                rep.step("app health", Status.DONE if health.ok else Status.FAILED,
                         f"HTTP {health.status} in {health.latency_ms} ms" if health.ok else health.error)
            people = await self.cog.checklist.create(
                result.run_id, result.manual, automatic_ok=health_ok is not False,
                extra=() if self.bot.settings.engine.health_url else ("After: the app started normally",))
            await rep.finish(migrate_embed(result, heading, rep.steps_text(), health_ok=health_ok, people=people),
                             view=checklist_view(result.run_id, people))
            return
        changed = result.committed or result.database_unchanged is False
        view = emergency_view(result.run_id) if changed else run_buttons(result.run_id)
        await rep.finish(migrate_embed(result, heading, rep.steps_text(),
                                       emergency=EMERGENCY_STEPS if changed else ()), view=view)

    async def expire_due(self) -> None:
        for a in await self.approvals.pending():
            if a.expired:
                await self.expire(a)

    async def expire(self, a: Approval) -> None:
        if await self.approvals.transition(a.id, "expired", "timeout"):
            await self.edit_request(a, "⌛ Expired: no decision in time. Request again with `/migrate run`.", ok=False)

    async def edit_request(self, a: Approval, line: str, *, ok: bool = True) -> None:
        await edit_request(self.bot, a, line, ok=ok)


async def edit_request(bot: discord.Client, a: Approval, line: str, *, ok: bool = True) -> None:
    """Put the latest decision or outcome at the top of the request message."""
    if not a.message_id or not a.channel_id:
        return
    channel = bot.get_partial_messageable(a.channel_id)
    try:
        message = await channel.fetch_message(a.message_id)
        embed = message.embeds[0] if message.embeds else discord.Embed(title=f"{a.kind} {a.subject}")
        embed.colour = discord.Colour.green() if ok else discord.Colour.red()
        embed.description = clip(f"{line}\n\n{embed.description or ''}", 4000)
        await message.edit(embed=embed)
    except discord.HTTPException as exc:
        log.warning("could not edit approval message for request #%s: %s", a.id, exc)
