"""The real `python -m bot` killed and started again on the same state: what the channel says
afterwards matches the journal and the database (tests/live/bot_main.py is `python -m bot` with
the stand-in's two URLs swapped in)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.context import Engine
from tests.bot_harness import button_ids, is_applied_run, user_version
from tests.conftest import MIGRATIONS, REPO
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.faults.helpers import assert_all_or_nothing
from tests.test_faults_bot import MIGRATION, SLOW, SLOW_SQL, migrate_runs, migration_under_way, no_session, request
from tests.waiting import eventually


class BotProcess:
    def __init__(self, standin: DiscordStandIn, engine: Engine, log: Path) -> None:
        self.standin, self.log = standin, log
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "DISCORD_TOKEN": c.BOT_TOKEN,
                    "DISCORD_GUILD_ID": str(c.GUILD_ID), "OPS_CHANNEL_ID": str(c.OPS_CHANNEL_ID),
                    "OPERATOR_ROLE_ID": str(c.OPERATOR_ROLE_ID), "APPROVER_ROLE_ID": str(c.APPROVER_ROLE_ID),
                    "TARGET": "local", "DB_PATH": engine.db_path, "MIGRATIONS_DIR": str(engine.migrations_dir),
                    "STATE_DB": str(Path(engine.work_dir).parent / "opsbot.db"), "BUSY_TIMEOUT_MS": "2000"}
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.live.bot_main", self.standin.api_base, self.standin.gateway_url],
                cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        await self.standin.wait_until_connected(timeout=30)

    async def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait, 10)
        await self.standin.wait_until(lambda: not self.standin.gateway.connected or None, timeout=10,
                                      what="the gateway to notice the bot is gone")

    def alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]


@pytest.fixture
def bot_process(discord_standin: DiscordStandIn, engine: Engine, tmp_path: Path) -> Iterator[BotProcess]:
    bot = BotProcess(discord_standin, engine, tmp_path / "bot.log")
    yield bot
    if bot.proc is not None and bot.proc.poll() is None:
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(10)


async def status_text(standin: DiscordStandIn) -> str:
    rec = await standin.send_slash_command("migrate status", {}, user_id=c.OPERATOR1_ID)
    return (await standin.wait_for_followup(rec, timeout=30)).text()


async def test_killed_mid_migrate_the_restarted_bot_reports_the_run_and_fixes_its_cards(
    discord_standin: DiscordStandIn, engine: Engine, bot_process: BotProcess
) -> None:
    db = engine.db_path
    (engine.migrations_dir / SLOW).write_text(
        (MIGRATIONS / MIGRATION).read_text().replace("PRAGMA user_version = 8;", SLOW_SQL + "PRAGMA user_version = 8;"))
    await bot_process.start()
    _, approval = await request(discord_standin, name=SLOW)
    await discord_standin.add_reaction(approval.id, "✅", user_id=c.APPROVER1_ID)

    async def mid_migration() -> bool:
        bot_process.alive()
        return await migration_under_way(engine, db)

    await eventually(mid_migration, timeout=60, what="the migration to be under way")
    progress = await discord_standin.wait_for_message(lambda m: f"migrate {SLOW} (request #" in m.text(),
                                                      where="threads")  # the run's card is in its thread
    await bot_process.kill()
    await eventually(lambda: no_session(db), timeout=30, what="no sqlite3 session left")
    assert assert_all_or_nothing(db) == 7
    [run] = await migrate_runs(engine)
    assert run.state == "running"  # nobody has looked yet

    last = max(m.id for m in discord_standin.channel_messages())
    await bot_process.start()  # the same state: journal, database, channel
    note = await discord_standin.wait_for_message(lambda m: "Interrupted run" in m.text(), after_id=last,
                                                  where="threads", timeout=30)
    assert note.channel_id == progress.channel_id, "the note goes into the run's thread, beside its card"
    assert f"Run #{run.id}" in note.text() and "Last completed step: **off-host copy**" in note.text()
    ids = button_ids(note)
    assert f"opsbot:verify:{run.id}" in ids and f"opsbot:rollback:{run.id}" in ids
    # The card that said "running" and the request that said "running…" now say what happened.
    edited = await discord_standin.wait_for_edit(progress.id, lambda m: "Interrupted" in m.text(), timeout=30)
    assert not button_ids(edited)
    req = await discord_standin.wait_for_edit(approval.id, lambda m: "Interrupted during run" in m.text(), timeout=30)
    assert f"Interrupted during run #{run.id}" in req.text() and str(note.id) in req.text()
    assert "interrupted" in await status_text(discord_standin)
    [run] = await migrate_runs(engine)
    assert run.state == "interrupted" and run.announced_at
    # Started once more: the run is not posted a second time.
    await bot_process.kill()
    await bot_process.start()
    assert "interrupted" in await status_text(discord_standin)
    notes = [m for m in discord_standin.thread_messages(progress.channel_id) if "Interrupted run" in m.text()]
    assert len(notes) == 1
    assert max(m.id for m in discord_standin.channel_messages()) == last, "the channel got no new card"


async def test_an_approval_given_while_the_bot_was_down_runs_after_it_starts(
    discord_standin: DiscordStandIn, engine: Engine, bot_process: BotProcess
) -> None:
    await bot_process.start()
    _, approval = await request(discord_standin)
    await bot_process.kill()
    # Discord stores these; no bot hears them.
    await discord_standin.add_reaction_offline(approval.id, "✅", user_id=c.OPERATOR1_ID)  # the requester
    await discord_standin.add_reaction_offline(approval.id, "✅", user_id=c.APPROVER1_ID)
    assert user_version(engine.db_path) == 7
    last = max(m.id for m in discord_standin.channel_messages())
    await bot_process.start()
    done = await discord_standin.wait_for_message(is_applied_run, where="any", after_id=last, timeout=60)
    assert user_version(engine.db_path) == 8 and "approved" in done.text()
    # Said in the request's thread: the request card stays its one card in the channel.
    thread = discord_standin.thread_of(approval.id)
    assert thread is not None
    said = [m.text() for m in discord_standin.thread_messages(thread.id) if "while opsbot was offline" in m.text()]
    assert said and "approved request" in said[0]
    assert not [m for m in discord_standin.channel_messages() if "while opsbot was offline" in m.text()]
    row = await engine.journal._one("SELECT id FROM approvals WHERE message_id=?", (approval.id,))
    assert row is not None
    outcomes = {r["user_id"]: r["outcome"] for r in await engine.journal._all(
        "SELECT user_id, outcome FROM reactions WHERE approval_id=?", (row["id"],))}
    # Discord does not say in which order the two came: the requester's never counts either way.
    assert outcomes[c.APPROVER1_ID] == "approved"
    assert outcomes[c.OPERATOR1_ID] in ("ignored: the requester cannot approve their own change",
                                        "ignored: request already approved")
    assert len([r for r in await engine.journal.runs(20) if r.phase == "migrate"]) == 1


async def test_a_refused_token_is_one_line_with_what_to_do(
    discord_standin: DiscordStandIn, engine: Engine, bot_process: BotProcess
) -> None:
    wrong = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GsEcRt.revoked-token-0123456789abcdefgh"
    env = {**bot_process.env, "DISCORD_TOKEN": wrong}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.live.bot_main", discord_standin.api_base,
                         discord_standin.gateway_url], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and " INFO " not in ln and " WARNING " not in ln]
    assert lines[0].startswith("Discord refused DISCORD_TOKEN") and lines[1].startswith("→ Developer Portal")
    assert len(lines) == 2, lines
    assert wrong not in done.stderr
    assert any("401" in r for r in discord_standin.rejections)  # the refusal did come from Discord
    discord_standin.clear_problems()  # expected here


async def test_an_approved_request_whose_run_never_started_is_released_after_a_restart(
    discord_standin: DiscordStandIn, engine: Engine, bot_process: BotProcess
) -> None:
    """Killed between the ✅ and the run's start (its progress card waits out a 429): nothing ran,
    and the request must not say "running…" forever."""
    await bot_process.start()
    _, approval = await request(discord_standin)
    route = "POST /channels/{channel_id}/messages"
    limits = discord_standin.rate_limits
    limits.set(route, 0, 120.0)  # Discord makes the bot wait two minutes before its next message
    limits.buckets.clear()
    await discord_standin.add_reaction(approval.id, "✅", user_id=c.APPROVER1_ID)
    await discord_standin.wait_until(lambda: limits.limited or None, timeout=30, what="the bot to be rate limited")
    await discord_standin.wait_for_edit(approval.id, lambda m: "running" in m.text(), timeout=30)
    await bot_process.kill()
    limits.overrides.pop(route)
    limits.buckets.clear()
    await bot_process.start()
    req = await discord_standin.wait_for_edit(approval.id, lambda m: "Interrupted before it ran" in m.text(),
                                              timeout=30)
    assert "Nothing was changed" in req.text()
    assert user_version(engine.db_path) == 7 and await migrate_runs(engine) == []
    row = await engine.journal._one("SELECT state FROM approvals WHERE message_id=?", (approval.id,))
    assert row is not None and row["state"] == "stale"
