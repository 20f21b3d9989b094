"""An alert you can own, to its end (issue 13): inside the watch window after a migration its Rollback
button rolls the migration back (⏪, grey, the backup's time as a Discord timestamp); recovery turns
the alert ✅ Resolved in green and drops what it said to do while the app was down."""

from __future__ import annotations

import re

import discord

from bot.states import LOOKS
from ops.context import Engine
from tests.bot_harness import RunningBot, button_ids, details_of, user_version
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_bot_e2e import MIGRATION, request, wait_for_state
from tests.test_health_monitor import App, alerts, app, running, ticks  # noqa: F401 (fixtures)

UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


async def test_the_alerts_rollback_undoes_the_migration_and_recovery_resolves_it(
    discord_standin: DiscordStandIn, running: RunningBot, app: App, engine: Engine  # noqa: F811
) -> None:
    standin = discord_standin
    _, message = await request(standin)
    await standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(standin, message.id, f"✅ Applied: migrate {MIGRATION}")
    app.status = 500
    assert await ticks(running, 3) == ["alert"]
    alert = alerts(standin)[0]
    names = [f["name"] for f in alert.embeds[0]["fields"]]
    # Control: while the app is down the alert says what to do, and offers the Rollback.
    assert "A migration ran recently" in names and "Emergency steps (runbook)" in names
    rollback = next(i for i in button_ids(alert) if i.startswith("opsbot:rollback:"))
    confirm = await standin.wait_for_followup(await standin.click_button(alert.id, rollback, user_id=c.APPROVER2_ID),
                                              timeout=30)
    assert "will be lost" in confirm.text() and "taken <t:" in confirm.text()
    await standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER2_ID)
    rolled = await standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=60)
    assert rolled.embeds[0]["color"] == LOOKS["rolled_back"].colour.value
    assert user_version(engine.db_path) == 7
    # The warning names the backup's time as a Discord timestamp (each reader's zone), not UTC text.
    details = details_of(standin, rolled).text()
    assert re.search(r"Writes made after <t:\d+:f> \(<t:\d+:R>\)", details), details
    assert not UTC_TEXT.search(details) and not UTC_TEXT.search(rolled.text())
    request_card = await wait_for_state(standin, message.id, f"⏪ Rolled back: migrate {MIGRATION}")
    assert request_card.embeds[0]["color"] == LOOKS["rolled_back"].colour.value
    assert request_card.content.startswith("⏪ Rolled back — run #") and "<@&" not in request_card.content
    app.status = 200
    assert await ticks(running, 2) == ["recovered"]
    resolved = standin.message(alert.id)
    assert resolved.embeds[0]["title"].startswith("✅ Resolved (incident #1)")
    assert resolved.embeds[0]["color"] == discord.Colour.green().value and not resolved.components
    names = [f["name"] for f in resolved.embeds[0].get("fields", [])]
    assert "A migration ran recently" not in names and "Emergency steps (runbook)" not in names, names
    assert "roll it back" not in resolved.text() and "The app is down" not in resolved.text()
