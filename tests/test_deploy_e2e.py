"""/deploy revert end to end: the real bot, the loopback Discord, a real bare git remote."""

from __future__ import annotations

from pathlib import Path

from bot.app import EXTENSIONS
from ops.context import Engine
from ops.settings import CodeSettings, EngineSettings, Settings
from tests.bot_harness import start_bot
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_coderevert import KEY, git, remote  # noqa: F401 - the fixture
from tests.waiting import eventually

__all__ = ["remote"]


async def test_revert_needs_approval_then_pushes(
    discord_standin: DiscordStandIn, engine: Engine, tmp_path: Path, remote: tuple[Path, Path]  # noqa: F811
) -> None:
    bare, dev = remote
    settings = Settings(engine=EngineSettings(state_db=tmp_path / "state" / "j.db"),
                        code=CodeSettings(repo=str(bare), branch="develop", deploy_key=KEY))
    bot = await start_bot(discord_standin, engine, engine_settings=settings)
    try:
        log = await discord_standin.send_slash_command("deploy log", {}, user_id=c.OPERATOR1_ID)
        assert "remove suspend feature" in (await discord_standin.wait_for_followup(log)).text()
        before = git(bare, "rev-parse", "develop")
        rec = await discord_standin.send_slash_command("deploy revert", {}, user_id=c.APPROVER2_ID)
        request = await discord_standin.wait_for_message(lambda m: "Awaiting approval: revert" in m.text())
        await discord_standin.wait_for_followup(rec)
        text = request.text()
        assert "app.py  +1 -2" in text and before in text and "Last 5 commits" in text
        await discord_standin.add_reaction(request.id, "✅", user_id=c.APPROVER2_ID)  # own request: ignored
        await discord_standin.add_reaction(request.id, "✅", user_id=c.OPERATOR1_ID)  # not an approver
        approval = await bot.bot.approvals.by_message(request.id)
        assert approval is not None

        async def two() -> list | None:
            found = await bot.bot.approvals.reactions(approval.id)
            return found if len(found) == 2 else None

        await eventually(two)
        assert git(bare, "rev-parse", "develop") == before
        await discord_standin.add_reaction(request.id, "✅", user_id=c.APPROVER1_ID)
        done = await discord_standin.wait_for_message(lambda m: "✅ Applied: code rollback" in m.text(),
                                                      where="threads", timeout=30)
        new = git(bare, "rev-parse", "develop")
        assert new != before and new[:12] in done.text() and git(bare, "rev-parse", "develop~1") == before
        assert git(bare, "show", "develop:app.py") == "SUSPEND = True"
        assert "secret-deploy-key-material" not in discord_standin.dump()
        # The run worked on (and locked) the branch the request was checked against, not the app.
        [run] = await engine.journal.runs(phase="code-revert")
        assert run.state == "succeeded" and run.target == bot.bot.get_cog("deploy").code.target  # type: ignore[union-attr]
        assert await engine.journal.lock_for(run.target) is None
    finally:
        await bot.stop()


async def test_moved_branch_stops_and_asks_again(
    discord_standin: DiscordStandIn, engine: Engine, tmp_path: Path, remote: tuple[Path, Path]  # noqa: F811
) -> None:
    bare, dev = remote
    settings = Settings(engine=EngineSettings(state_db=tmp_path / "state" / "j.db"), code=CodeSettings(repo=str(bare)))
    bot = await start_bot(discord_standin, engine, engine_settings=settings)
    try:
        await discord_standin.send_slash_command("deploy revert", {}, user_id=c.OPERATOR1_ID)
        request = await discord_standin.wait_for_message(lambda m: "Awaiting approval: revert" in m.text())
        (dev / "late.txt").write_text("late\n")
        git(dev, "add", "late.txt")
        git(dev, "commit", "--quiet", "-m", "late change")
        git(dev, "push", "--quiet", "origin", "develop")
        moved = git(bare, "rev-parse", "develop")
        await discord_standin.add_reaction(request.id, "✅", user_id=c.APPROVER1_ID)
        await discord_standin.wait_for_message(lambda m: "did not happen" in m.text(), where="threads", timeout=30)
        assert git(bare, "rev-parse", "develop") == moved
        edited = await discord_standin.wait_for_edit(
            request.id, lambda m: "moved since the revert was approved" in m.text(), timeout=30)
        assert "again" in edited.text()
    finally:
        await bot.stop()


async def test_deploy_needs_no_migrate_cog(
    discord_standin: DiscordStandIn, engine: Engine, tmp_path: Path, remote: tuple[Path, Path]  # noqa: F811
) -> None:
    """The approvals cog honours a /deploy request's ✅ by itself: the migrate cog is not loaded.
    (Without cogs.approvals too, the same test times out waiting for the result: tried once.)"""
    bare, dev = remote
    settings = Settings(engine=EngineSettings(state_db=tmp_path / "state" / "j.db"),
                        code=CodeSettings(repo=str(bare), branch="develop", deploy_key=KEY))
    without = tuple(e for e in EXTENSIONS if e != "cogs.migrate")
    assert "cogs.deploy" in without and "cogs.approvals" in without
    bot = await start_bot(discord_standin, engine, engine_settings=settings, extensions=without)
    try:
        assert bot.bot.get_cog("migrate") is None and bot.bot.get_cog("deploy") is not None
        before = git(bare, "rev-parse", "develop")
        rec = await discord_standin.send_slash_command("deploy revert", {}, user_id=c.OPERATOR1_ID)
        request = await discord_standin.wait_for_message(lambda m: "Awaiting approval: revert" in m.text())
        await discord_standin.wait_for_followup(rec)
        await discord_standin.add_reaction(request.id, "✅", user_id=c.APPROVER1_ID)
        done = await discord_standin.wait_for_message(lambda m: "✅ Applied: code rollback" in m.text(),
                                                      where="threads", timeout=30)
        new = git(bare, "rev-parse", "develop")
        assert new != before and new[:12] in done.text() and git(bare, "rev-parse", "develop~1") == before
        [run] = await engine.journal.runs(phase="code-revert")
        assert run.state == "succeeded"
    finally:
        await bot.stop()
