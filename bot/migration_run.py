"""An approved migration request, shown: the progress card, then the result card with its health
check, checklist and Rollback, or the runbook's emergency steps when a failed run changed the
database. What runs and what the request becomes is ops.requests.run_approved_migration's."""

from __future__ import annotations

import logging

import discord

from bot import states
from bot.app import OpsBot
from bot.progress import failure_card, with_progress
from bot.render import migrate_embed
from bot.reporter import DiscordReporter
from bot.requests import edit_request
from bot.threads import request_thread_name, thread_for
from bot.views import EMERGENCY_STEPS, checklist_view, emergency_view, run_buttons
from ops.approvals import Approval
from ops.errors import OpsError
from ops.outcome import UNCHANGED, UNKNOWN, headline, icon
from ops.requests import ApprovedRun, run_approved_migration

log = logging.getLogger(__name__)


async def execute_migration(bot: OpsBot, a: Approval, approver: str) -> None:
    try:
        engine = bot.engine_by_key(a.target)
    except OpsError as exc:  # its environment left opsbot.toml since: nothing runs elsewhere instead
        await bot.approvals.executed(a.id, None, state="stale")
        await edit_request(bot, a, f"✘ {exc.message}\n→ {exc.hint}", state="stale")
        return
    await edit_request(bot, a, f"✅ Approved by {approver}; running…", state="running",
                       summary=f"approved by {approver}")
    env = engine.env
    what = f"migrate {a.subject}{f' on {env}' if env else ''} (request #{a.id}, approved by {approver})"
    thread = await thread_for(bot, a.channel_id, a.message_id, request_thread_name(a))
    try:
        done, rep = await with_progress(bot, None, what, lambda r: run_approved_migration(
            engine, bot.approvals, a, approver, r), where=thread)
    except Exception:
        log.exception("migrate run for request #%s crashed", a.id)
        await edit_request(bot, a, "✘ The run crashed; see the logs and run `/migrate verify`.", state=UNKNOWN)
        raise
    await show_result(bot, done, rep, what, thread)
    await tell_requester(thread, done)


async def tell_requester(where: discord.abc.Messageable, done: ApprovedRun) -> None:
    """The requester is pinged when the run ends, in the run's thread (only them)."""
    a = done.approval
    result = done.result
    state = states.run_state(done.outcome, ok=done.ok, health_ok=result.health_ok if result else None)
    look = states.LOOKS[state]
    try:
        await where.send(f"<@{a.requester_id}> your migration {a.subject} ended: {look.icon} {look.word}"
                         f"{f' (run #{done.run_id})' if done.run_id else ''}.",
                         allowed_mentions=discord.AllowedMentions(everyone=False, roles=False,
                                                                  users=[discord.Object(a.requester_id)]))
    except discord.HTTPException as exc:
        log.warning("could not tell the requester of request #%s: %s", a.id, exc)


async def show_result(bot: OpsBot, done: ApprovedRun, rep: DiscordReporter, what: str,
                      where: discord.abc.Messageable) -> None:
    """The run's card in its final state (bot.states), with what to do next."""
    a, result, exc = done.approval, done.result, done.error
    if exc is not None:
        await rep.finish(states.retitle(failure_card(what, rep, exc), done.outcome or UNCHANGED))
        if done.outcome in ("changed", "unknown"):  # it did start changing the database
            await edit_request(bot, a, f"{icon(done.outcome)} Run #{done.run_id}: "
                                       f"{headline('migrate', done.outcome)}: {exc.message}\n→ {exc.hint}",
                               state=done.outcome, summary=f"run #{done.run_id}" if done.run_id else "")
            if done.run_id:
                await where.send(
                    f"{icon(done.outcome)} Run #{done.run_id} of {a.subject}: {headline('migrate', done.outcome)}.",
                    view=emergency_view(done.run_id))
            return
        # The same state as the run's card and the requester's ping: failed, the database unchanged.
        await edit_request(bot, a, f"✘ Stopped before anything changed: {exc.message}\n→ {exc.hint}",
                           state=UNCHANGED, summary=f"run #{done.run_id}" if done.run_id else "")
        return
    assert result is not None
    heading = states.title(states.run_state(result.outcome, ok=result.ok, health_ok=result.health_ok), what)
    if result.ok:
        people = list(done.checklist)
        await rep.finish(migrate_embed(result, heading, rep.steps_text(), health_ok=result.health_ok, people=people),
                         view=checklist_view(result.run_id, people))
    else:
        changed = result.outcome in ("changed", "unknown")
        # Unchanged: there is nothing to roll back, so no Rollback button (only Verify).
        view = emergency_view(result.run_id) if changed else run_buttons(result.run_id, rollback=False, verify=True)
        await rep.finish(migrate_embed(result, heading, rep.steps_text(),
                                       emergency=EMERGENCY_STEPS if changed else ()), view=view)
    run = f"[run #{result.run_id}]({rep.message.jump_url})" if rep.message else f"run #{result.run_id}"
    await edit_request(bot, a, f"{'✔ Done' if result.ok else '✘ Failed'}: {run}",
                       state=states.run_state(result.outcome, ok=result.ok, health_ok=result.health_ok),
                       summary=f"run #{result.run_id}")

