"""/migrate history per environment, and the sticky lock on a request's refusal, through the loopback
Discord with two environments (staging, production) on real databases."""

from __future__ import annotations

from ops import policy
from ops.backup import run_backup
from ops.context import Engine
from ops.migrate import run_migrate
from tests.bot_harness import RunningBot
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_bot_e2e import MIGRATION
from tests.test_environments_bot import ask, two

__all__ = ["two"]  # the fixture, used here by name


async def history(standin: DiscordStandIn, options: dict[str, str]) -> tuple[str, list[str]]:
    rec = await standin.send_slash_command("migrate history", options, user_id=c.OPERATOR1_ID)
    reply = await standin.wait_for_followup(rec, timeout=30)
    return reply.embeds[0]["title"], [ln for ln in reply.text().splitlines() if ln.startswith("#")]


async def test_history_names_each_runs_environment_and_filters_by_one(
    discord_standin: DiscordStandIn, two: tuple[RunningBot, Engine, Engine]
) -> None:
    _, staging, production = two
    assert (await run_backup(staging, label="nightly")).ok
    [on_staging] = [r.id for r in await staging.journal.runs(1)]
    assert (await run_backup(production, label="nightly")).ok
    [on_production] = [r.id for r in await production.journal.runs(1)]
    title, lines = await history(discord_standin, {})
    assert title == "History"
    assert next(ln for ln in lines if ln.startswith(f"#{on_staging} ")).startswith(
        f"#{on_staging} `backup`  on **staging** — ")
    assert next(ln for ln in lines if ln.startswith(f"#{on_production} ")).startswith(
        f"#{on_production} `backup`  on **production** — ")
    title, lines = await history(discord_standin, {"environment": "production"})
    assert title == "History: production"
    assert [ln.split(" ")[0] for ln in lines] == [f"#{on_production}"], "staging's run is not listed"
    assert "on **" not in lines[0], "one environment: the title says where"
    choices = await discord_standin.send_autocomplete("migrate history", {"environment": "st"},
                                                      focused="environment")
    assert [ch["value"] for ch in choices] == ["staging"]


async def test_a_request_on_a_locked_environment_says_the_lock_before_anything_else(
    discord_standin: DiscordStandIn, two: tuple[RunningBot, Engine, Engine]
) -> None:
    _, staging, _ = two
    assert (await run_migrate(staging, MIGRATION, confirmed=True)).ok  # applied on staging
    await policy.set_sticky_lock(staging.journal, staging.key, "load test tonight", "operator2")
    reply, cards = await ask(discord_standin, "migrate run", {"migration": MIGRATION, "environment": "staging"})
    assert "staging is locked by operator2" in reply.text() and "load test tonight" in reply.text(), reply.text()
    assert not cards
    # Control: unlocked, the refusal is the ledger's.
    await policy.release_sticky_lock(staging.journal, staging.key)
    reply, cards = await ask(discord_standin, "migrate run", {"migration": MIGRATION, "environment": "staging"})
    assert "already applied on staging" in reply.text() and "locked" not in reply.text() and not cards
