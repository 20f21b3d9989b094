"""Fault injection through Discord: the real discord.py client against the loopback stand-in,
real SQLite files. The bot killed with SIGKILL mid-migration and started again; requests,
approvals and reactions racing each other; hostile input in slash commands.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops.approvals import Reaction
from ops.context import Engine
from ops.journal import RunRecord
from tests.bot_harness import (
    RunningBot,
    advance_clock,
    button_ids,
    details_of,
    is_applied_run,
    start_bot,
    user_version,
)
from tests.conftest import MIGRATIONS, REPO, dump
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.fakefly.plugin import FakeFly
from tests.faults.helpers import assert_all_or_nothing
from tests.waiting import eventually

MIGRATION = "0001_remove_suspend.sql"
SLOW = "0002_slow_remove_suspend.sql"
# A lot of work inside the migration's transaction, after the tables were dropped and rebuilt
# and before user_version moves: a kill lands in the middle of the migration.
SLOW_SQL = ("CREATE TEMP TABLE busy AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
            "WHERE x < 5000000) SELECT sum(x) AS s FROM n;\n")


def is_approval(m: object) -> bool:
    return "Awaiting approval" in m.text()  # type: ignore[attr-defined]


async def migrate_runs(engine: Engine) -> list[RunRecord]:
    return [r for r in await engine.journal.runs(100) if r.phase == "migrate"]


async def request(standin: DiscordStandIn, user_id: int = c.OPERATOR1_ID, name: str = MIGRATION):  # type: ignore[no-untyped-def]
    after = max((m.id for m in standin.channel_messages()), default=0)
    rec = await standin.send_slash_command("migrate run", {"migration": name}, user_id=user_id)
    message = await standin.wait_for_message(is_approval, timeout=60, after_id=after)
    await standin.wait_for_reaction(message.id, "❌")
    return rec, message


# --- 4. the bot is killed (SIGKILL) mid-migrate and started again ------------------------------


def processes_using(path: str) -> list[int]:
    """Pids whose command line names ``path`` (the sh -c and sqlite3 of a migration session)."""
    found = []
    needle = path.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


async def no_session(db: str) -> bool:
    return not processes_using(db)


async def holds_write_lock(db: str) -> bool:
    con = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    else:
        con.execute("ROLLBACK")
        return False
    finally:
        con.close()


async def migration_under_way(engine: Engine, db: str) -> bool:
    """A migrate run is inside its write transaction: the journal is past every step before apply
    and the database's write lock is held. The lock alone is not enough: a sqlite3 session that
    closes (and checkpoints) also refuses BEGIN IMMEDIATE for a moment, earlier in the run."""
    runs = await migrate_runs(engine)
    return bool(runs) and runs[0].last_step == "off-host copy" and await holds_write_lock(db)


def start_child(standin: DiscordStandIn, engine: Engine, state_db: Path, log: Path,
                fakefly: FakeFly | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if fakefly is not None:
        env.update(fakefly.env, CHILD_TARGET="fly", FLYCTL=str(fakefly.bin), FLY_APP=fakefly.app,
                   FLY_API_TOKEN=fakefly.token)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.faults.bot_child", standin.api_base, standin.gateway_url, str(state_db),
             engine.db_path, str(engine.migrations_dir)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


async def reap(child: subprocess.Popen[bytes], fakefly: FakeFly | None) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    await asyncio.to_thread(child.wait, 10)
    if fakefly is not None:  # a stalled flyctl the dead bot started never ends by itself
        for pid in {call["pid"] for call in fakefly.calls()}:
            if pid in processes_using(str(fakefly.bin)):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("where", ["local", "fly"])
async def test_bot_killed_mid_migrate_then_started_again(
    discord_standin: DiscordStandIn, engine: Engine, fakefly: FakeFly, tmp_path: Path, where: str
) -> None:
    """local: killed while sqlite3 is inside the transaction (the session dies with it: untouched).
    fly: killed while flyctl stalls and the remote sqlite3 commits on its own (fully migrated)."""
    db = engine.db_path
    original = dump(db)
    name = SLOW if where == "local" else MIGRATION
    (engine.migrations_dir / SLOW).write_text(
        (MIGRATIONS / MIGRATION).read_text().replace("PRAGMA user_version = 8;", SLOW_SQL + "PRAGMA user_version = 8;"))
    fly = fakefly if where == "fly" else None
    if fly is not None:
        engine.target = fly.target()
        fly.add_fault("ssh", "stall", match="BEGIN IMMEDIATE", times=1)
    state_db = tmp_path / "state" / "opsbot.db"  # the journal the `engine` fixture has open too
    child = start_child(discord_standin, engine, state_db, tmp_path / "child.log", fly)
    try:
        await discord_standin.wait_until_connected(timeout=30)
        _, approval = await request(discord_standin, name=name)
        await discord_standin.add_reaction(approval.id, "✅", user_id=c.APPROVER1_ID)

        async def mid_migration() -> bool:
            assert child.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
            if fly is not None:  # the remote committed; the bot still waits for flyctl
                return user_version(db) == 8
            return await migration_under_way(engine, db)

        await eventually(mid_migration, timeout=60, what="the migration to be under way")
        child.send_signal(signal.SIGKILL)
    finally:
        await reap(child, fly)
    # The orphaned sqlite3 session ends by itself (its reader is gone, or it finishes): wait for it,
    # so no process is left behind and the state below is final.
    await eventually(lambda: no_session(db), timeout=30, what="no sqlite3 session left on the database")
    version = assert_all_or_nothing(db)  # fully migrated or untouched, never half
    assert version == (8 if fly else 7)
    [run] = await migrate_runs(engine)
    assert run.state == "running" and run.last_step == "off-host copy"  # the last step before apply
    assert await engine.journal.lock_for(engine.key) is not None, "a killed process cannot release it"

    last = max(m.id for m in discord_standin.channel_messages())
    bot = await start_bot(discord_standin, engine)
    try:
        note = await discord_standin.wait_for_message(lambda m: "Interrupted run" in m.text(), after_id=last,
                                                      where="any", timeout=30)
        assert f"Run #{run.id}" in note.text() and "either fully migrated or untouched" in note.text()
        assert "Last completed step: **off-host copy**" in note.text()
        ids = button_ids(note)
        assert f"opsbot:verify:{run.id}" in ids and f"opsbot:rollback:{run.id}" in ids
        [run] = await migrate_runs(engine)
        assert run.state == "interrupted" and await engine.journal.lock_for(engine.key) is None
        # Verify says which of the two it is.
        clicked = await discord_standin.click_button(note.id, f"opsbot:verify:{run.id}", user_id=c.OPERATOR1_ID)
        await discord_standin.wait_for_ack(clicked)
        verified = await discord_standin.wait_for_message(lambda m: "✅ Passed: verify" in m.text(), after_id=note.id,
                                                          timeout=30)
        assert f"user_version {version}" in details_of(discord_standin, verified).text()
        # Rollback restores the backup the killed run took before it changed anything.
        asked = await discord_standin.click_button(note.id, f"opsbot:rollback:{run.id}", user_id=c.APPROVER1_ID)
        confirm = await discord_standin.wait_for_followup(asked, timeout=30)
        assert f"pre-{Path(name).stem}" in confirm.text() and "will be lost" in confirm.text()
        await discord_standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER1_ID)
        await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), after_id=note.id,
                                               timeout=30)
        assert dump(db) == original
    finally:
        await bot.stop()
    assert not processes_using(db)
    child_log = (tmp_path / "child.log").read_text()
    assert "discord.gateway" in child_log, "the child logs at INFO: the check below looks at something"
    assert c.BOT_TOKEN not in child_log and (fly is None or fly.token not in child_log)


# --- 6. races: two requests, two approvals, late reactions --------------------------------------


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


async def outcomes(running: RunningBot, message_id: int, n: int) -> list[str]:
    approval = await running.bot.approvals.by_message(message_id)
    assert approval is not None

    async def enough() -> list[Reaction] | None:
        found = await running.bot.approvals.reactions(approval.id)
        return found if len(found) >= n else None

    return [r.outcome for r in await eventually(enough, what=f"{n} reactions recorded")]


async def test_two_approvers_at_once_and_late_reactions_run_it_once(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    # Two approvers react in the same instant: exactly one approval wins.
    await asyncio.gather(discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID),
                         discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER2_ID))
    first = await outcomes(running, message.id, 2)
    assert sorted(first) == ["approved", "ignored: request already approved"] or \
        sorted(first) == ["approved", "ignored: already decided"], first
    await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
    # The same approver again (remove + add), and a ❌ after the run: nothing more happens.
    await discord_standin.remove_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await asyncio.gather(discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID),
                         discord_standin.add_reaction(message.id, "❌", user_id=c.APPROVER2_ID))
    late = (await outcomes(running, message.id, 4))[2:]
    assert late == ["ignored: request already executed"] * 2
    runs = await migrate_runs(engine)
    assert len(runs) == 1 and runs[0].state == "succeeded" and user_version(engine.db_path) == 8


async def test_reaction_on_an_expired_request_runs_nothing(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    _, message = await request(discord_standin)
    advance_clock(running.bot, running.bot.settings.discord.approval_timeout_s + 1)
    await asyncio.gather(discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID),
                         discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER2_ID))
    seen = await outcomes(running, message.id, 2)
    assert "approved" not in seen and "ignored: request expired" in seen, seen
    await discord_standin.wait_for_edit(message.id, lambda m: "Expired" in m.text())
    assert await migrate_runs(engine) == [] and user_version(engine.db_path) == 7


async def test_two_operators_request_at_once_one_request_or_one_run(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    recs = await asyncio.gather(
        discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID),
        discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR2_ID))
    replies = [await discord_standin.wait_for_followup(r, lambda m: "Approval requested" in m.text()
                                                       or "✘" in m.text(), timeout=60) for r in recs]
    requests = [m for m in discord_standin.channel_messages() if is_approval(m)]
    for message in requests:
        await discord_standin.wait_for_reaction(message.id, "❌")
    # Whatever the interleaving, approving every request that was posted runs the migration once.
    for message in requests:
        await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
    await eventually(lambda: _settled(running, requests), what="every request decided")
    runs = await migrate_runs(engine)
    assert [r.state for r in runs].count("succeeded") == 1 and user_version(engine.db_path) == 8
    assert all(r.ephemeral for r in replies)
    if len(requests) == 2:  # defence in depth: were both posted, the second must not run again
        states = sorted([(await running.bot.approvals.by_message(m.id)).state for m in requests])
        assert states == ["executed", "stale"]
        def stopped() -> bool | None:
            return any("Stopped before anything changed" in discord_standin.message(m.id).text()
                       for m in requests) or None

        assert await discord_standin.wait_until(stopped, timeout=30, what="the refused request's card")
        # The refused one is journaled as a failed run that changed nothing (lock held, or tables gone).
        others = [(r.state, r.error) for r in runs if r.state != "succeeded"]
        assert all(state == "failed" for state, _ in others), others
    else:
        refused = [m for m in replies if "✘" in m.text()]
        assert len(refused) == 1 and "already asked" in refused[0].text()


async def _settled(running: RunningBot, requests: list) -> bool:
    states = [(await running.bot.approvals.by_message(m.id)).state for m in requests]
    return all(s not in ("pending", "approved") for s in states)


async def test_two_operators_request_at_once_only_one_request_is_posted(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    recs = await asyncio.gather(
        discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID),
        discord_standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR2_ID))
    replies = [await discord_standin.wait_for_followup(r, lambda m: "Approval requested" in m.text()
                                                       or "✘" in m.text(), timeout=60) for r in recs]
    assert len([m for m in discord_standin.channel_messages() if is_approval(m)]) == 1
    assert any("already asked" in m.text() for m in replies)


# --- 7. hostile input in slash commands ------------------------------------------------------


HOSTILE_COMMANDS = [
    ("migrate run", {"migration": "../../etc/passwd"}, "is not a migration name"),
    ("migrate run", {"migration": "x.sql; rm -rf /"}, "is not a migration name"),
    ("migrate preflight", {"migration": "$(touch pwned).sql"}, "is not a migration name"),
    ("migrate preflight", {"migration": "a" * 3000 + ".sql"}, "is not a migration name"),
    ("migrate run", {"migration": "0003_attach.sql"}, "ATTACH reaches outside the database"),
    # A preflight is a report: a refused file gets its report in the channel (nothing ran to make it).
    ("migrate preflight", {"migration": "0004_vacuum.sql"}, "VACUUM cannot run inside a transaction"),
    ("migrate run", {"migration": "0004_vacuum.sql"}, "VACUUM cannot run inside a transaction"),
    ("migrate run", {"migration": "0005_latin1.sql"}, "is not valid UTF-8"),
    ("migrate backup", {"label": "x'; rm -rf / #"}, "is not allowed"),
    ("migrate backup", {"label": '"quoted"'}, "is not allowed"),
    ("migrate rollback", {"backup": "../../etc/passwd"}, "is not a backup of this database"),
]


@pytest.fixture
async def fly_bot(discord_standin: DiscordStandIn, engine: Engine, fakefly: FakeFly) -> AsyncIterator[RunningBot]:
    """The bot on the fly target: every host command shows up in the stand-in fly's call log."""
    engine.target = fakefly.target()
    engine.migrations_dir.joinpath("0003_attach.sql").write_text("ATTACH '/tmp/elsewhere.db' AS e;\n"
                                                                "CREATE TABLE e.t(x);\n")
    engine.migrations_dir.joinpath("0004_vacuum.sql").write_text("CREATE TABLE t(x);\nVACUUM;\n")
    engine.migrations_dir.joinpath("0005_latin1.sql").write_bytes("-- café\nCREATE TABLE t(x);\n".encode("latin-1"))
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


@pytest.mark.parametrize(("command", "options", "expected"), HOSTILE_COMMANDS,
                         ids=[f"{c}-{list(o.values())[0][:20]}" for c, o, _ in HOSTILE_COMMANDS])
async def test_hostile_slash_command_input_is_refused_and_nothing_runs_on_the_host(
    discord_standin: DiscordStandIn, fly_bot: RunningBot, engine: Engine, fakefly: FakeFly,
    command: str, options: dict[str, str], expected: str
) -> None:
    before = dump(engine.db_path)
    rec = await discord_standin.send_slash_command(command, options, user_id=c.APPROVER2_ID)  # both roles
    if options.get("migration") == "0004_vacuum.sql" and command == "migrate preflight":
        report = await discord_standin.wait_for_message(lambda m: "❌ Failed: preflight" in m.text(), timeout=30)
        report = details_of(discord_standin, report)  # the card's thread holds what happened
        assert expected in report.text() and "nothing ran on the app host" in report.text()
        assert (await discord_standin.wait_for_followup(rec)).ephemeral
    else:
        reply = await discord_standin.wait_for_followup(rec, lambda m: "✘" in m.text(), timeout=30)
        assert reply.ephemeral and expected in reply.text(), reply.text()
        assert "→" in reply.text(), "a refusal says what to do instead"
    ssh = fakefly.ssh_scripts()  # the -C command and the script that came on stdin
    assert not [s for s in ssh if "sqlite3" in s], "no sqlite3 may run on the host for refused input"
    if command == "migrate rollback":  # the only refusal that needs the host: the list of backups
        assert all("wc -c" in s for s in ssh)
    else:
        assert ssh == []
    assert not any(a[:3] == ["ssh", "sftp", "get"] for a in fakefly.argvs())
    assert dump(engine.db_path) == before
    assert await migrate_runs(engine) == []
    assert not [m for m in discord_standin.channel_messages() if is_approval(m)]
    assert not (Path(engine.db_path).parent / "pwned").exists() and not Path("pwned").exists()


async def test_request_for_a_long_but_valid_migration_name(
    discord_standin: DiscordStandIn, running: RunningBot, engine: Engine
) -> None:
    name = "0002_" + "x" * 110 + ".sql"
    (engine.migrations_dir / name).write_text((MIGRATIONS / MIGRATION).read_text())
    rec = await discord_standin.send_slash_command("migrate run", {"migration": name}, user_id=c.OPERATOR1_ID)
    reply = await discord_standin.wait_for_followup(rec, lambda m: "Approval requested" in m.text() or "✘" in m.text(),
                                                    timeout=30)
    assert "Approval requested" in reply.text(), reply.text()
