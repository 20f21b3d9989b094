"""The health monitor with the real bot, the loopback Discord and a real local HTTP server
whose answers the test controls. Checks are driven directly (no waiting for the scheduler)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cogs.health import JOB_ID, HealthCog
from ops.context import Engine
from ops.reporter import ListReporter, Status
from ops.settings import HealthSettings, Settings
from ops.targets.local import LocalTarget
from tests.bot_harness import RunningBot, button_ids, start_bot
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn


class Notes(ListReporter):
    """A progress reporter standing in for a run's message (hashable, like DiscordReporter)."""

    __hash__ = object.__hash__


class App:
    """The staging app's /health, switchable between healthy, failing and slow."""

    def __init__(self) -> None:
        self.status, self.delay, self.url = 200, 0.0, ""

    async def handle(self, _: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text=json.dumps({"ok": self.status == 200}))


@pytest.fixture
async def app() -> AsyncIterator[App]:
    state = App()
    server = web.Application()
    server.router.add_get("/health", state.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/health"  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


def settings_for(app: App, **kw: Any) -> Settings:
    values = dict(url=app.url, interval_s=60, timeout_s=2, failure_threshold=3,
                  success_threshold=2, reminder_s=1800, watch_s=900)
    values.update(kw)
    return Settings(health=HealthSettings(**values))  # type: ignore[arg-type]


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine, app: App, tmp_path: Path
                  ) -> AsyncIterator[RunningBot]:
    log = tmp_path / "app.log"
    log.write_text("INFO started\nERROR sqlite3.OperationalError: no such column: is_suspended\nINFO tick\n")
    engine.target = LocalTarget(log_file=str(log))
    bot = await start_bot(discord_standin, engine, engine_settings=settings_for(app), alert_role_id=c.OTHER_ROLE_ID)
    yield bot
    await bot.stop()


def cog(running: RunningBot) -> HealthCog:
    found = running.bot.get_cog("health")
    # load_extension imports the module afresh, so compare by name, not by class identity.
    assert found is not None and type(found).__name__ == HealthCog.__name__
    return found  # type: ignore[return-value]


def alerts(standin: DiscordStandIn) -> list[Any]:
    return [m for m in standin.channel_messages() if "Health check failing" in m.text()]


def recoveries(standin: DiscordStandIn) -> list[Any]:
    """Recovery notes: in the thread of their alert (the alert card itself turns to Resolved)."""
    return [m for t in standin.threads() for m in standin.thread_messages(t.id) if "Health check recovered" in m.text()]


async def ticks(running: RunningBot, n: int) -> list[str]:
    kinds = []
    for _ in range(n):
        kinds += [e.kind for e in await cog(running).tick()]
    return kinds


async def test_threshold_one_alert_one_recovery_and_no_flapping_spam(
    discord_standin: DiscordStandIn, running: RunningBot, app: App
) -> None:
    assert await ticks(running, 3) == []
    app.status = 500
    assert await ticks(running, 2) == [] and alerts(discord_standin) == []
    assert await ticks(running, 1) == ["alert"]
    alert = alerts(discord_standin)[0]
    text = alert.text()
    assert "HTTP 500" in text and "Since" in text and "no such column: is_suspended" in text
    assert alert.content == f"<@&{c.OTHER_ROLE_ID}>"
    # Still failing, then flapping: one pass between failures neither recovers nor re-alerts.
    assert await ticks(running, 3) == []
    app.status = 200
    assert await ticks(running, 1) == []
    app.status = 503
    assert await ticks(running, 4) == []
    app.status = 200
    assert await ticks(running, 2) == ["recovered"]
    assert alerts(discord_standin) == [] and len(recoveries(discord_standin)) == 1  # the one alert now resolved
    assert "down for" in recoveries(discord_standin)[0].text()
    assert discord_standin.thread_of(alert.id).id == recoveries(discord_standin)[0].channel_id  # type: ignore[union-attr]
    resolved = discord_standin.message(alert.id)
    assert "Resolved" in resolved.text() and "The app is down" not in resolved.text()
    assert "passes again; it was down for" in resolved.text() and not resolved.components
    assert resolved.content.startswith("✅ Resolved — down for")  # no longer "<@&alert role>"


async def test_a_timeout_is_a_failure(discord_standin: DiscordStandIn, running: RunningBot, app: App) -> None:
    health = cog(running)
    health.monitor.config = replace(health.monitor.config, timeout_s=0.2)  # type: ignore[arg-type]
    app.delay = 1.0
    assert await ticks(running, 3) == ["alert"]
    assert "no answer within 0.2s" in alerts(discord_standin)[0].text()


async def test_alerts_held_during_a_migrate_run_then_resumed(
    discord_standin: DiscordStandIn, running: RunningBot, app: App, engine: Engine
) -> None:
    run_id = await engine.journal.start_run("migrate", "local", "alice (1)", lock=True)
    progress = Notes()
    running.bot.active_reporters.add(progress)
    app.status = 502
    assert await ticks(running, 4) == ["held", "held"]
    assert alerts(discord_standin) == []
    notes = [e for e in progress.events if e.name == "app health"]
    assert notes and notes[0].status == Status.WARNING and "alerts held: migrate run" in notes[0].detail
    running.bot.active_reporters.discard(progress)
    await engine.journal.finish_run(run_id, "succeeded", {"committed": True})
    assert await ticks(running, 1) == ["alert"]
    alert = alerts(discord_standin)[0]
    # Inside the watch window after a migrate run that changed the database: Rollback is right there.
    assert f"opsbot:rollback:{run_id}" in button_ids(alert) and "Run #" in alert.text()
    # An alert you can own (issue 13): Acknowledge and Silence first, then the emergency buttons.
    assert [i.split(":")[1] for i in button_ids(alert)] == [
        "ack", "silence", "silence", "rollback", "estop", "verify", "logs"]
    assert "Emergency steps" in alert.text()


async def test_pause_and_resume(discord_standin: DiscordStandIn, running: RunningBot, app: App) -> None:
    rec = await discord_standin.send_slash_command("health pause", {"minutes": 30}, user_id=c.OPERATOR1_ID)
    await discord_standin.wait_for_followup(rec)
    assert any("Health alerts paused" in m.text() for m in discord_standin.channel_messages())
    app.status = 500
    assert await ticks(running, 3) == ["held"]
    refused = await discord_standin.send_slash_command("health resume", {}, user_id=c.OUTSIDER_ID)
    assert "role" in (await discord_standin.wait_for_followup(refused)).text()
    rec = await discord_standin.send_slash_command("health resume", {}, user_id=c.OPERATOR1_ID)
    await discord_standin.wait_for_followup(rec)
    assert any("Health alerts resumed" in m.text() for m in discord_standin.channel_messages())
    assert await ticks(running, 1) == ["alert"]


async def test_restart_keeps_the_open_incident(
    discord_standin: DiscordStandIn, engine: Engine, app: App
) -> None:
    first = await start_bot(discord_standin, engine, engine_settings=settings_for(app))
    app.status = 500
    try:
        assert await ticks(first, 3) == ["alert"]
    finally:
        await first.stop()
    second = await start_bot(discord_standin, engine, engine_settings=settings_for(app))
    try:
        assert await ticks(second, 3) == [], "an open incident must not be alerted again after a restart"
        app.status = 200
        assert await ticks(second, 2) == ["recovered"]
        resolved = [m for m in discord_standin.channel_messages() if "Resolved (incident #1)" in m.text()]
        assert len(resolved) == 1 and alerts(discord_standin) == []
    finally:
        await second.stop()


async def test_reminders_while_down(discord_standin: DiscordStandIn, running: RunningBot, app: App) -> None:
    health = cog(running)
    app.status = 500
    await ticks(running, 3)
    later = time.time() + health.config.reminder_s + 1
    events = await health.monitor.tick(now=later)
    assert [e.kind for e in events] == ["reminder"]
    await health.announce(events[0])
    # One alert card in the channel; the reminder pings the role again in its thread.
    [alert] = alerts(discord_standin)
    thread = discord_standin.thread_of(alert.id)
    assert thread is not None
    [reminder] = discord_standin.thread_messages(thread.id)
    assert reminder.content.startswith(f"<@&{c.OTHER_ROLE_ID}> ⏰ Still down (incident #1)"), reminder.content
    allowed = reminder.extra["allowed_mentions"]  # the role may be notified, and only it
    assert [int(r) for r in allowed["roles"]] == [c.OTHER_ROLE_ID] and not allowed.get("parse")
    assert [e.kind for e in await health.monitor.tick(now=later + 5)] == []


async def test_health_commands_and_schedule(discord_standin: DiscordStandIn, running: RunningBot, app: App) -> None:
    job = running.bot.scheduler.get_job(JOB_ID)
    assert job is not None and job.trigger.interval.total_seconds() == 60
    rec = await discord_standin.send_slash_command("health check", {}, user_id=c.OUTSIDER_ID)
    reply = await discord_standin.wait_for_followup(rec)
    assert "passing" in reply.text() and reply.ephemeral
    app.status = 500
    await ticks(running, 3)
    rec = await discord_standin.send_slash_command("health status", {}, user_id=c.OUTSIDER_ID)
    text = (await discord_standin.wait_for_followup(rec)).text()
    assert "incident #1 open" in text and "❌" in text
    checks = await cog(running).monitor.recent_checks(3)
    assert json.dumps([ch.kind for ch in checks]) == '["status", "status", "status"]'


async def test_scheduler_shuts_down_with_the_bot(discord_standin: DiscordStandIn, engine: Engine, app: App) -> None:
    bot = await start_bot(discord_standin, engine, engine_settings=settings_for(app))
    assert bot.bot.scheduler.running
    await bot.stop()
    assert not bot.bot.scheduler.running


async def test_check_history_is_bounded(engine: Engine, app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import ops.monitor as monitor_module
    from ops.monitor import HealthMonitor, MonitorConfig

    monkeypatch.setattr(monitor_module, "KEEP_CHECKS", 5)
    monitor = HealthMonitor(engine.journal, MonitorConfig(url=app.url), "local")
    for _ in range(12):
        await monitor.check()
    assert len(await monitor.recent_checks(100)) == 5


async def test_a_password_in_the_health_url_is_never_posted(
    discord_standin: DiscordStandIn, engine: Engine, app: App
) -> None:
    """Basic auth in HEALTH_URL: the alert names the URL without its credentials."""
    secret = "s3cret-health-pass"
    url = app.url.replace("http://", f"http://opsbot:{secret}@")
    bot = await start_bot(discord_standin, engine, engine_settings=settings_for(app, url=url))
    try:
        app.status = 500
        assert await ticks(bot, 3) == ["alert"]
        text = alerts(discord_standin)[0].text()
        assert app.url in text, "the URL is shown, without its user:password"
        assert secret not in text and "opsbot:" not in text
        app.status = 200
        assert await ticks(bot, 2) == ["recovered"]
        assert not [m for m in discord_standin.channel_messages() if secret in m.text()]
    finally:
        await bot.stop()


async def test_an_approved_migration_checks_the_apps_health_from_the_bots_settings(
    discord_standin: DiscordStandIn, running: RunningBot, app: App
) -> None:
    """HEALTH_URL reaches the post-migration check through the settings the bot was started with:
    a failing app shows on the run's card and leaves the checklist's automatic half unticked."""
    from tests.test_bot_e2e import request

    app.status = 503
    _, message = await request(discord_standin)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    done = await discord_standin.wait_for_message(
        lambda m: "(request #" in m.text() and "app health" in m.text() and bool(button_ids(m)), where="any",
        timeout=60)
    assert "❌ **app health**" in done.text() and "503" in done.text()
    # Applied, but the app is unhealthy: never a green ✅ for that (bot.states).
    assert done.text().startswith("⚠ Applied, but the app is unhealthy: migrate 0001_remove_suspend.sql")
    assert done.embeds[0]["color"] == 0xE67E22  # orange
    assert "☒ After: app healthy (health check)" in done.text()  # tick(False): the check ran and failed


async def test_scheduled_checks_do_not_fill_the_bots_log(caplog: pytest.LogCaptureFixture) -> None:
    """Quiet logs: the bot's logging leaves out APScheduler's two INFO lines per run of a job."""
    import logging

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.__main__ import configure_logging

    before = logging.getLogger("apscheduler.executors").level
    configure_logging(logging.INFO)
    try:
        ran = asyncio.Event()
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(ran.set, "date")
        with caplog.at_level(logging.INFO):
            scheduler.start()
            await asyncio.wait_for(ran.wait(), 5)
            await asyncio.sleep(0)
            scheduler.shutdown(wait=False)
            assert logging.getLogger("cogs.health").isEnabledFor(logging.INFO)  # our own INFO lines stay
        noisy = [r for r in caplog.records if r.name.startswith("apscheduler.executors")]
        assert noisy == [], [r.getMessage() for r in noisy]
    finally:
        logging.getLogger("apscheduler.executors").setLevel(before)


async def test_an_alert_can_be_acknowledged_and_silenced(
    discord_standin: DiscordStandIn, running: RunningBot, app: App
) -> None:
    """Acknowledge says who is on it and stops reminders; Silence holds alerts until a set end, and
    the end is announced when it comes."""
    app.status = 500
    assert await ticks(running, 3) == ["alert"]
    alert = alerts(discord_standin)[0]
    ids = button_ids(alert)
    assert ids[:3] == ["opsbot:ack:1", "opsbot:silence:1:30", "opsbot:silence:1:120"]
    refused = await discord_standin.click_button(alert.id, ids[0], user_id=c.OUTSIDER_ID)
    assert "role to acknowledge" in (await discord_standin.wait_for_response(refused)).text()
    await discord_standin.click_button(alert.id, ids[0], user_id=c.OPERATOR1_ID)
    owned = await discord_standin.wait_for_edit(alert.id, lambda m: "is on it" in m.text(), timeout=30)
    assert "👀 **operator1** is on it" in owned.text() and "reminders stop" in owned.text()
    monitor = cog(running).monitor
    # Past the reminder interval, an acknowledged incident sends no reminder.
    events = await monitor.tick(now=time.time() + 2 * monitor.config.reminder_s)
    assert [e.kind for e in events] == []
    await discord_standin.click_button(alert.id, ids[1], user_id=c.OPERATOR1_ID)
    # The silence and its end are noted in the alert's thread, not as new cards in the channel.
    silenced = await discord_standin.wait_for_message(lambda m: "Health alerts silenced by" in m.text(),
                                                      where="threads", timeout=30)
    assert silenced.channel_id == discord_standin.thread_of(alert.id).id  # type: ignore[union-attr]
    assert "(incident #1)" in silenced.text()
    pause = await monitor.active_pause()
    assert pause is not None and pause.by == "operator1" and 29 * 60 < pause.until - time.time() <= 30 * 60
    # When the silence runs out, the next check says so, once.
    after = await monitor.tick(now=pause.until + 1)
    assert [e.kind for e in after][:1] == ["silence_ended"]
    for event in after:
        await cog(running).announce(event)
    back = await discord_standin.wait_for_message(lambda m: "Health alerts are on again" in m.text(),
                                                  where="threads", timeout=30)
    assert "the silence operator1 set ended" in back.text() and back.channel_id == silenced.channel_id
    assert [m.id for m in discord_standin.channel_messages()] == [alert.id]
    assert [e.kind for e in await monitor.tick(now=pause.until + 2)][:1] != ["silence_ended"]
