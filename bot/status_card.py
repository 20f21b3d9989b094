"""What /migrate status and /migrate history say, in the cards' words (bot.states): the outcome of
each run, who asked and approved, whether it was rolled back, the open incident, the newest
verified backup."""

from __future__ import annotations

from typing import Any

import discord

from bot.app import OpsBot
from bot.render import simple_embed
from bot.states import LOOKS, run_state
from ops import appinfo, history, ledger, policy
from ops.approvals import Approval
from ops.context import Engine
from ops.journal import RunRecord
from ops.units import short_hash, size

HISTORY_LINES = 15
HISTORY_SCAN = 300  # the newest runs of every environment read to find one environment's


def history_line(r: RunRecord, env: str = "") -> str:
    """A run in the history: what (and where, when several environments are listed), its outcome
    in the cards' words, who asked and who approved, and whether it was rolled back."""
    approved = f", approved by {r.approver}" if r.approver else ""
    undone = f" · ⏪ rolled back by run #{r.undone_by}" if r.undone_by else ""
    where = f" on **{env}**" if env else ""
    return (f"#{r.id} `{r.phase}` {r.migration or ''}{where} — **{outcome_word(r)}** · by {r.who}{approved}{undone} "
            f"<t:{int(r.started_at)}:R>")


async def history_embed(bot: OpsBot, environment: str | None) -> discord.Embed:
    """/migrate history: one environment's recent runs, or every one's (one journal), each line
    naming its environment when the bot serves several."""
    names = {e.key: e.env_name for e in bot.engines.values()}
    if environment:
        engine = bot.engine_for(environment)
        runs = [r for r in await engine.journal.runs(HISTORY_SCAN) if r.target == engine.key][:HISTORY_LINES]
        lines = [history_line(r) for r in runs]
        title = f"History: {engine.env_name}"
    else:
        runs = await bot.engine.journal.runs(HISTORY_LINES)
        several = len(names) > 1
        lines = [history_line(r, names.get(r.target, r.target) if several else "") for r in runs]
        title = "History"
    return simple_embed(title, lines or ["No runs yet."])


def outcome_word(r: RunRecord) -> str:
    """A run's outcome in the cards' words (bot.states)."""
    if r.state in ("running", "interrupted"):
        return LOOKS[r.state].word.lower()
    if r.phase == "rollback" and r.state == "succeeded":
        return "restored"
    if r.phase in ("migrate", "rollback"):
        return LOOKS[run_state(r.outcome or "", ok=r.state == "succeeded")].word.lower()
    return r.state


def last_change_line(r: RunRecord | None) -> str:
    """The newest migrate or rollback, with its outcome: after a restart, status must not say
    "nothing" about a run that was interrupted."""
    if r is None:
        return "**last change** none"
    state = "interrupted: verify before anything else" if r.state == "interrupted" else outcome_word(r)
    approved = f", approved by {r.approver}" if r.approver else ""
    undone = f" · ⏪ rolled back by run #{r.undone_by}" if r.undone_by else ""
    return (f"**last change** run #{r.id} `{r.phase}` {r.migration or ''} — **{state}** · by {r.who}{approved}"
            f"{undone} <t:{int(r.started_at)}:R>")


def message_link(bot: OpsBot, a: Approval) -> str:
    return f"https://discord.com/channels/{bot.settings.discord.guild_id}/{a.channel_id}/{a.message_id}"


def incident_line(incident: dict[str, Any] | None) -> str:
    if incident is None:
        return "**health** no open incident"
    on_it = f", {incident['acked_by']} is on it" if incident.get("acked_by") else ", not acknowledged"
    return f"**health** ⚠ incident #{incident['id']} ({incident['kind']}) since <t:{int(incident['since'])}:R>{on_it}"


def backup_line(result: appinfo.StatusResult) -> str:
    if not result.newest_verified_backup:
        return f"**newest verified backup** none ({result.backups} in all)"
    name = result.newest_verified_backup.rsplit("/", 1)[-1]
    at = int(result.newest_verified_at or 0)
    return f"**newest verified backup** `{name}` taken <t:{at}:R> ({result.backups} in all)"


async def run_place(bot: OpsBot, run_id: int) -> str:
    """Where a run's progress is shown: its thread (a channel mention opens it), or ""."""
    for channel_id, _ in await bot.engine.journal.run_messages(run_id):
        if not bot.is_ops_channel(channel_id):
            return f"<#{channel_id}>"
    return ""


async def status_embed(bot: OpsBot, engine: Engine) -> discord.Embed:
    """One environment at a glance: where, schema, last change, what runs, pending requests, the
    sticky lock, the open incident, the newest verified backup, and what the ledger flags."""
    result = await appinfo.run_status(engine)
    pending = await bot.approvals.pending(engine.key)
    lock = await engine.journal.lock_for(engine.key)
    live = await run_place(bot, lock.run_id) if lock else ""
    held = await policy.sticky_lock(engine.journal, engine.key)
    report = await ledger.pending_report(engine.journal, engine.key, engine.env_name, engine.migrations_dir)
    lines = [
        f"**app** {engine.target.describe()} · machines "
        + (", ".join(f"{m['id']} {m['state']}" for m in result.machines) or "none"),
        f"**schema** user_version {result.user_version} · fingerprint `{short_hash(result.fingerprint) or '?'}` · "
        f"{size(result.db_bytes or 0)} · {len(report.applied)} applied, {len(report.pending)} pending"
        + (f" (next: {report.next})" if report.next else ""),
        last_change_line(await appinfo.last_change(engine)),
        f"**running** {result.lock or 'nothing'}{f' — follow it in {live}' if live else ''}",
        "**pending approvals** " + (", ".join(f"[#{a.id} {a.subject}]({message_link(bot, a)})"
                                              if a.message_id else f"#{a.id} {a.subject}" for a in pending)
                                    or "none"),
        incident_line(result.incident),
        backup_line(result),
        drill_line(result.last_drill),
    ]
    if held is not None:
        lines.insert(0, f"🔒 **locked** by {held.by} <t:{int(held.at)}:R>: {held.reason}")
    lines += [f"⚠ {w}" for w in result.ledger_warnings]
    environment = next((e for e in bot.settings.environments if e.name == engine.env), None)
    said = await history.note(engine.journal, environment, bot.settings.environments) if environment else ""
    if said:
        lines.append(f"**history** {said}")
    if result.error:
        lines.append(f"✘ {result.error}")
    return simple_embed(f"Status: {engine.env_name}", lines, ok=result.ok)


def drill_line(drill: dict[str, Any] | None) -> str:
    if drill is None:
        return "**last restore drill** none yet (`/migrate drill`)"
    look = "✅ passed" if drill["ok"] else "❌ failed"
    return f"**last restore drill** {look} <t:{int(drill['at'])}:R> (run #{drill['run_id']})"


def pending_embed(report: ledger.Pending) -> discord.Embed:
    flags = {"sql": " ⚠ its SQL changed since", "comments": " ⚠ comments changed since", "missing": " ⚠ file gone"}
    lines = [f"user_version {report.user_version} (for comparison: the ledger decides what is applied)"]
    lines += [f"✔ `{a['name']}` run #{a['run_id']} <t:{int(a['at'])}:R>"
              f"{flags.get(a['changed_since_applied'] or '', '')}" for a in report.applied]
    lines += [f"… `{p['name']}`{_rolled_back(p)}{' ⚠ out of order' if p['name'] in report.out_of_order else ''}"
              for p in report.pending]
    for t in report.tool_tables:
        if t.get("error"):
            lines.append(f"⚠ {t['tool']}'s table `{t['table']}` could not be read: {t['error'][:200]}")
            continue
        lines.append(f"{t['tool']}'s table `{t['table']}` (read only): applied {', '.join(t['applied']) or 'none'}")
    return simple_embed(f"Migrations on {report.env}: {len(report.applied)} applied, {len(report.pending)} pending",
                        lines)


def _rolled_back(pending: dict[str, Any]) -> str:
    return f" (rolled back by run #{pending['rolled_back_by']})" if pending.get("rolled_back_by") else ""
