"""What the channel shows after Discord errors, failed runs and rollbacks: the real bot against
the loopback Discord (which can answer 5xx before or after it stored a message)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest

from ops.context import Engine
from ops.journal import RunRecord
from tests.bot_harness import RunningBot, button_ids, is_applied_run, start_bot, user_version
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_faults_bot import MIGRATION, is_approval, request
from tests.waiting import eventually

POST = "POST /channels/{channel_id}/messages"


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


async def preflighted(standin: DiscordStandIn) -> None:
    """A fresh preflight first, so the request itself is the only message /migrate run posts."""
    rec = await standin.send_slash_command("migrate preflight", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID)
    await standin.wait_for_message(lambda m: "✅ Passed: preflight" in m.text(), timeout=60)
    await standin.wait_for_followup(rec)


async def test_a_request_discord_refused_to_post_is_released(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    await preflighted(discord_standin)
    discord_standin.fail_next(POST, status=503)
    rec = await discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID)
    reply = await discord_standin.wait_for_followup(rec, timeout=30)
    assert "Discord did not take the request message (HTTP 503)" in reply.text()
    assert not [m for m in discord_standin.channel_messages() if is_approval(m)]
    # Not stuck until it expires: the next request goes through.
    _, message = await request(discord_standin)
    assert is_approval(message)
    states = [a.state for a in [await running.bot.approvals.get(i) for i in (1, 2)] if a]
    assert states == ["unposted", "pending"]


async def test_a_5xx_after_discord_stored_the_request_leaves_one_request_that_works(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    await preflighted(discord_standin)
    # Stored, then a 500: discord.py retries (after a second) and Discord stores it again.
    discord_standin.fail_next(POST, status=500, after_handler=True)
    rec = await discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID)
    reply = await discord_standin.wait_for_followup(rec, timeout=30)
    assert "Approval requested" in reply.text(), reply.text()
    shown = [m for m in discord_standin.channel_messages() if is_approval(m)]
    assert len(shown) == 1, "the duplicate is removed"
    assert len([r for r in discord_standin.requests_for(POST) if r.status == 500]) == 1  # it did happen
    # The one left is the request: a ✅ on it runs the migration.
    await discord_standin.wait_for_reaction(shown[0].id, "❌")
    await discord_standin.add_reaction(shown[0].id, "✅", user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_message(is_applied_run, where="any", timeout=60)
    assert user_version(engine.db_path) == 8


async def test_a_run_that_changed_nothing_offers_no_rollback_and_shows_the_failed_step(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    holder = sqlite3.connect(engine.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the app holds the write lock longer than the busy timeout
    try:
        await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
        card = await discord_standin.wait_for_message(lambda m: f"migrate {MIGRATION} (request #" in m.text()
                                                      and "database is unchanged" in m.text(), where="any",
                                                      timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    text = card.text()
    assert "❌ **apply**" in text and "✅ **apply**" not in text
    assert not any(i.startswith("opsbot:rollback:") for i in button_ids(card))
    assert any(i.startswith("opsbot:verify:") for i in button_ids(card))
    assert "Rollback: not needed, the database is unchanged" in text and "☑ Before: rollback ready" not in text
    assert user_version(engine.db_path) == 7


async def test_a_second_rollback_of_the_same_run_is_not_done_silently(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    done = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=60)
    rollback_id = next(i for i in button_ids(done) if i.startswith("opsbot:rollback:"))
    # Two approvers open the confirmation; the first confirms.
    first = await discord_standin.wait_for_followup(
        await discord_standin.click_button(done.id, rollback_id, user_id=c.APPROVER1_ID), timeout=30)
    second = await discord_standin.wait_for_followup(
        await discord_standin.click_button(done.id, rollback_id, user_id=c.APPROVER2_ID), timeout=30)
    await discord_standin.click_button(first.id, button_ids(first)[0], user_id=c.APPROVER1_ID)
    rolled = await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=60)
    assert user_version(engine.db_path) == 7
    # The app writes after the rollback; the second approver confirms the confirmation they had open.
    con = sqlite3.connect(engine.db_path)
    con.execute("INSERT INTO activity_logs (user_id, activity, started_at) VALUES "
                "((SELECT min(user_id) FROM user_settings), 'after-rollback', 'now')")
    con.commit()
    clicked = await discord_standin.click_button(second.id, button_ids(second)[0], user_id=c.APPROVER2_ID)
    refused = await discord_standin.wait_for_edit(second.id, lambda m: "Nothing was done" in m.text(), timeout=30)
    assert "already rolled back" in refused.text() and "throws away every write" in refused.text()
    assert clicked is not None
    assert con.execute("SELECT count(*) FROM activity_logs WHERE activity='after-rollback'").fetchone()[0] == 1
    con.close()
    # The run's card says it was rolled back and has no live buttons; so does the request.
    async def rollback_runs() -> list[RunRecord] | None:
        runs = [r for r in await engine.journal.runs(20) if r.phase == "rollback"]
        return runs or None

    [rollback_run] = await eventually(rollback_runs)  # one restore, not two
    card = await discord_standin.wait_for_edit(done.id, lambda m: "Rolled back" in m.text(), timeout=30)
    assert not button_ids(card) and f"(run #{rollback_run.id})" in card.text()
    await discord_standin.wait_for_edit(message.id, lambda m: "Rolled back" in m.text(), timeout=30)
    assert rolled.id != done.id
