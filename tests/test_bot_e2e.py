"""End to end: the real discord.py client, the loopback Discord, real SQLite on the local target."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest

from ops.approvals import Reaction
from ops.context import Engine
from tests.bot_harness import (
    RunningBot,
    advance_clock,
    button_ids,
    details_of,
    is_applied_run,
    start_bot,
    user_version,
)
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.waiting import eventually

MIGRATION = "0001_remove_suspend.sql"


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


def is_approval(m: object) -> bool:
    return "Awaiting approval" in m.text()  # type: ignore[attr-defined]


async def request(standin: DiscordStandIn, user_id: int = c.OPERATOR1_ID):  # type: ignore[no-untyped-def]
    after = max((m.id for m in standin.channel_messages()), default=0)
    rec = await standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=user_id)
    await standin.wait_for_ack(rec)
    message = await standin.wait_for_message(is_approval, timeout=30, after_id=after)
    await standin.wait_for_reaction(message.id, "❌")
    await standin.wait_for_followup(rec, timeout=30)  # the command has finished
    return rec, message


async def wait_for_state(standin: DiscordStandIn, message_id: int, title: str):  # type: ignore[no-untyped-def]
    """The card once its title shows ``title`` (its state: bot.states)."""
    try:
        return await standin.wait_for_edit(message_id, lambda m: bool(m.embeds) and m.embeds[0].get("title") == title,
                                           timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nthe card now: {standin.message(message_id).text()[:600]}") from None


async def reactions_recorded(running: RunningBot, message_id: int, n: int) -> list[Reaction]:
    approval = await running.bot.approvals.by_message(message_id)
    assert approval is not None

    async def check() -> list[Reaction] | None:
        found = await running.bot.approvals.reactions(approval.id)
        return found if len(found) >= n else None

    return await eventually(check, what=f"{n} reactions recorded")


async def test_approved_run_applies_only_after_a_valid_approval(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    rec, message = await request(discord_standin, user_id=c.APPROVER2_ID)  # an approver asks
    assert discord_standin.interactions[rec.id].ephemeral
    # The card shows the rows that change (issue 13: only those): the dropped table, not activity_logs.
    assert "sha256" in message.text() and "suspend_history" in message.text() and "dropped" in message.text()
    assert user_version(engine.db_path) == 7, "nothing may run before an approval"
    # An outsider, the requester (although an approver) and a stray emoji change nothing.
    await discord_standin.add_reaction(message.id, "✅", user_id=c.OUTSIDER_ID)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER2_ID)
    await discord_standin.add_reaction(message.id, "🎉", user_id=c.APPROVER1_ID)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.OPERATOR1_ID)
    seen = await reactions_recorded(running, message.id, 4)
    assert [r.outcome for r in seen] == [
        "ignored: not an approver",
        "ignored: the requester cannot approve their own change",
        "ignored: not an approval emoji",
        "ignored: not an approver",
    ]
    assert user_version(engine.db_path) == 7
    # A real approver: it runs, once, even if they react twice.
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    done = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
    await discord_standin.remove_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    seen = await reactions_recorded(running, message.id, 6)
    assert [r.outcome for r in seen[4:]] == ["approved", "ignored: request already executed"]
    assert user_version(engine.db_path) == 8
    text = done.text()
    assert "activity_logs" in text and "→" in text and "dropped" in text
    assert "☑ During: no data loss" in text
    runs = [r for r in await engine.journal.runs() if r.phase == "migrate"]
    assert len(runs) == 1 and runs[0].state == "succeeded"
    ids = button_ids(done)
    assert ids[0] == f"opsbot:rollback:{runs[0].id}"
    assert ids[1:] == [f"opsbot:tick:{runs[0].id}:{i}" for i in range(6)], "one button per human checklist item"
    assert done.max_edits_within(5.0) <= 5, "progress edits must be coalesced under Discord's rate limit"
    edited = discord_standin.message(message.id)
    assert "Approved by" in edited.text() and "Done" in edited.text()


async def test_cancel_and_expiry_apply_nothing(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    await discord_standin.add_reaction(message.id, "❌", user_id=c.OPERATOR2_ID)  # not requester, not approver
    await discord_standin.add_reaction(message.id, "❌", user_id=c.OPERATOR1_ID)  # the requester cancels
    seen = await reactions_recorded(running, message.id, 2)
    assert [r.outcome for r in seen][1] == "cancelled"
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    seen = await reactions_recorded(running, message.id, 3)
    assert seen[2].outcome == "ignored: request already cancelled"
    # The card is edited after the reaction is recorded: wait for the edit, do not race it.
    cancelled = await discord_standin.wait_for_edit(message.id, lambda m: "Cancelled" in m.text(), timeout=30)
    assert "Cancelled" in cancelled.text()
    # A second request, left to expire (the clock is moved, not waited for).
    _, second = await request(discord_standin)
    advance_clock(running.bot, running.bot.settings.discord.approval_timeout_s + 1)
    await discord_standin.add_reaction(second.id, "✅", user_id=c.APPROVER1_ID)
    seen = await reactions_recorded(running, second.id, 1)
    assert seen[0].outcome == "ignored: request expired"
    expired = await discord_standin.wait_for_edit(second.id, lambda m: "Expired" in m.text(), timeout=30)
    assert "Expired" in expired.text() and "Expires <t:" not in expired.text()
    assert user_version(engine.db_path) == 7


async def test_second_request_is_refused_while_one_waits(
    discord_standin: DiscordStandIn, running: RunningBot
) -> None:
    await request(discord_standin)
    rec = await discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR2_ID)
    reply = await discord_standin.wait_for_followup(rec)
    assert "already asked" in reply.text() and reply.ephemeral


async def test_rollback_button_restores_and_refuses_non_approvers(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    done = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
    rollback_id = button_ids(done)[0]
    refused = await discord_standin.click_button(done.id, rollback_id, user_id=c.OPERATOR1_ID)
    reply = await discord_standin.wait_for_followup(refused)
    assert "role to roll back" in reply.text() and user_version(engine.db_path) == 8
    # The app keeps working after the migration: the confirmation counts what a rollback loses.
    app = sqlite3.connect(engine.db_path)
    app.executemany("INSERT INTO activity_logs (user_id, activity, started_at) VALUES (?, 'after', '2026-12-02')",
                    [(1,), (2,), (3,)])
    app.commit()
    app.close()
    asked = await discord_standin.click_button(done.id, rollback_id, user_id=c.APPROVER1_ID)
    confirm = await discord_standin.wait_for_followup(asked)
    assert "will be lost" in confirm.text() and "pre-0001_remove_suspend" in confirm.text()
    assert "Rows written since the backup, which the rollback loses: **activity_logs** +3." in confirm.text()
    [yes, _no] = button_ids(confirm)
    await discord_standin.click_button(confirm.id, yes, user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=30)
    assert user_version(engine.db_path) == 7


async def test_restart_keeps_pending_approvals_and_buttons(
    discord_standin: DiscordStandIn, engine: Engine
) -> None:
    first = await start_bot(discord_standin, engine)
    _, message = await request(discord_standin)
    await first.stop()
    second = await start_bot(discord_standin, engine)
    try:
        await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
        done = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
        assert user_version(engine.db_path) == 8
    finally:
        await second.stop()
    third = await start_bot(discord_standin, engine)
    try:
        rollback_id = button_ids(done)[0]
        asked = await discord_standin.click_button(done.id, rollback_id, user_id=c.APPROVER1_ID)
        confirm = await discord_standin.wait_for_followup(asked)
        await discord_standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER1_ID)
        await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=30)
        assert user_version(engine.db_path) == 7
    finally:
        await third.stop()


async def test_other_guild_and_missing_role_refused(discord_standin: DiscordStandIn, running: RunningBot) -> None:
    rec = await discord_standin.send_slash_command("migrate backup", {}, user_id=c.OUTSIDER_ID)
    reply = await discord_standin.wait_for_followup(rec)
    assert "role to take a backup" in reply.text() and reply.ephemeral


async def test_changed_file_after_approval_stops_and_asks_again(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    path = engine.migrations_dir / MIGRATION
    path.write_text(path.read_text() + "\n-- edited after the approval was requested\n")
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    stopped = await discord_standin.wait_for_edit(message.id, lambda m: "Stopped before anything changed" in m.text())
    assert "changed since it was approved" in stopped.text() and "new approval" in stopped.text()
    assert user_version(engine.db_path) == 7
    approval = await running.bot.approvals.by_message(message.id)
    assert approval is not None and approval.state == "stale"


async def test_request_refused_while_a_mutating_run_holds_the_lock(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    await engine.journal.start_run("backup", "local", "carol (7)", lock=True)
    rec = await discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID)
    reply = await discord_standin.wait_for_followup(rec)
    assert "carol is running backup" in reply.text() and "since" in reply.text()


async def test_autocomplete_migrations_and_backups(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    choices = await discord_standin.send_autocomplete("migrate preflight", {"migration": "00"}, focused="migration")
    assert [ch["value"] for ch in choices] == [MIGRATION]
    rec = await discord_standin.send_slash_command("migrate backup", {"label": "before-lunch"},
                                                   user_id=c.OPERATOR1_ID)
    await discord_standin.wait_for_message(lambda m: "✅ Backed up" in m.text(), timeout=30)
    await discord_standin.wait_for_followup(rec)
    choices = await discord_standin.send_autocomplete("migrate rollback", {"backup": "lunch"}, focused="backup")
    assert len(choices) == 1 and "before-lunch" in choices[0]["name"] and "verified" in choices[0]["name"]


async def test_preflight_posts_progress_and_links_it(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    rec = await discord_standin.send_slash_command("migrate preflight", {"migration": MIGRATION},
                                                   user_id=c.OPERATOR1_ID)
    done = await discord_standin.wait_for_message(lambda m: "✅ Passed: preflight" in m.text(), timeout=30)
    link = await discord_standin.wait_for_followup(rec)
    details = details_of(discord_standin, done)  # the channel's card says its state; its thread, the rest
    assert str(details.id) in link.text() and link.ephemeral
    text = details.text()
    assert "- table suspend_history" in text and "fingerprint" in text and "☑" in text
    assert "- table suspend_history" not in done.text() and "☑" not in done.text()


async def test_interactions_from_another_server_are_refused(running: RunningBot) -> None:
    from types import SimpleNamespace

    from bot.app import Refused

    with pytest.raises(Refused, match="its own server"):
        await running.bot.in_our_guild(SimpleNamespace(guild_id=c.GUILD_ID + 1))  # type: ignore[arg-type]
    with pytest.raises(Refused):
        await running.bot.in_our_guild(SimpleNamespace(guild_id=None))  # type: ignore[arg-type]  # a DM
    assert await running.bot.in_our_guild(SimpleNamespace(guild_id=c.GUILD_ID))  # type: ignore[arg-type]


async def test_long_schema_diff_goes_into_an_attached_file(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    sql = "".join(f"CREATE TABLE report_archive_for_quarter_{i:03d}_with_a_long_name (id INTEGER PRIMARY KEY);\n"
                  for i in range(60))
    (engine.migrations_dir / "0002_many_tables.sql").write_text(sql)
    rec = await discord_standin.send_slash_command("migrate preflight", {"migration": "0002_many_tables.sql"},
                                                   user_id=c.OPERATOR1_ID)
    done = await discord_standin.wait_for_message(lambda m: "✅ Passed: preflight" in m.text(), timeout=30)
    await discord_standin.wait_for_followup(rec)
    done = details_of(discord_standin, done)
    [attachment] = done.attachments
    assert attachment.filename == "schema-diff.txt"
    body = attachment.data.decode()
    assert body.count("+ table report_archive_for_quarter_") == 60
    assert "full diff attached" in done.text()
    assert all(len(f["value"]) <= 1024 for e in done.embeds for f in e.get("fields", []))
