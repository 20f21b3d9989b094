"""State at a glance (issue 13): every request card shows its state in its title and colour, the
same words everywhere (bot.states), and a decided request no longer says when it expires."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from bot.render import diff_summary
from bot.states import LOOKS
from ops.context import Engine
from tests.bot_harness import RunningBot, advance_clock, button_ids, is_applied_run, start_bot
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_bot_e2e import request, wait_for_state
from tests.waiting import eventually


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


def look_of(message) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    embed = message.embeds[0]
    return embed["title"], embed["color"]


def colour(state: str) -> int:
    return LOOKS[state].colour.value


async def test_a_pending_request_then_a_cancelled_one(discord_standin: DiscordStandIn, running: RunningBot) -> None:
    _, message = await request(discord_standin)
    title, col = look_of(message)
    assert title == "⏳ Awaiting approval: migrate 0001_remove_suspend.sql" and col == colour("pending")
    assert "Expires <t:" in message.text()
    await discord_standin.add_reaction(message.id, "❌", user_id=c.OPERATOR1_ID)  # the requester cancels
    card = await wait_for_state(discord_standin, message.id, "🚫 Cancelled: migrate 0001_remove_suspend.sql")
    assert look_of(card)[1] == colour("cancelled")
    assert "Expires <t:" not in card.text() and "🚫 Cancelled by operator1" in card.text()


async def test_an_expired_request_drops_its_expiry(discord_standin: DiscordStandIn, running: RunningBot) -> None:
    _, message = await request(discord_standin)
    advance_clock(running.bot, running.bot.settings.discord.approval_timeout_s + 1)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    card = await wait_for_state(discord_standin, message.id, "⌛ Expired: migrate 0001_remove_suspend.sql")
    assert look_of(card)[1] == colour("expired") and "Expires <t:" not in card.text()


async def test_an_applied_run_and_its_request_say_applied_in_green(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    _, message = await request(discord_standin)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    run = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=60)
    assert look_of(run) == ("✅ Applied: migrate 0001_remove_suspend.sql (request #1, approved by approver1)",
                            discord.Colour.green().value)
    card = await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")
    assert look_of(card)[1] == colour("done") and "Expires <t:" not in card.text()


async def test_the_request_pings_the_approvers_and_answers_a_self_approval_once(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    _, message = await request(discord_standin)
    # A mention inside an embed notifies no one: the approver role is in the message's content,
    # and it is the only mention allowed.
    assert message.content.startswith(f"<@&{c.APPROVER_ROLE_ID}>")
    await discord_standin.add_reaction(message.id, "✅", user_id=c.OPERATOR1_ID)  # the requester
    card = await discord_standin.wait_for_edit(message.id, lambda m: "ignored" in m.text(), timeout=30)
    assert "✅ from operator1 ignored: the requester cannot approve their own change." in card.text()
    assert card.embeds[0]["title"].startswith("⏳ Awaiting approval")  # still waiting for a real approver
    await discord_standin.remove_reaction(message.id, "✅", user_id=c.OPERATOR1_ID)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.OPERATOR1_ID)  # again: not answered twice
    approval = await running.bot.approvals.by_message(message.id)
    assert approval is not None

    async def two() -> bool:
        return len(await running.bot.approvals.reactions(approval.id)) == 2

    await eventually(two)
    assert discord_standin.message(message.id).text().count("ignored: the requester") == 1


async def test_history_shows_outcome_approver_and_rollback(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    run = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=60)
    rollback = next(i for i in button_ids(run) if i.startswith("opsbot:rollback:"))
    confirm = await discord_standin.wait_for_followup(
        await discord_standin.click_button(run.id, rollback, user_id=c.APPROVER2_ID), timeout=30)
    # Human words: the backup's time as a Discord timestamp (each reader's own zone), no host path.
    assert "taken <t:" in confirm.text() and ":R>)?" in confirm.text() and engine.db_path not in confirm.text()
    await discord_standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER2_ID)
    await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=60)
    rec = await discord_standin.send_slash_command("migrate history", {}, user_id=c.OPERATOR1_ID)
    text = (await discord_standin.wait_for_followup(rec)).text()
    line = next(ln for ln in text.splitlines() if "`migrate` 0001_remove_suspend.sql" in ln)
    assert "**applied** · by operator1, approved by approver1 · ⏪ rolled back by run #" in line
    assert any("`rollback`" in ln and "**restored** · by approver2" in ln for ln in text.splitlines())


async def test_the_approval_card_carries_the_plan(discord_standin: DiscordStandIn, running: RunningBot) -> None:
    """Where it runs, what changes in the schema and in which tables' rows (only those), and the SQL
    that runs and the whole schema diff as files an approver can open."""
    _, message = await request(discord_standin)
    text = message.text()
    assert "On **this machine** · requested by **operator1**" in text
    field = next(f for f in message.embeds[0]["fields"] if f["name"].startswith("What changes"))
    what = field["value"]
    assert what.startswith("```diff") and "suspend_history" in what
    assert field["name"].startswith("What changes: tables −1"), field["name"]  # the diff counted
    backup = next(f["value"] for f in message.embeds[0]["fields"] if f["name"] == "Backup taken first")
    assert "/" not in backup and "app.db.pre-0001_remove_suspend-<time of the run>" in backup  # no host path
    rows = next(f["value"] for f in message.embeds[0]["fields"] if f["name"].startswith("Rows that change"))
    assert "other table" in rows and "unchanged" in rows
    assert "activity_logs" not in rows  # only the tables whose rows change are on the card…
    names = sorted(a.filename for a in message.attachments)
    assert names == ["0001_remove_suspend.sql", "rows.txt", "schema-diff.txt"]
    every = next(a for a in message.attachments if a.filename == "rows.txt").data.decode()
    assert "activity_logs" in every and "3,000 →     3,000 (+0)" in every  # …and every table is in rows.txt
    assert "suspend_history" in every and "dropped" in every
    sql = next(a for a in message.attachments if a.filename.endswith(".sql")).data.decode()
    assert "DROP TABLE" in sql.upper() and "BEGIN" not in sql.upper().split()  # what runs: the engine's own transaction


def test_diff_summary_counts_each_kind() -> None:
    lines = ["+ table a", "- table b", "- table c", "+ column a.x", "+ column a.y", "+ index i1",
             "~ view v (definition changed)", "+ trigger t"]
    assert diff_summary(lines) == "tables +1 −2 · columns +2 · indexes +1 · views ~1 · triggers +1"
    assert diff_summary([]) == "no schema change"


async def test_status_shows_schema_last_change_pending_and_the_newest_verified_backup(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    async def status() -> str:
        rec = await discord_standin.send_slash_command("migrate status", {}, user_id=c.OPERATOR1_ID)
        return (await discord_standin.wait_for_followup(rec, timeout=30)).text()

    _, message = await request(discord_standin)
    text = await status()
    assert f"[#1 0001_remove_suspend.sql](https://discord.com/channels/{c.GUILD_ID}/{c.OPS_CHANNEL_ID}/{message.id})" \
        in text, text
    assert "user_version 7 · fingerprint `" in text and "**last change** none" in text
    assert "**newest verified backup** none" in text and "**health** no open incident" in text
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")
    text = await status()
    assert "user_version 8" in text and "**pending approvals** none" in text
    assert "— **applied** · by operator1, approved by approver1" in text, text
    assert "**newest verified backup** `app.db.pre-0001_remove_suspend-" in text and "taken <t:" in text
    assert str(engine.db_path) not in text, "no host path on the status card"
