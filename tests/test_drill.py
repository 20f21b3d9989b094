"""Restore drills (issue 15): the newest backup restored into a scratch file here, checked against
its record; a damaged one fails the drill and pings the alert role. The live database is never
touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops.context import Engine
from tests.bot_harness import RunningBot, details_of, start_bot
from tests.conftest import dump
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_offsite import migrated, ops


def damage(path: str | Path) -> None:
    data = bytearray(Path(path).read_bytes())
    data[4096:8192] = b"\xff" * 4096
    Path(path).write_bytes(bytes(data))


def test_a_drill_passes_on_a_good_backup_and_fails_on_a_damaged_one(tmp_path: Path) -> None:
    env, db, _, done = migrated(tmp_path)
    live = dump(db)
    good = ops(env, tmp_path, "drill")
    assert good["ok"] and good["source"] == "offsite" and good["differences"] == []
    assert good["counts"]["suspend_history"] > 0  # the backup from before the migration
    assert ops(env, tmp_path, "status")["last_drill"]["ok"] is True
    # The copy off the host is damaged (and so is the host's): the drill says so.
    damage(done["offsite"]["path"])
    bad = ops(env, tmp_path, "drill", code=1)
    assert not bad["ok"] and any("sha256" in d for d in bad["differences"]), bad
    assert ops(env, tmp_path, "status")["last_drill"]["ok"] is False
    # Without an off-host copy the drill fetches the host's.
    Path(done["offsite"]["path"]).unlink()
    host = ops(env, tmp_path, "drill")
    assert host["ok"] and host["source"] == "host"
    assert dump(db) == live, "a drill never touches the live database"
    assert not list((tmp_path / "state" / "work").glob("drill-*")), "the scratch files are removed"


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine, alert_role_id=c.OTHER_ROLE_ID)
    yield bot
    await bot.stop()


async def test_a_failed_drill_in_discord_is_a_red_card_and_pings_the_alert_role(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    from ops.backup import run_backup

    taken = await run_backup(engine, label="nightly", offsite=True)
    rec = await discord_standin.send_slash_command("migrate drill", {}, user_id=c.OPERATOR1_ID)
    card = await discord_standin.wait_for_message(lambda m: m.embeds and "Passed: restore drill" in m.text(),
                                                  timeout=30)
    assert card.embeds[0]["title"].startswith("✅ Passed: restore drill of app.db.pre-nightly-")
    await discord_standin.wait_for_followup(rec, timeout=30)
    damage(taken.offsite["path"])  # type: ignore[index]
    await discord_standin.send_slash_command("migrate drill", {}, user_id=c.OPERATOR1_ID)
    bad = await discord_standin.wait_for_message(lambda m: m.embeds and "Failed: restore drill" in m.text(),
                                                 timeout=30)
    assert bad.embeds[0]["title"].startswith("❌ Failed: restore drill")
    assert "would not restore" in details_of(discord_standin, bad).text()  # in the card's thread
    ping = await discord_standin.wait_for_message(lambda m: m.content.startswith(f"<@&{c.OTHER_ROLE_ID}>"),
                                                  where="threads", timeout=30)
    assert "a restore drill failed" in ping.content and str(bad.id) in ping.content
    assert ping.channel_id == discord_standin.thread_of(bad.id).id  # type: ignore[union-attr]  # in the card's thread
    assert [m.id for m in discord_standin.channel_messages()] == [card.id, bad.id]  # one card per drill
    rec = await discord_standin.send_slash_command("migrate status", {}, user_id=c.OPERATOR1_ID)
    assert "**last restore drill** ❌ failed" in (await discord_standin.wait_for_followup(rec, timeout=30)).text()
