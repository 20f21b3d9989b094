"""Runbook emergencies and the human half of the Phase 4 checklist, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops.context import Engine
from tests.bot_harness import RunningBot, button_ids, details_of, start_bot, user_version
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.fakefly.plugin import FakeFly
from tests.test_bot_e2e import request

MIGRATION = "0001_remove_suspend.sql"
OPERATOR1_NAME = "operator1"


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


@pytest.fixture
async def on_fly(discord_standin: DiscordStandIn, engine: Engine, fakefly: FakeFly) -> AsyncIterator[RunningBot]:
    engine.target = fakefly.target()
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


def people(message) -> str:  # type: ignore[no-untyped-def]
    fields = message.embeds[0].get("fields", [])
    return next(f["value"] for f in fields if f["name"].startswith("Checklist: people"))


async def approved_run(standin: DiscordStandIn):  # type: ignore[no-untyped-def]
    _, message = await request(standin)
    await standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    return await standin.wait_for_message(lambda m: "migrate 0001_remove_suspend.sql (request #" in m.text()
                                          and any(ch in m.text()[:3] for ch in "✅❌⚠")
                                          and bool(button_ids(m)), where="any", timeout=30)


async def test_people_tick_the_checklist_until_the_run_is_complete(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    done = await approved_run(discord_standin)
    ticks = [i for i in button_ids(done) if i.startswith("opsbot:tick:")]
    text = done.text()
    assert "☐ After: the Discord bot works normally" in text and "☐ /suspend no longer appears" in text
    refused = await discord_standin.click_button(done.id, ticks[0], user_id=c.OUTSIDER_ID)
    assert "role to tick" in (await discord_standin.wait_for_response(refused)).text()
    for n, custom_id in enumerate(ticks):
        rec = await discord_standin.click_button(done.id, custom_id, user_id=c.OPERATOR1_ID)
        await discord_standin.wait_for_ack(rec)
        edited = await discord_standin.wait_for_edit(done.id, lambda m, n=n: people(m).count("☑ ") == n + 1)
        assert f"— {OPERATOR1_NAME}" in people(edited)
    final = discord_standin.message(done.id)
    assert "complete" in final.embeds[0]["title"]
    assert all(comp.get("disabled") for comp in final.iter_components() if comp["custom_id"] in ticks)
    said = await discord_standin.wait_for_message(lambda m: "is complete" in m.text(), where="any")
    # beside the checklist, in the run's thread: no new card in the channel
    assert said.channel_id == final.channel_id != c.OPS_CHANNEL_ID
    checklist = running.bot.get_cog("migrate").checklist  # type: ignore[union-attr]
    run_id = int(ticks[0].split(":")[2])
    assert all(item.ticked_by for item in await checklist.items(run_id))
    assert await checklist.completed_at(run_id) is not None


async def test_emergency_stop_and_start_never_scale_to_zero(
    discord_standin: DiscordStandIn, on_fly: RunningBot, fakefly: FakeFly
) -> None:
    refused = await discord_standin.send_slash_command("migrate emergency-stop", {}, user_id=c.OPERATOR1_ID)
    assert "role to stop the app" in (await discord_standin.wait_for_followup(refused)).text()
    assert set(fakefly.machine_states().values()) == {"started"}
    rec = await discord_standin.send_slash_command("migrate emergency-stop", {}, user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_followup(rec)
    assert set(fakefly.machine_states().values()) == {"stopped"}
    note = next(m for m in discord_standin.channel_messages() if "Emergency stop" in m.text())
    assert "not destroyed" in note.text() and "fly machine start" in note.text()
    assert any(a[:2] == ["machine", "stop"] for a in fakefly.argvs())
    assert not any("scale" in a for a in fakefly.argvs())
    rec = await discord_standin.send_slash_command("migrate start", {}, user_id=c.OPERATOR1_ID)
    reply = await discord_standin.wait_for_followup(rec)
    assert "Started" in reply.text() and set(fakefly.machine_states().values()) == {"started"}


async def test_rollback_while_stopped_starts_a_machine_first(
    discord_standin: DiscordStandIn, on_fly: RunningBot, fakefly: FakeFly, engine: Engine
) -> None:
    done = await approved_run(discord_standin)
    assert user_version(engine.db_path) == 8
    rec = await discord_standin.send_slash_command("migrate emergency-stop", {}, user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_followup(rec)
    asked = await discord_standin.click_button(done.id, button_ids(done)[0], user_id=c.APPROVER1_ID)
    confirm = await discord_standin.wait_for_followup(asked)
    await discord_standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER1_ID)
    rolled = await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=30)
    assert "a restore needs a running machine" in details_of(discord_standin, rolled).text()  # in its thread
    assert user_version(engine.db_path) == 7


async def test_a_cancelled_rollback_leaves_a_stopped_app_stopped(
    discord_standin: DiscordStandIn, on_fly: RunningBot, fakefly: FakeFly, engine: Engine
) -> None:
    """Nothing is started before the rollback is confirmed: the confirmation is read from the
    journal's record of the backups and says a machine will be started once confirmed."""
    done = await approved_run(discord_standin)
    rec = await discord_standin.send_slash_command("migrate emergency-stop", {}, user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_followup(rec)
    assert set(fakefly.machine_states().values()) == {"stopped"}
    starts_before = sum(a[:2] == ["machine", "start"] for a in fakefly.argvs())
    asked = await discord_standin.click_button(done.id, button_ids(done)[0], user_id=c.APPROVER1_ID)
    confirm = await discord_standin.wait_for_followup(asked)
    assert "the app is stopped; opsbot starts a machine first, once you confirm" in confirm.text()
    assert set(fakefly.machine_states().values()) == {"stopped"}  # asking started nothing
    await discord_standin.click_button(confirm.id, button_ids(confirm)[1], user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_edit(confirm.id, lambda m: "Rollback cancelled" in m.text(), timeout=30)
    assert set(fakefly.machine_states().values()) == {"stopped"}
    assert sum(a[:2] == ["machine", "start"] for a in fakefly.argvs()) == starts_before
    assert user_version(engine.db_path) == 8


async def test_failure_after_the_database_changed_offers_the_emergency_steps(
    discord_standin: DiscordStandIn, on_fly: RunningBot, fakefly: FakeFly, engine: Engine, tmp_path: Path
) -> None:
    # flyctl loses the connection during the migration, but the remote sqlite3 commits.
    fakefly.add_fault("ssh", "drop", match="BEGIN IMMEDIATE", times=1, after_s=0)
    fakefly.write_logs(["2026-11-27T02:01:00Z app[148e21ea3e0d89] nrt [info] started",
                        "2026-11-27T02:01:05Z app[148e21ea3e0d89] nrt [error] no such column: is_suspended"])
    done = await approved_run(discord_standin)
    assert user_version(engine.db_path) == 8
    ids = button_ids(done)
    assert [i.split(":")[1] for i in ids] == ["rollback", "estop", "verify", "logs"]
    assert "Emergency steps" in done.text() and "Features broken" in done.text()
    logs = await discord_standin.click_button(done.id, ids[3], user_id=c.OPERATOR1_ID)
    assert "no such column" in (await discord_standin.wait_for_followup(logs, timeout=30)).text()
