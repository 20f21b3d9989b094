"""State at a glance for a run's life (issue 13), through the real bot against the loopback Discord:
🔄 running, ❌ failed with the database unchanged (a failing check; a busy lock), ⚠ changed but a
later step failed, ♻ stale: title and colour on the request card and on the run's card in its
thread, the same word in the requester's ping, and the request's text no longer pinging approvers."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.states import LOOKS
from ops.context import Engine
from ops.targets.base import ShResult
from tests.bot_harness import RunningBot, button_ids, start_bot, user_version
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.faults.target import FaultyTarget
from tests.test_bot_e2e import MIGRATION, is_approval, request, wait_for_state
from tests.waiting import eventually

REFUSED = "error connecting to SSH server: connect: connection refused"


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


def look_of(message: Any) -> tuple[str, int]:
    return message.embeds[0]["title"], message.embeds[0]["color"]


def colour(state: str) -> int:
    return LOOKS[state].colour.value


async def run_card(standin: DiscordStandIn, request_id: int, state: str) -> Any:
    """The run's card in the request's thread, once it shows ``state``."""
    look = LOOKS[state]
    prefix = f"{look.icon} {look.word}: migrate"
    thread = await standin.wait_for_thread(lambda t: t.starter_message_id == request_id)
    return await standin.wait_for_message(lambda m: bool(m.embeds) and m.embeds[0].get("title", "").startswith(prefix)
                                          and "(request #" in m.embeds[0]["title"], channel_id=thread.id, timeout=60)


async def ping_of(standin: DiscordStandIn, request_id: int) -> str:
    thread = standin.thread_of(request_id)
    assert thread is not None
    ping = await standin.wait_for_message(lambda m: m.content.startswith(f"<@{c.OPERATOR1_ID}>"), channel_id=thread.id)
    return ping.content


async def test_a_running_migration_is_blurple_on_its_request_and_its_card(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    engine.busy_timeout_ms = 30_000  # the run waits on the app's write lock until the test lets go
    _, message = await request(discord_standin)
    assert message.content.startswith(f"<@&{c.APPROVER_ROLE_ID}>")  # control: pending, the approvers are pinged
    holder = sqlite3.connect(engine.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
        card = await wait_for_state(discord_standin, message.id, f"🔄 Running: {'migrate ' + MIGRATION}")
        assert look_of(card)[1] == colour("running")
        assert card.content == "🔄 Running — approved by approver1"  # the state in words, no second ping
        progress = await run_card(discord_standin, message.id, "running")
        assert look_of(progress)[1] == colour("running")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    done = await wait_for_state(discord_standin, message.id, f"✅ Applied: migrate {MIGRATION}")
    assert done.content.startswith("✅ Applied — run #") and "<@&" not in done.content


async def test_a_failing_check_is_red_and_leaves_the_database_unchanged(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    name = "0000_note.sql"
    engine.migrations_dir.joinpath(name).write_text(
        "-- check: SELECT count(*) = 1 FROM guild_config\nALTER TABLE guild_config ADD COLUMN note TEXT;\n")
    rec = await discord_standin.send_slash_command("migrate run", {"migration": name}, user_id=c.OPERATOR1_ID)
    message = await discord_standin.wait_for_message(is_approval, timeout=60)
    await discord_standin.wait_for_reaction(message.id, "❌")
    await discord_standin.wait_for_followup(rec, timeout=30)
    live = sqlite3.connect(engine.db_path)  # the check held on the preflight's copy; live, it no longer does
    live.execute("DELETE FROM guild_config")
    live.commit()
    live.close()
    before = user_version(engine.db_path)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    card = await wait_for_state(discord_standin, message.id, f"❌ Failed, database unchanged: migrate {name}")
    assert look_of(card)[1] == colour("unchanged") and card.content.startswith("❌ Failed, database unchanged — run #")
    run = await run_card(discord_standin, message.id, "unchanged")
    assert look_of(run)[1] == colour("unchanged")
    assert not [i for i in button_ids(run) if i.startswith("opsbot:rollback:")], "nothing to roll back"
    assert "ended: ❌ Failed, database unchanged" in await ping_of(discord_standin, message.id)
    assert user_version(engine.db_path) == before
    assert "note" not in [r[1] for r in sqlite3.connect(engine.db_path).execute("PRAGMA table_info(guild_config)")]


async def test_a_busy_lock_fails_the_run_and_its_request_alike(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    """Stopped before anything changed (another run holds the target's lock): the request card says
    what its run card and the requester's ping say, not ♻ Stale."""
    _, message = await request(discord_standin)
    await engine.journal.start_run("backup", engine.key, "carol (7)", lock=True)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    card = await wait_for_state(discord_standin, message.id, f"❌ Failed, database unchanged: migrate {MIGRATION}")
    assert look_of(card)[1] == colour("unchanged") and "<@&" not in card.content
    assert str(Path(engine.db_path).parent) not in card.text()
    assert card.content.startswith("❌ Failed, database unchanged")
    run = await run_card(discord_standin, message.id, "unchanged")
    assert look_of(run)[1] == colour("unchanged")
    assert "ended: ❌ Failed, database unchanged" in await ping_of(discord_standin, message.id)
    assert user_version(engine.db_path) == 7


async def test_a_failure_after_commit_is_orange_changed_on_request_and_card(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    committed = False

    def host_gone_after_commit(script: str, result: ShResult) -> ShResult | None:
        # Every call after the one that carried the migration fails, as a host that dropped off does.
        nonlocal committed
        if committed:
            return ShResult(stdout="", stderr=REFUSED, exit_code=1, seconds=0.0)
        committed = "DROP TABLE suspend_history" in script
        return None

    engine.target = FaultyTarget(engine.target, on_script=host_gone_after_commit)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    card = await wait_for_state(discord_standin, message.id, f"⚠ Changed, but a later step failed: migrate {MIGRATION}")
    assert look_of(card)[1] == colour("changed") and card.content.startswith("⚠ Changed, but a later step failed")
    assert str(Path(engine.db_path).parent) not in card.text()  # host paths stay in the thread's detail
    run = await run_card(discord_standin, message.id, "changed")
    assert look_of(run)[1] == colour("changed")
    assert "ended: ⚠ Changed, but a later step failed" in await ping_of(discord_standin, message.id)
    assert user_version(engine.db_path) == 8  # it did change


async def test_a_request_of_an_environment_no_longer_served_is_stale(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    approval = await running.bot.approvals.by_message(message.id)
    assert approval is not None
    # opsbot.toml changed since the request: its environment is gone from this bot.
    await engine.journal.db.execute("UPDATE approvals SET target='gone' WHERE id=?", (approval.id,))
    await engine.journal.db.commit()
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    card = await wait_for_state(discord_standin, message.id, f"♻ Stale: migrate {MIGRATION}")
    assert look_of(card)[1] == colour("stale") and card.content == "♻ Stale" and "Expires <t:" not in card.text()
    assert "which this opsbot does not serve" in card.text()

    async def no_run() -> bool:
        migrations = [r for r in await engine.journal.runs(10) if r.phase == "migrate"]
        return not migrations and user_version(engine.db_path) == 7

    await eventually(no_run)
