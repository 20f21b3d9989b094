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
from ops.outcome import headline, icon
from ops.reporter import Status

if TYPE_CHECKING:
    from cogs.migrate import MigrateCog

log = logging.getLogger(__name__)

APPROVE, CANCEL = "✅", "❌"


def request_marker(approval_id: int) -> str:
    """The footer that ties a request message to its journal row (found again after a 5xx)."""
    return f"opsbot request #{approval_id}"


class ApprovalFlow:
    def __init__(self, cog: MigrateCog) -> None:
        self.cog = cog
        self.bot = cog.bot
        self.engine = cog.engine
        self.approvals = cog.bot.approvals
        self.preparing: dict[str, str] = {}  # target → who is waiting for a preflight to post a request
        self.executing: set[int] = set()  # approved requests whose run is in flight in this process

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
        if record is None or time.time() - record.at > self.bot.settings.discord.preflight_max_age_s:
            return None
        run = await self.engine.journal.run(record.run_id)
        return {"run_id": record.run_id, **json.loads(run["summary"])} if run and run["summary"] else None

    async def post_request(self, interaction: discord.Interaction, migration: Migration, pre: dict,
                           allow_row_loss: tuple[str, ...] = ()) -> None:
        name, sha256 = migration.name, migration.sha256
        timeout = self.bot.settings.discord.approval_timeout_s
        approval_id = await self.approvals.create(
            target=self.engine.target.name, subject=name, sha256=sha256, fingerprint=pre["fingerprint"],
            requester_id=interaction.user.id, requester=interaction.user.name, timeout_s=timeout,
            preflight_run_id=pre["run_id"], allow_row_loss=allow_row_loss)
        approval = await self.approvals.get(approval_id)
        assert approval is not None
        channel = await self.bot.ops_channel()
        embed = self.request_embed(approval, pre, backup_label(migration))
        embed.set_footer(text=request_marker(approval_id))
        try:
            message: discord.Message | None = await channel.send(embed=embed)
        except discord.HTTPException as exc:
            # A 5xx may come after Discord stored the message: look before calling it lost.
            message = await self.posted_copy(channel, approval_id)
            if message is None:
                await self.approvals.transition(approval_id, "unposted", f"Discord answered {exc.status}")
                raise OpsError(f"Discord did not take the request message (HTTP {exc.status}), so nothing was "
                               "requested", hint="Run /migrate run again in a minute (the preflight is reused).") \
                    from exc
        assert message is not None
        # Attached at once, so a ✅ that arrives while duplicates are looked for still counts.
        await self.approvals.attach_message(approval_id, message.channel.id, message.id)
        kept = await self.keep_one(channel, approval_id, message)
        if kept.id != message.id:
            await self.approvals.attach_message(approval_id, kept.channel.id, kept.id)
        message = kept
        for emoji in (APPROVE, CANCEL):
            await message.add_reaction(emoji)
        await send_ephemeral(interaction, f"Approval requested: {message.jump_url}")

    async def posted_copies(self, channel: discord.abc.Messageable, approval_id: int) -> list[discord.Message]:
        """The bot's recent messages carrying this request's marker, oldest first."""
        marker, found = request_marker(approval_id), []
        async for m in channel.history(limit=25):
            if self.bot.user and m.author.id == self.bot.user.id and m.embeds and m.embeds[0].footer.text == marker:
                found.append(m)
        return sorted(found, key=lambda m: m.id)

    async def posted_copy(self, channel: discord.abc.Messageable, approval_id: int) -> discord.Message | None:
        try:
            copies = await self.posted_copies(channel, approval_id)
        except discord.HTTPException as exc:
            log.warning("could not read the channel back for request #%s: %s", approval_id, exc)
            return None
        return copies[0] if copies else None

    async def keep_one(self, channel: discord.abc.Messageable, approval_id: int,
                       message: discord.Message) -> discord.Message:
        """discord.py retries a 5xx: when Discord had stored the first try, the request is in the
        channel twice. Keep the first one (the one people saw first) and delete the others."""
        try:
            copies = await self.posted_copies(channel, approval_id)
        except discord.HTTPException as exc:
            log.warning("could not check request #%s for duplicates: %s", approval_id, exc)
            return message
        if len(copies) <= 1:
            return message
        keep, extra = copies[0], copies[1:]
        for m in extra:
            try:
                await m.delete()
            except discord.HTTPException as exc:
                log.warning("could not delete a duplicate of request #%s: %s", approval_id, exc)
        log.info("request #%s was posted %d times (a retried 5xx); kept %s", approval_id, len(copies), keep.id)
        return keep

    def request_embed(self, a: Approval, pre: dict, label: str) -> discord.Embed:
        lint = "\n".join(pre.get("lint") or []) or "none"
        checks = "\n".join(f"{'☑' if c['ok'] else '☒'} `{c['sql'][:120]}`" for c in pre.get("checks") or []) or "none"
        return simple_embed(f"Approval needed: migrate {a.subject}", [
            f"Requested by **{a.requester}** (<@{a.requester_id}>) · sha256 `{a.sha256[:12]}` · schema "
            f"`{a.fingerprint[:12]}`",
            f"An approver (<@&{self.bot.settings.discord.approver_role_id}>), not the requester, reacts {APPROVE} "
            "to run it; "
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
        await self.handle_reaction(approval, str(payload.emoji), payload.user_id, payload.member)

    async def handle_reaction(self, approval: Approval, emoji: str, user_id: int,
                              member: discord.Member | None, *, late: bool = False, run: bool = True) -> str:
        """One reaction, live or read back after a restart or a reconnect (``late``): the same rules.
        With ``run=False`` an approval is recorded and the caller starts the run."""
        who = member.name if member else str(user_id)
        outcome = await self.decide(approval, emoji, user_id, member)
        await self.approvals.record_reaction(approval.id, user_id, who, emoji, outcome)
        log.info("%sreaction %s by %s on request #%s: %s", "late " if late else "", emoji, who, approval.id, outcome)
        if outcome == "approved" and run:
            await self.run_approved(approval, who, late=late)
        return outcome

    async def run_approved(self, approval: Approval, who: str, *, late: bool = False) -> None:
        if late:
            await (await self.bot.ops_channel()).send(
                f"✅ {who} approved request #{approval.id} ({approval.subject}) while opsbot was offline; "
                "running it now.", allowed_mentions=discord.AllowedMentions.none())
        self.executing.add(approval.id)
        try:
            await self.execute(approval, who)
        finally:
            self.executing.discard(approval.id)

    async def decide(self, a: Approval, emoji: str, user_id: int, member: discord.Member | None) -> str:
        if a.state != "pending":
            return f"ignored: request already {a.state}"
        if a.expired:
            await self.expire(a)
            return "ignored: request expired"
        approver = has_role(member, self.bot.settings.discord.approver_role_id)
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
            result, rep = await self.cog.with_progress(None, title, on_run=lambda run_id: self.approvals.link_run(
                a.id, run_id), phase=lambda r: migrate.run_migrate(
                self.engine, a.subject, confirmed=True, expected_fingerprint=a.fingerprint,
                allow_row_loss=a.allow_row_loss,
                expected_sha256=a.sha256, reporter=r, actor=f"{a.requester} ({a.requester_id}) + {approver}"))
        except OpsError as exc:
            linked = await self.approvals.get(a.id)
            run_id = linked.run_id if linked else None
            if exc.outcome in ("changed", "unknown"):  # it did start changing the database
                await self.approvals.executed(a.id, run_id)
                await self.edit_request(a, f"{icon(exc.outcome)} Run #{run_id}: {headline('migrate', exc.outcome)}: "
                                           f"{exc.message}\n→ {exc.hint}", ok=False)
                if run_id:
                    await (await self.bot.ops_channel()).send(
                        f"{icon(exc.outcome)} Run #{run_id} of {a.subject}: {headline('migrate', exc.outcome)}.",
                        view=emergency_view(run_id))
                return
            await self.approvals.executed(a.id, run_id, state="stale")
            await self.edit_request(a, f"✘ Stopped before anything changed: {exc.message}\n→ {exc.hint}", ok=False)
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
        heading = f"{icon(result.outcome, ok=result.ok)} {title}"
        if result.ok:
            health_ok = None
            if self.bot.settings.ops.health.url:
                rep.step("app health", Status.RUNNING)
                health = await check_health(self.bot.settings.ops.health.url,
                                            timeout=self.bot.settings.ops.health.timeout_s,
                                            expect=self.bot.settings.ops.health.expect)
                health_ok = health.ok
                rep.step("app health", Status.DONE if health.ok else Status.FAILED,
                         f"HTTP {health.status} in {health.latency_ms} ms" if health.ok else health.error)
            people = await self.cog.checklist.create(
                result.run_id, result.manual, automatic_ok=health_ok is not False,
                extra=() if self.bot.settings.ops.health.url else ("After: the app started normally",))
            await rep.finish(migrate_embed(result, heading, rep.steps_text(), health_ok=health_ok, people=people),
                             view=checklist_view(result.run_id, people))
            return
        changed = result.outcome in ("changed", "unknown")
        # Unchanged: there is nothing to roll back, so no Rollback button (only Verify).
        view = emergency_view(result.run_id) if changed else run_buttons(result.run_id, rollback=False,
                                                                           verify=True)
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
