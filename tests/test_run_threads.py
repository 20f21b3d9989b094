"""One thread per run (issue 13): the request card is the run's one card in the ops channel; the
run's progress, result and follow-ups and the ping to the requester go into a thread started
from it. Without thread permissions the bot falls back to the channel and says why once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.states import LOOKS
from bot.threads import NO_THREADS
from ops.context import Engine
from tests.bot_harness import RunningBot, button_ids, details_of, is_applied_run, start_bot
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_bot_e2e import request, wait_for_state
from tests.test_channel_truth import preflighted
from tests.waiting import eventually


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


async def test_an_approved_run_lives_in_the_thread_of_its_request(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    _, message = await request(discord_standin)
    before = [m.id for m in discord_standin.channel_messages()]
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")
    thread = discord_standin.thread_of(message.id)
    assert thread is not None and thread.name.startswith("migrate 0001_remove_suspend.sql")
    run = await discord_standin.wait_for_message(is_applied_run, channel_id=thread.id)
    assert run.components, "the result card (checklist, Rollback) is in the thread"
    # The requester is told, in the thread, and only they are pinged.
    ping = await discord_standin.wait_for_message(lambda m: m.content.startswith(f"<@{c.OPERATOR1_ID}>"),
                                                  channel_id=thread.id)
    assert "ended: ✅ Applied (run #" in ping.content
    # The channel got nothing from the run: the request card (edited) is its one card there.
    assert [m.id for m in discord_standin.channel_messages()] == before


async def test_without_thread_permissions_runs_are_posted_in_the_channel_and_that_is_said_once(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    await discord_standin.deny_threads()
    for attempt in range(2):
        _, message = await request(discord_standin)
        await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
        await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")
        await discord_standin.wait_for_message(is_applied_run, after_id=message.id, timeout=60)  # in the channel
        if attempt:
            break
        rollback = await discord_standin.send_slash_command("migrate rollback", {}, user_id=c.APPROVER1_ID)
        confirm = await discord_standin.wait_for_followup(rollback, timeout=30)
        await discord_standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER1_ID)
        await wait_for_state(discord_standin, message.id, "⏪ Rolled back: migrate 0001_remove_suspend.sql")
        await discord_standin.wait_for_followup(rollback, timeout=30)  # the command has finished
        # Backups are named to the second: the next run's must not collide with this one's.
        second = int(time.time())
        while int(time.time()) == second:
            await asyncio.sleep(0.05)
    assert discord_standin.threads() == []
    said = [m for m in discord_standin.channel_messages() if m.content == NO_THREADS]
    assert len(said) == 1
    # Each card asked once (so a permission granted later takes effect at the next run) and was refused:
    # the two requests and the rollback's own card.
    refused = discord_standin.problems()
    assert len(refused) == 3 and all("/threads -> 403" in p and "50013" in p for p in refused), refused
    discord_standin.clear_problems()


async def test_status_links_the_live_thread_of_a_running_migration(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    import sqlite3

    engine.busy_timeout_ms = 30_000  # the run waits on the app's write lock until the test lets go
    _, message = await request(discord_standin)
    holder = sqlite3.connect(engine.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
        thread = await discord_standin.wait_for_thread(lambda t: t.starter_message_id == message.id)

        async def locked() -> bool:  # the run holds the lock and its card in the thread is recorded
            lock = await engine.journal.lock_for(engine.key)
            return lock is not None and bool(await engine.journal.run_messages(lock.run_id))

        await eventually(locked)
        rec = await discord_standin.send_slash_command("migrate status", {}, user_id=c.OPERATOR1_ID)
        text = (await discord_standin.wait_for_followup(rec, timeout=30)).text()
        assert f"— follow it in <#{thread.id}>" in text, text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")


async def test_a_request_that_already_has_a_thread_runs_in_it(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    """A thread started earlier from the request (by a bot that restarted since: this process never
    saw it) is used, not refused: Discord answers 160004 to a second thread on one message."""
    await preflighted(discord_standin)  # reused by the request, which so starts no thread itself
    _, message = await request(discord_standin)
    assert discord_standin.thread_of(message.id) is None
    earlier = discord_standin.seed_thread(message.id, "migrate 0001_remove_suspend.sql · request #1")
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")
    run = await discord_standin.wait_for_message(is_applied_run, channel_id=earlier.id)
    assert run.channel_id == earlier.id
    assert [t.id for t in discord_standin.threads() if t.starter_message_id == message.id] == [earlier.id]
    refused = discord_standin.problems()
    assert len(refused) == 1 and "160004" in refused[0], refused  # the one refused try, then the reuse
    discord_standin.clear_problems()


async def test_a_whole_request_and_run_leave_one_card_in_the_channel(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    """From /migrate run to the end of the run, the channel gets one message, the request card: the
    preflight's progress is shown to the requester alone, and its steps open the request's thread."""
    before = [m.id for m in discord_standin.channel_messages()]
    rec, message = await request(discord_standin)
    own = discord_standin.original_response(rec)
    assert own is not None and own.embeds and "✅ Passed: preflight 0001_remove_suspend.sql" in own.text()
    assert own.ephemeral, "the preflight's progress is the requester's own"
    thread = discord_standin.thread_of(message.id)
    assert thread is not None
    first = discord_standin.thread_messages(thread.id)[0]
    assert "Preflight of 0001_remove_suspend.sql: its steps" in first.text() and "✅" in first.text()
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(discord_standin, message.id, "✅ Applied: migrate 0001_remove_suspend.sql")
    await discord_standin.wait_for_message(is_applied_run, channel_id=thread.id)
    await discord_standin.wait_for_message(lambda m: "ended: ✅ Applied" in m.content, channel_id=thread.id)
    assert [m.id for m in discord_standin.channel_messages()] == [*before, message.id]
    # The thread holds the preflight's steps, the run's card and the requester's ping.
    assert len(discord_standin.thread_messages(thread.id)) >= 3


async def test_a_stand_alone_phase_keeps_one_card_and_its_details_go_into_its_thread(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    before = [m.id for m in discord_standin.channel_messages()]
    rec = await discord_standin.send_slash_command("migrate backup", {"label": "nightly"}, user_id=c.OPERATOR1_ID)
    card = await discord_standin.wait_for_message(lambda m: "✅ Backed up" in m.text(), timeout=30)
    link = await discord_standin.wait_for_followup(rec)
    assert [m.id for m in discord_standin.channel_messages()] == [*before, card.id]  # one card in the channel
    assert card.embeds[0]["color"] == LOOKS["backed_up"].colour.value and len(card.text().splitlines()) == 2
    # No host path, no temporary file name on the card: they are in its thread's detail.
    assert "/" not in card.text().replace(f"<#{discord_standin.thread_of(card.id).id}>", "")  # type: ignore[union-attr]
    details = details_of(discord_standin, card)
    assert ".opsbot-partial" in details.text() and str(details.id) in link.text()
    assert "(0.0s)" not in details.text() and "· 0.0s" not in details.text()


async def test_without_thread_permissions_a_stand_alone_phase_shows_its_details_on_its_card(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    """The control: threads refused, the one card holds the steps and details as before, and why is said once."""
    await discord_standin.deny_threads()
    await discord_standin.send_slash_command("migrate backup", {"label": "nightly"}, user_id=c.OPERATOR1_ID)
    card = await discord_standin.wait_for_message(lambda m: "✅ Backed up" in m.text(), timeout=30)
    await discord_standin.wait_for_edit(card.id, lambda m: "verify backup" in m.text(), timeout=30)
    assert discord_standin.threads() == []
    assert [m.content for m in discord_standin.channel_messages()].count(NO_THREADS) == 1
    assert len([m for m in discord_standin.channel_messages() if m.embeds]) == 1
    refused = discord_standin.problems()
    assert len(refused) == 1 and "/threads -> 403" in refused[0], refused
    discord_standin.clear_problems()
