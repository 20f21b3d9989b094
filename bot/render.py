"""Results rendered for Discord, inside its limits (DESIGN §3): 1024 chars a field, 25 fields,
6000 an embed; anything longer goes into an attached file."""

from __future__ import annotations

import io
import re
from typing import Any

import discord

from bot.reporter import took
from bot.states import LOOKS, retitle, run_state
from ops.approvals import Approval
from ops.journal_records import PreflightPlan
from ops.migrate import MigrateResult
from ops.outcome import headline
from ops.preflight import PreflightResult
from ops.requests import APPROVE, CANCEL
from ops.schema import count_changes
from ops.units import short_hash

FIELD_MAX = 1024
PEOPLE_FIELD = "Checklist: people (tick the buttons)"


# An absolute path on a host ("/data/app.db.pre-x", "/tmp/…/snapshot.db"), not a URL's path, and
# not a slash command ("/migrate unlock", "/health resume": one segment).
_HOST_PATH = re.compile(r"(?<![\w:/.<>#@&-])/(?:[\w.+@~-]+/)+[\w.+@~-]+")


def without_host_paths(text: str) -> str:
    """A line for a card in the channel: host paths belong to the thread's detail (issue 13)."""
    return _HOST_PATH.sub("(path in the thread)", text)


def clip(text: str, limit: int = FIELD_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 2] + "…"


def counts_lines(before: dict[str, int], after: dict[str, int]) -> str:
    """`table  before → after (change)`, one table a line; tables that lost rows are flagged."""
    changes = count_changes(before, after)
    width = max((len(c.table) for c in changes), default=5)
    lines = []
    for c in changes:
        b = "-" if c.before is None else f"{c.before:,}"
        a = "dropped" if c.after is None else f"{c.after:,}"
        flag = "  ⚠ LOST ROWS" if c.lost_rows else ""
        lines.append(f"{c.table:<{width}}  {b:>9} → {a:>9} ({c.delta:+,}){flag}")
    return "\n".join(lines) or "(no tables)"


def counts_block(before: dict[str, int], after: dict[str, int]) -> str:
    """`counts_lines` in a code block, cut to fit a field."""
    body = counts_lines(before, after)
    block = f"```\n{body}\n```"
    if len(block) > FIELD_MAX:
        block = f"```\n{body[: FIELD_MAX - 40]}\n…\n```\n(full table attached)"
    return block


def rows_block(counts: dict[str, int]) -> str:
    """`table: rows` per table, in a code block."""
    body = "\n".join(f"{t}: {n:,}" for t, n in sorted(counts.items())) or "(no tables)"
    return clip(f"```\n{body}\n```")


def tick(done: bool | None) -> str:
    return "☑" if done else ("☐" if done is None else "☒")


def checklist(*, preflight_ok: bool | None, backup_ok: bool | None, committed: bool | None,
              no_loss: bool | None, checks_ok: bool | None, health_ok: bool | None = None,
              health_by_people: bool = False, rollback_ready: bool | None = None) -> str:
    """The runbook's Phase 4 items opsbot verifies itself: ☑ verified, ☒ failed, ☐ not known."""
    items = [
        (preflight_ok, "Before: migration succeeded on a copy (preflight)"),
        (backup_ok, "Before: staging backup taken and verified"),
        (backup_ok, "Before: table structure and row counts recorded"),
        (backup_ok if rollback_ready is None else rollback_ready,
         "Before: rollback ready (Rollback button)" if rollback_ready is not False
         else "Rollback: not needed, the database is unchanged"),
        (committed, "During: every migration step succeeded (one transaction)"),
        (no_loss, "During: no data loss (row counts per table)"),
        (health_ok, "After: app health not checked by opsbot (no HEALTH_URL): a person ticks it below"
         if health_by_people else "After: app healthy (health check)"),
        (checks_ok, "After: the migration's own checks hold"),
    ]
    return "\n".join(f"{'➖' if 'not checked by opsbot' in text else tick(done)} {text}" for done, text in items)


def people_checklist(items: list[Any]) -> str:
    """The items only people can verify, with who ticked them and when."""
    lines = []
    for item in items:
        if item.ticked:
            lines.append(f"☑ {item.text} — {item.ticked_by} <t:{int(item.ticked_at)}:t>")
        else:
            lines.append(f"☐ {item.text}")
    return clip("\n".join(lines) or "(none)")


def migrate_embed(result: MigrateResult, title: str, steps: str, *, health_ok: bool | None = None,
                  people: list[Any] | None = None, emergency: tuple[str, ...] = ()) -> discord.Embed:
    colour = LOOKS[run_state(result.outcome, ok=result.ok, health_ok=health_ok)].colour
    embed = discord.Embed(title=title[:256], description=clip(steps, 3500), colour=colour)
    embed.add_field(name="Rows per table (before → after)", value=counts_block(result.counts_before, result.counts),
                    inline=False)
    if not result.ok:
        embed.add_field(name="What happened", value=clip(
            f"**{headline('migrate', result.outcome, ok=False)}**\n{result.error or 'failed'}"), inline=False)
    embed.add_field(name="Next", value=clip(result.hint or "-"), inline=False)
    if result.backup:
        name = result.backup.rsplit("/", 1)[-1]
        embed.add_field(name="Backup", value=f"`{name}` on the app host" + (
            ", and a second copy off it (sha256 matches)" if result.offsite else ""), inline=False)
    embed.add_field(name="Checklist: verified by opsbot", value=checklist(
        preflight_ok=True, backup_ok=bool(result.backup), committed=result.committed if result.ok else False,
        rollback_ready=False if result.outcome == "unchanged" else None,
        no_loss=not result.lost_rows if result.ok else None, health_ok=health_ok,
        health_by_people=people is not None and health_ok is None,
        checks_ok=all(c["ok"] for c in result.checks) if result.ok else None), inline=False)
    if people is not None:
        embed.add_field(name=PEOPLE_FIELD, value=people_checklist(people), inline=False)
    if emergency:
        embed.add_field(name="Emergency steps (runbook)", value=clip("\n".join(emergency)), inline=False)
    embed.set_footer(text=f"run #{result.run_id} · sha256 {short_hash(result.sha256)}{took(result.seconds)}"
                          f"{took(result.lock_seconds, ' · write lock ')}")
    return embed


def preflight_embed(result: PreflightResult, title: str, steps: str) -> tuple[discord.Embed, list[discord.File]]:
    embed = discord.Embed(title=title[:256], description=clip(steps, 3000),
                          colour=discord.Colour.green() if result.ok else discord.Colour.red())
    embed.add_field(name="Rows per table (rehearsal)",
                    value=counts_block(result.counts_before, result.counts_after), inline=False)
    files: list[discord.File] = []
    diff = "\n".join(result.schema_diff) or "(no schema change)"
    if len(diff) + 8 > FIELD_MAX:
        files.append(text_file("schema-diff.txt", diff))
        diff = diff[:900] + "\n… (full diff attached)"
    embed.add_field(name="Schema", value=f"```diff\n{diff}\n```"[:FIELD_MAX], inline=False)
    if result.lint:
        embed.add_field(name="Lint", value=clip("\n".join(result.lint)), inline=False)
    if result.checks:
        embed.add_field(name="Checks", value=clip("\n".join(f"{tick(c['ok'])} `{c['sql'][:150]}`"
                                                            for c in result.checks)), inline=False)
    if result.error:
        embed.add_field(name="What happened", value=clip(result.error), inline=False)
    embed.set_footer(text=f"fingerprint {short_hash(result.fingerprint)} · sqlite host {result.host_sqlite} / here "
                          f"{result.local_sqlite}{took(result.seconds)}")
    return embed, files


def text_file(name: str, text: str) -> discord.File:
    return discord.File(io.BytesIO(text.encode("utf-8")), filename=name)


def simple_embed(title: str, lines: list[str], *, ok: bool = True, fields: dict[str, Any] | None = None
                 ) -> discord.Embed:
    embed = discord.Embed(title=title[:256], description=clip("\n".join(lines), 4000),
                          colour=discord.Colour.green() if ok else discord.Colour.red())
    for name, value in (fields or {}).items():
        embed.add_field(name=name[:256], value=clip(str(value)), inline=False)
    return embed


def changed_rows_block(before: dict[str, int], after: dict[str, int]) -> str:
    """Only the tables whose rows the migration changes (the rest are counted, not listed)."""
    changed = {t for t in set(before) | set(after) if before.get(t) != after.get(t)}
    if not changed:
        block = "no table gains or loses rows"
    else:
        block = counts_block({t: n for t, n in before.items() if t in changed},
                             {t: n for t, n in after.items() if t in changed})
    same = len(set(before) - changed)
    return block + (f"\n{same} other table{'s' if same != 1 else ''} unchanged (every table: rows.txt)"
                    if same else "")


_KINDS = (("table", "tables"), ("column", "columns"), ("index", "indexes"), ("view", "views"),
          ("trigger", "triggers"))


def diff_summary(lines: list[str] | tuple[str, ...]) -> str:
    """The schema diff counted: "tables −1 · columns +2 · indexes +1" (~ for a changed definition)."""
    parts = []
    for kind, plural in _KINDS:
        added = sum(1 for ln in lines if ln.startswith(f"+ {kind} "))
        removed = sum(1 for ln in lines if ln.startswith(f"- {kind} "))
        changed = sum(1 for ln in lines if ln.startswith(f"~ {kind} "))
        counts = " ".join(s for s in (f"+{added}" if added else "", f"−{removed}" if removed else "",
                                      f"~{changed}" if changed else "") if s)
        if counts:
            parts.append(f"{plural} {counts}")
    return " · ".join(parts) or "no schema change"


def promotion_field(promoted: dict[str, Any] | None) -> dict[str, str]:
    """On a request that promotes a migration: the run it succeeded in, and whether this
    environment's predicted row changes match that run's."""
    if not promoted:
        return {}
    differ = promoted.get("row_changes_differ") or []
    text = (f"succeeded on **{promoted['env']}** in run #{promoted['run_id']}; "
            + ("the row changes predicted here match that run's" if not differ
               else "⚠ the row changes differ: " + "; ".join(differ)))
    return {"Promotion": clip(text)}


def request_files(migration: str, sql: str, pre: PreflightPlan) -> list[discord.File]:
    """What an approver reads in full: the SQL that runs (as normalised), the whole schema diff, and
    every table's rows before → after (the card lists only the tables whose rows change)."""
    diff = "\n".join(pre.schema_diff) or "(no schema change)"
    rows = ("Rows per table in the preflight's rehearsal (before → after), every table:\n\n"
            + counts_lines(pre.counts_before, pre.counts_after) + "\n")
    return [text_file(migration if migration.endswith(".sql") else f"{migration}.sql", sql),
            text_file("schema-diff.txt", diff + "\n"), text_file("rows.txt", rows)]


def request_embed(a: Approval, pre: PreflightPlan, backup: str, approver_role_id: int, *,
                  where: str = "", env: str = "") -> discord.Embed:
    """The approval card of a migration request: where it runs, what changes (schema and rows), what
    was checked, and what is taken first; the SQL and the full schema diff are attached."""
    lint = "\n".join(pre.lint) or "none"
    checks = "\n".join(f"{'☑' if c['ok'] else '☒'} `{c['sql'][:120]}`" for c in pre.checks) or "none"
    diff = "\n".join(pre.schema_diff) or "no schema change"
    # The name people recognise, without the host's folder; its time stamp is the run's, not now.
    backup_name = backup.rsplit("/", 1)[-1].rsplit("-", 1)[0] + "-<time of the run>"
    approvers = ("An approver" if a.required_approvers == 1
                 else f"{a.required_approvers} different approvers")
    return retitle(simple_embed(f"migrate {a.subject}{f' on {env}' if env else ''}", [
        (f"On **{where}** · " if where else "") + f"requested by **{a.requester}** (<@{a.requester_id}>) · "
        f"sha256 `{short_hash(a.sha256)}` · schema `{short_hash(a.fingerprint)}`",
        f"{approvers} (<@&{approver_role_id}>), not the requester, react{'s' if a.required_approvers == 1 else ''} "
        f"{APPROVE} to run it; "
        f"{CANCEL} cancels. Expires <t:{int(a.expires_at)}:R>."], ok=True, fields={
        f"What changes: {diff_summary(pre.schema_diff)} (full diff and SQL attached)":
            clip(f"```diff\n{diff[:950]}\n```"),
        "Rows that change (preflight, before → after)": changed_rows_block(pre.counts_before, pre.counts_after),
        "Lint": clip(lint), "Checks": clip(checks),
        "How the file was read": clip("\n".join(pre.notes) or "as written"),
        "Rows may be lost in (requester's word)": clip(", ".join(a.allow_row_loss) or "none: any lost row aborts"),
        "Backup taken first": f"`{backup_name}`, verified before anything changes, with a second copy kept off "
                              "the app host",
        **promotion_field(pre.promoted_from),
    }), "pending")
