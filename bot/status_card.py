"""What /migrate status and /migrate history say, in the cards' words (bot.states): the outcome of
each run, who asked and approved, whether it was rolled back, the open incident, the newest
verified backup."""

from __future__ import annotations

from typing import Any

from bot.app import OpsBot
from bot.states import LOOKS, run_state
from ops import appinfo
from ops.approvals import Approval
from ops.journal import RunRecord


def history_line(r: RunRecord) -> str:
    """A run in the history: what, its outcome in the cards' words, who asked and who approved, and
    whether it was rolled back."""
    approved = f", approved by {r.approver}" if r.approver else ""
    undone = f" · ⏪ rolled back by run #{r.undone_by}" if r.undone_by else ""
    return (f"#{r.id} `{r.phase}` {r.migration or ''} — **{outcome_word(r)}** · by {r.who}{approved}{undone} "
            f"<t:{int(r.started_at)}:R>")


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
