"""One night of ordinary work (issue 13's scenario), played through the real bot against the loopback
Discord: a preflight, two requests (one cancelled, one run), a refused second request, a health
incident with a rollback, a backup and two failing preflights. The channel must carry one card per
run, each showing its state at a glance; everything else goes into the cards' threads.

``ONE_NIGHT_OUT=path`` writes the channel and its threads as text (the closing note's before/after).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops.context import Engine
from ops.targets.local import LocalTarget
from tests.bot_harness import RunningBot, button_ids, start_bot
from tests.discord_standin import constants as c
from tests.discord_standin.records import StoredMessage
from tests.discord_standin.standin import DiscordStandIn
from tests.test_bot_e2e import MIGRATION, request, wait_for_state
from tests.test_health_monitor import App, app, settings_for, ticks  # noqa: F401 (app is a fixture)

BAD = "0002_add_to_missing_table.sql"
LOOK_ICONS = ("⏳", "🔄", "✅", "❌", "⚠", "⏪", "⌛", "🚫", "♻", "🚨")


@pytest.fixture
async def night(discord_standin: DiscordStandIn, engine: Engine, app: App,  # noqa: F811
                tmp_path: Path) -> AsyncIterator[RunningBot]:
    log = tmp_path / "app.log"
    log.write_text("INFO started\nERROR sqlite3.OperationalError: no such column: is_suspended\n")
    engine.target = LocalTarget(log_file=str(log))
    engine.migrations_dir.joinpath(BAD).write_text("ALTER TABLE no_such_table ADD COLUMN note TEXT;\n")
    # The evening's first preflight is stale by the time of each request: each runs its own.
    bot = await start_bot(discord_standin, engine, engine_settings=settings_for(app), preflight_max_age_s=0)
    yield bot
    await bot.stop()


async def command(standin: DiscordStandIn, name: str, options: dict[str, str], user_id: int, done: str
                  ) -> StoredMessage:
    after = max((m.id for m in standin.channel_messages()), default=0)
    rec = await standin.send_slash_command(name, options, user_id=user_id)
    card = await standin.wait_for_message(lambda m: m.embeds and m.embeds[0].get("title", "").startswith(done),
                                          after_id=after, timeout=60)
    await standin.wait_for_followup(rec, timeout=30)
    return card


async def test_one_night_leaves_one_card_per_run_in_the_channel(
    discord_standin: DiscordStandIn, night: RunningBot, app: App, engine: Engine  # noqa: F811
) -> None:
    standin = discord_standin
    await command(standin, "migrate preflight", {"migration": MIGRATION}, c.OPERATOR1_ID, "✅ Passed: preflight")
    _, first = await request(standin)
    refused = await standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR2_ID)
    assert "already asked" in (await standin.wait_for_followup(refused, timeout=30)).text()
    await standin.add_reaction(first.id, "❌", user_id=c.OPERATOR1_ID)
    await wait_for_state(standin, first.id, "🚫 Cancelled: migrate 0001_remove_suspend.sql")
    _, second = await request(standin)
    await standin.add_reaction(second.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(standin, second.id, "✅ Applied: migrate 0001_remove_suspend.sql")
    # The app breaks after the migration: an alert with a Rollback; an approver rolls back.
    app.status = 500
    assert await ticks(night, 3) == ["alert"]
    rollback = await standin.send_slash_command("migrate rollback", {}, user_id=c.APPROVER2_ID)
    confirm = await standin.wait_for_followup(rollback, timeout=30)
    await standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER2_ID)
    await wait_for_state(standin, second.id, "⏪ Rolled back: migrate 0001_remove_suspend.sql")
    app.status = 200
    assert await ticks(night, 2) == ["recovered"]
    await command(standin, "migrate backup", {"label": "nightly"}, c.OPERATOR2_ID, "✅ Backed up")
    for _ in range(2):
        await command(standin, "migrate preflight", {"migration": BAD}, c.OPERATOR2_ID, "❌ Failed: preflight")

    channel = standin.channel_messages()
    threads = standin.threads()
    in_threads = sum(len(standin.thread_messages(t.id)) for t in threads)
    transcript = night_transcript(standin)
    if os.environ.get("ONE_NIGHT_OUT"):
        Path(os.environ["ONE_NIGHT_OUT"]).write_text(transcript)
    # One card per run: preflight, two requests, the alert, the rollback, the backup, two preflights.
    titles = [m.embeds[0]["title"] for m in channel]
    assert len(channel) == 8, transcript
    assert all(t.startswith(LOOK_ICONS) for t in titles), titles
    assert titles[1].startswith("🚫 Cancelled") and titles[2].startswith("⏪ Rolled back")
    assert titles[3].startswith("✅ Resolved (incident #1)")
    # Each request's preflight steps, the run, the ping to its requester, the incident's recovery and
    # each stand-alone phase's steps and details are in the cards' threads: every card has one.
    assert {t.starter_message_id for t in threads} == {m.id for m in channel}, transcript
    assert in_threads == 10, transcript
    # The channel's cards carry no host path and no temporary file name (those are in the threads).
    for m in channel:
        text = m.text()
        assert str(Path(engine.db_path).parent) not in text and "snapshot.db" not in text, text
        assert "opsbot-partial" not in text and "/tmp/" not in text, text
    details = "\n".join(t.text() for th in threads for t in standin.thread_messages(th.id))
    assert "integrity" in details and "nightly" in details  # the backup's details moved, not lost
    everything = details + "\n".join(m.text() for m in channel)
    assert "(0.0s)" not in everything and "· 0.0s" not in everything and "write lock 0.0" not in everything
    assert not re.search(r"\d\d:\d\d:\d\d UTC", everything) and "Writes made after <t:" in everything


def night_transcript(standin: DiscordStandIn) -> str:
    out = []
    for m in standin.channel_messages():
        title = m.embeds[0]["title"] if m.embeds else m.content[:80]
        said = f"  «{m.content[:80]}»" if m.embeds and m.content else ""  # the message's text beside its card
        out.append(f"# {title}{said}")
        thread = standin.thread_of(m.id)
        if thread is not None:
            for t in standin.thread_messages(thread.id):
                out.append(f"    └ {(t.embeds[0]['title'] if t.embeds else t.content)[:100]}")
    channel = standin.channel_messages()
    in_threads = sum(len(standin.thread_messages(t.id)) for t in standin.threads())
    out.append(f"channel messages: {len(channel)}; thread messages: {in_threads} in {len(standin.threads())} "
               "threads")
    return "\n".join(out) + "\n"
