"""Environments in Discord (issue 14): staging and production from one bot, promotion with the
production policy's two approvers (never the requester), the sticky lock, status per environment."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops import ledger
from ops.context import Engine
from ops.environments import Environment
from ops.policy import Policy
from tests.bot_harness import RunningBot, is_applied_run, start_bot, user_version
from tests.conftest import make_db
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_bot_e2e import MIGRATION, reactions_recorded, wait_for_state

PRODUCTION = Policy(approvers=2, requires_success_on="staging")


@pytest.fixture
async def two(discord_standin: DiscordStandIn, engine: Engine, tmp_path: Path
              ) -> AsyncIterator[tuple[RunningBot, Engine, Engine]]:
    engine.env = "staging"
    db = tmp_path / "production" / "app.db"
    make_db(db, users=80, logs=900)
    production = dataclasses.replace(engine, db_path=str(db), env="production", policy=PRODUCTION,
                                     work_dir=tmp_path / "state" / "work-production")
    # Production has its own channel; staging uses the shared ops channel.
    bot = await start_bot(discord_standin, engine, engines=(production,), environments=(
        Environment("staging", engine.settings), Environment("production", engine.settings, PRODUCTION,
                                                             ops_channel_id=c.OTHER_CHANNEL_ID)))
    yield bot, engine, production
    await bot.stop()


async def ask(standin: DiscordStandIn, command: str, options: dict[str, str], user_id: int = c.OPERATOR1_ID):  # type: ignore[no-untyped-def]
    after = max((m.id for m in standin.channel_messages()), default=0)
    rec = await standin.send_slash_command(command, options, user_id=user_id)
    reply = await standin.wait_for_followup(rec, timeout=60)
    cards = [m for m in standin.channel_messages() if m.id > after and "Awaiting approval" in m.text()]
    return reply, cards


async def test_promotion_needs_staging_then_two_approvers_who_are_not_the_requester(
    discord_standin: DiscordStandIn, two: tuple[RunningBot, Engine, Engine]
) -> None:
    running, staging, production = two
    reply, cards = await ask(discord_standin, "migrate promote", {"migration": MIGRATION})
    assert "has not succeeded on staging: no run there applied it" in reply.text() and not cards
    # /migrate run with no name proposes the next pending migration, here on staging.
    reply, [card] = await ask(discord_standin, "migrate run", {"environment": "staging"})
    assert card.embeds[0]["title"] == f"⏳ Awaiting approval: migrate {MIGRATION} on staging"
    await discord_standin.wait_for_reaction(card.id, "❌")
    await discord_standin.add_reaction(card.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(discord_standin, card.id, f"✅ Applied: migrate {MIGRATION} on staging")
    assert user_version(staging.db_path) == 8 and user_version(production.db_path) == 7
    # Promoted: the production request names the staging run and needs two approvers.
    reply, cards = await ask(discord_standin, "migrate promote", {"migration": MIGRATION})
    assert cards == [], "production's requests go to its own channel"
    card = await discord_standin.wait_for_message(lambda m: "Awaiting approval" in m.text(),
                                                  channel_id=c.OTHER_CHANNEL_ID)
    text = card.text()
    assert card.embeds[0]["title"] == f"⏳ Awaiting approval: migrate {MIGRATION} on production"
    assert "2 different approvers" in text and "succeeded on **staging** in run #" in text
    assert "On **production (this machine)**" in text
    await discord_standin.wait_for_reaction(card.id, "❌")
    await discord_standin.add_reaction(card.id, "✅", user_id=c.OPERATOR1_ID)  # the requester
    await discord_standin.add_reaction(card.id, "✅", user_id=c.APPROVER1_ID)
    await reactions_recorded(running, card.id, 2)
    await discord_standin.remove_reaction(card.id, "✅", user_id=c.APPROVER1_ID)  # takes it back
    await reactions_recorded(running, card.id, 3)
    await discord_standin.add_reaction(card.id, "✅", user_id=c.APPROVER1_ID)  # and gives it again
    seen = await reactions_recorded(running, card.id, 4)
    assert [r.outcome for r in seen] == ["ignored: the requester cannot approve their own change",
                                         "approval 1 of 2", "withdrawn", "approval 1 of 2"]
    # The same ✅ read again (a reconnect replays it) is not a second approver.
    approval = await running.bot.approvals.by_message(card.id)
    assert approval is not None
    cog = running.bot.get_cog("approvals")
    member = await cog.reconciler.member(c.APPROVER1_ID)  # type: ignore[union-attr]
    again = await cog.desk.handle_reaction(approval, "✅", c.APPROVER1_ID, member,  # type: ignore[union-attr]
                                           late=True, run=False)
    assert again == "ignored: already counted"
    assert user_version(production.db_path) == 7, "one approver is not enough on production"
    noted = await discord_standin.wait_for_edit(card.id, lambda m: "approval 1 of 2" in m.text(), timeout=30)
    assert noted.embeds[0]["title"].startswith("⏳ Awaiting approval")
    await discord_standin.add_reaction(card.id, "✅", user_id=c.APPROVER2_ID)
    await wait_for_state(discord_standin, card.id, f"✅ Applied: migrate {MIGRATION} on production")
    assert user_version(production.db_path) == 8
    run = await discord_standin.wait_for_message(is_applied_run, where="threads", after_id=card.id,
                                                 channel_id=c.OTHER_CHANNEL_ID, timeout=30)
    assert "approved by approver1, approver2" in run.text()
    [entry] = (await ledger.applied(production.journal, "production")).values()
    assert entry.requester == "operator1" and entry.approvers == "approver1, approver2"
    # Status, one embed per environment.
    rec = await discord_standin.send_slash_command("migrate status", {}, user_id=c.OPERATOR1_ID)
    status = await discord_standin.wait_for_followup(rec, timeout=30)
    assert [e["title"] for e in status.embeds] == ["Status: staging", "Status: production"]


async def test_a_sticky_lock_holds_an_environment_until_released(
    discord_standin: DiscordStandIn, two: tuple[RunningBot, Engine, Engine]
) -> None:
    reply, _ = await ask(discord_standin, "migrate lock", {"reason": "load test tonight", "environment": "staging"})
    assert "Locked staging" in reply.text()
    said = await discord_standin.wait_for_message(lambda m: "locked staging: load test tonight" in m.text())
    assert said.content.startswith("🔒")
    reply, cards = await ask(discord_standin, "migrate run", {"migration": MIGRATION, "environment": "staging"})
    assert "staging is locked by operator1" in reply.text() and "load test tonight" in reply.text() and not cards
    rec = await discord_standin.send_slash_command("migrate status", {"environment": "staging"},
                                                   user_id=c.OPERATOR1_ID)
    assert "🔒 **locked** by operator1" in (await discord_standin.wait_for_followup(rec, timeout=30)).text()
    reply, _ = await ask(discord_standin, "migrate unlock", {"environment": "staging"}, user_id=c.OPERATOR2_ID)
    assert "Unlocked staging" in reply.text()
    reply, [card] = await ask(discord_standin, "migrate run", {"migration": MIGRATION, "environment": "staging"})
    assert "Approval requested" in reply.text()


def drift_posts(standin: DiscordStandIn) -> list:  # type: ignore[type-arg]
    return [m for channel in (c.OPS_CHANNEL_ID, c.OTHER_CHANNEL_ID) for m in standin.channel_messages(channel)
            if m.embeds and "Schema drift" in m.embeds[0].get("title", "")]


async def test_drift_outside_opsbot_is_posted_once_and_opsbots_own_changes_are_not(
    discord_standin: DiscordStandIn, two: tuple[RunningBot, Engine, Engine]
) -> None:
    import sqlite3

    running, staging, production = two
    watch = running.bot.get_cog("drift")
    assert watch is not None
    assert await watch.check(staging) == [] and await watch.check(production) == []  # the baselines
    # Someone changes production's schema by hand.
    con = sqlite3.connect(production.db_path)
    con.executescript("ALTER TABLE user_settings ADD COLUMN nickname TEXT; CREATE INDEX settings_nick "
                      "ON user_settings(nickname);")
    con.close()
    [found] = await watch.check(production)
    assert found.env == "production"
    assert found.changes == ("+ index settings_nick", "~ table user_settings (definition changed)")
    [post] = await discord_standin.wait_until(lambda: drift_posts(discord_standin) or None, what="the drift post")
    assert "changed outside opsbot" in post.text() and "+ index settings_nick" in post.text()
    assert post.channel_id == c.OTHER_CHANNEL_ID, "in production's own channel"
    assert await watch.check(production) == [], "said once"
    # opsbot's own migration on staging is not drift.
    _, [card] = await ask(discord_standin, "migrate run", {"migration": MIGRATION, "environment": "staging"})
    await discord_standin.wait_for_reaction(card.id, "❌")
    await discord_standin.add_reaction(card.id, "✅", user_id=c.APPROVER1_ID)
    await wait_for_state(discord_standin, card.id, f"✅ Applied: migrate {MIGRATION} on staging")
    assert await watch.check(staging) == []
    assert len(drift_posts(discord_standin)) == 1


async def test_every_environment_option_autocompletes_the_configured_names(
    discord_standin: DiscordStandIn, two: tuple[RunningBot, Engine, Engine]
) -> None:
    for command in ("migrate status", "migrate run", "health check"):
        everything = await discord_standin.send_autocomplete(command, {"environment": ""}, focused="environment")
        assert [ch["value"] for ch in everything] == ["staging", "production"], command
        typed = await discord_standin.send_autocomplete(command, {"environment": "PRO"}, focused="environment")
        assert [ch["value"] for ch in typed] == ["production"], command
