"""/health and the scheduled health monitor: alerts in the ops channel when the app is down.

The monitor's decisions live in ops.monitor; this cog schedules it (APScheduler, started in
the bot's setup_hook) and turns its events into messages.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OpsBot, environment_choices, require_role
from bot.render import simple_embed
from bot.threads import thread_for
from bot.views import EMERGENCY_STEPS, alert_view
from ops.appinfo import run_logs
from ops.context import Engine
from ops.errors import OpsError
from ops.health import HealthResult, check_health
from ops.monitor import HealthMonitor, MonitorConfig, MonitorEvent
from ops.redact import shown_url
from ops.reporter import Status

log = logging.getLogger(__name__)
JOB_ID = "health-check"
ENV_HELP = "which environment (default: the first in opsbot.toml)"
RECENT_RUN = "A migration ran recently"
EMERGENCY = "Emergency steps (runbook)"
WHILE_DOWN = (RECENT_RUN, EMERGENCY)  # an alert's advice for while the app is down


def describe(result: HealthResult) -> str:
    latency = f" in {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
    return f"{'✅ passing' if result.ok else '❌ ' + result.error}{latency}"


def ago(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else (f"{minutes}m {secs}s" if minutes else f"{secs}s")


@dataclass(frozen=True)
class Watch:
    """One environment's health: its engine, its settings and its monitor."""

    engine: Engine
    config: MonitorConfig
    monitor: HealthMonitor

    @property
    def job_id(self) -> str:
        return f"{JOB_ID}:{self.engine.env}" if self.engine.env else JOB_ID

    @property
    def on(self) -> str:
        return f" on {self.engine.env}" if self.engine.env else ""


def watch_for(engine: Engine) -> Watch:
    h = engine.settings.health
    config = MonitorConfig(url=h.url, interval_s=h.interval_s, timeout_s=h.timeout_s, expect=h.expect,
                           failure_threshold=h.failure_threshold, success_threshold=h.success_threshold,
                           reminder_s=h.reminder_s, watch_s=h.watch_s)
    return Watch(engine, config, HealthMonitor(engine.journal, config, engine.key, engine.env))


class HealthCog(commands.GroupCog, name="health", group_name="health", group_description="The app's health check"):
    def __init__(self, bot: OpsBot) -> None:
        self.bot = bot
        # One monitor per environment (opsbot.toml), each with its own URL, checks and incidents.
        self.watches = {env: watch_for(engine) for env, engine in bot.engines.items()}
        self.default = self.watches[bot.engine.env]

    @property
    def config(self) -> MonitorConfig:
        return self.default.config

    @property
    def monitor(self) -> HealthMonitor:
        return self.default.monitor

    def watch(self, environment: str | None) -> Watch:
        return self.watches[self.bot.engine_for(environment).env]

    async def cog_load(self) -> None:
        self.bot.run_actions.update({"ack": self.ack_button, "silence": self.silence_button})
        for w in self.watches.values():
            if w.config.url:
                self.bot.scheduler.add_job(self.tick, "interval", args=(w,), seconds=w.config.interval_s,
                                           id=w.job_id, max_instances=1, coalesce=True, replace_existing=True)
            else:
                log.warning("HEALTH_URL is not set%s: the health monitor is off", w.on)

    async def cog_unload(self) -> None:
        for action in ("ack", "silence"):
            self.bot.run_actions.pop(action, None)
        for w in self.watches.values():
            if self.bot.scheduler.get_job(w.job_id):
                self.bot.scheduler.remove_job(w.job_id)

    async def watch_of_incident(self, incident_id: int) -> Watch:
        env = await self.bot.engine.journal.incident_env(incident_id)
        return self.watches.get(env or "", self.default)

    # --- the scheduled check --------------------------------------------------------------

    async def tick(self, watch: Watch | None = None) -> list[MonitorEvent]:
        w = watch or self.default
        try:
            events = await w.monitor.tick()
            for event in events:
                await self.announce(event, w)
            return events
        except Exception:  # a failing check job must never kill the scheduler
            log.exception("health check job failed")
            return []

    async def announce(self, event: MonitorEvent, watch: Watch | None = None) -> None:
        w = watch or self.default
        if event.kind == "held":
            for reporter in list(self.bot.active_reporters):
                reporter.step("app health", Status.WARNING, f"{describe(event.result)} (expected during the run; "
                                                            f"alerts held: {event.held_because})")
            return
        if event.kind == "resolved_unalerted":
            return
        if event.kind == "silence_ended" and event.pause is not None:
            await (await self.alert_place(w)).send(
                f"🔔 Health alerts{w.on} are on again: the silence {event.pause.by} set ended "
                f"<t:{int(event.pause.until)}:t>.",
                allowed_mentions=discord.AllowedMentions.none())
            return
        channel = await self.bot.ops_channel(w.engine)
        if event.kind == "recovered":
            await self.announce_recovery(channel, event, w)
            return
        await self.announce_alert(channel, event, w)

    async def alert_place(self, w: Watch) -> discord.abc.Messageable:
        """Where a note about alerts goes: the open incident's thread when its alert is posted, else
        the ops channel."""
        inc = await w.monitor.open_incident()
        if inc is not None and inc.channel_id and inc.message_id:
            return await thread_for(self.bot, inc.channel_id, inc.message_id, f"incident #{inc.id}")
        return await self.bot.ops_channel(w.engine)

    async def announce_alert(self, channel: discord.abc.Messageable, event: MonitorEvent, w: Watch) -> None:
        inc, result = event.incident, event.result
        reminder = event.kind == "reminder"
        lines = [f"**{'Still down' if reminder else 'The app is down'}**{w.on}: `{shown_url(w.config.url)}`",
                 f"What failed: {result.error}" + (f" (HTTP {result.status})" if result.status and
                                                   str(result.status) not in result.error else ""),
                 f"Since <t:{int(inc.started_at)}:T> ({ago(time.time() - inc.started_at)}); "
                 f"latency {result.latency_ms if result.latency_ms is not None else '—'} ms"]
        fields = {}
        logs = await self.error_lines(w.engine)
        if logs:
            fields["Last error lines from the app's logs"] = "```\n" + "\n".join(logs)[-950:] + "\n```"
        rollback_label = ""
        if inc.watch_run_id:
            journal, target = w.engine.journal, w.engine.key
            run, backup = await journal.run(inc.watch_run_id), await journal.backup_for_run(target, inc.watch_run_id)
            migration = run.migration if run and run.migration else f"run #{inc.watch_run_id}"
            restores = f" Rollback restores **{backup.path.rsplit('/', 1)[-1]}**." if backup else ""
            fields[RECENT_RUN] = (f"Run #{inc.watch_run_id} (**{migration}**) changed the database "
                                                  f"within the last {ago(w.config.watch_s)}: if it caused this, "
                                                  f"roll it back.{restores}")
            rollback_label = f"Roll back {migration}"
        if inc.acked_by:
            lines.insert(0, f"👀 **{inc.acked_by}** is on it (acknowledged <t:{int(inc.acked_at or 0)}:R>).")
        role = self.bot.settings.discord.alert_role_id
        mentions = discord.AllowedMentions(everyone=False, users=False, replied_user=False,
                                           roles=[discord.Object(role)] if role else False)
        if reminder and inc.channel_id and inc.message_id:
            # The alert card stays the incident's one card in the channel; a reminder pings the role
            # again in its thread (a mention in a thread notifies too) and points at the card's buttons.
            thread = await thread_for(self.bot, inc.channel_id, inc.message_id, f"incident #{inc.id}")
            await thread.send(content=(f"<@&{role}> " if role else "") + f"⏰ Still down (incident #{inc.id}): "
                              f"{result.error}; since <t:{int(inc.started_at)}:R>. Acknowledge, Silence or "
                              "Rollback are on the alert.", allowed_mentions=mentions)
            return
        view = alert_view(inc.id, rollback_run=inc.watch_run_id, rollback_label=rollback_label)
        if inc.watch_run_id:
            fields[EMERGENCY] = "\n".join(EMERGENCY_STEPS)
        message = await channel.send(
            content=f"<@&{role}>" if role else None,
            embed=simple_embed(f"🚨 Health check failing{w.on} (incident #{inc.id})", lines, ok=False,
                               fields=fields),
            allowed_mentions=mentions, view=view)
        if not reminder:
            await w.monitor.set_message(inc.id, message.channel.id, message.id)

    async def announce_recovery(self, channel: discord.abc.Messageable, event: MonitorEvent, w: Watch) -> None:
        inc = event.incident
        text = (f"✅ Recovered{w.on}: `{shown_url(w.config.url)}` passes again ({describe(event.result)}); "
                f"down for {ago(inc.duration_s)}.")
        # Into the alert's thread: the alert card itself turns to Resolved below.
        place = (await thread_for(self.bot, inc.channel_id, inc.message_id, f"incident #{inc.id}")
                 if inc.channel_id and inc.message_id else channel)
        await place.send(embed=simple_embed(f"Health check recovered (incident #{inc.id})", [text]))
        if inc.channel_id and inc.message_id:
            try:
                message = await self.bot.get_partial_messageable(inc.channel_id).fetch_message(inc.message_id)
                embed = message.embeds[0]
                embed.title = f"✅ Resolved (incident #{inc.id}): down for {ago(inc.duration_s)}"
                embed.colour = discord.Colour.green()
                # The body said "The app is down": it now says what is true, and the buttons go.
                embed.description = (f"**Resolved** <t:{int(time.time())}:f>: `{shown_url(w.config.url)}` "
                                     f"passes again; it was down for {ago(inc.duration_s)}.")
                # What to do while it was down (roll back, the emergency steps) no longer applies.
                kept = [f for f in embed.fields if f.name not in WHILE_DOWN]
                embed.clear_fields()
                for f in kept:
                    embed.add_field(name=f.name, value=f.value, inline=f.inline)
                # Its text pinged the alert role; an edit notifies no one, so it says the state in words.
                said = {"content": f"✅ Resolved — down for {ago(inc.duration_s)}"} if message.content else {}
                await message.edit(embed=embed, view=None, allowed_mentions=discord.AllowedMentions.none(), **said)
            except discord.HTTPException as exc:
                log.warning("could not mark the alert of incident #%s resolved: %s", inc.id, exc)

    async def error_lines(self, engine: Engine) -> list[str]:
        try:
            logs = await run_logs(engine, lines=50)
        except OpsError as exc:
            return [f"(logs unavailable: {exc.message})"]
        return [logs.lines[i][:200] for i in logs.errors][-5:]

    # --- commands -------------------------------------------------------------------------

    @app_commands.command(name="check", description="Check the app's health now")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def check_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        w = self.watch(environment)
        if not w.config.url:
            raise OpsError(f"no health URL is configured{w.on}",
                           hint="Set HEALTH_URL (or health_url in opsbot.toml) and restart the bot.")
        result = await check_health(w.config.url, timeout=w.config.timeout_s, expect=w.config.expect)
        await interaction.followup.send(embed=simple_embed(
            f"Health check{w.on}", [f"`{result.url}`: {describe(result)} (attempt {result.attempts})",
                                    f"```\n{result.body[:300]}\n```" if result.body else ""], ok=result.ok),
            ephemeral=True)

    @app_commands.command(name="status", description="Monitor state, recent checks and incidents")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def status_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        w = self.watch(environment)
        checks = await w.monitor.recent_checks(10)
        incidents = await w.monitor.incidents(5)
        pause = await w.monitor.active_pause()
        open_inc = next((i for i in incidents if i.resolved_at is None), None)
        state = f"🚨 incident #{open_inc.id} open since <t:{int(open_inc.started_at)}:R>" if open_inc else \
            "✅ no open incident"
        alerts = f"paused by {pause.by} until <t:{int(pause.until)}:t>" if pause else "on"
        lines = [f"**URL** `{shown_url(w.config.url) or 'not set: monitor off'}` every {w.config.interval_s}s",
                 f"**State** {state}", f"**Alerts** {alerts}",
                 "**Last checks** " + (" ".join("✅" if c.ok else "❌" for c in reversed(checks)) or "none yet")]
        for inc in incidents:
            state = f"resolved after {ago(inc.duration_s)}" if inc.resolved_at else "open"
            lines.append(f"#{inc.id} <t:{int(inc.started_at)}:f> {inc.kind}: {inc.error[:80]} — {state}")
        await interaction.followup.send(embed=simple_embed(f"Health{w.on}", lines, ok=open_inc is None),
                                        ephemeral=True)

    @app_commands.command(name="pause", description="Hold health alerts for planned maintenance")
    @app_commands.describe(minutes="how long (default 60)", environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def pause_cmd(self, interaction: discord.Interaction,
                        minutes: app_commands.Range[int, 1, 1440] = 60, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need_operator(interaction)
        w = self.watch(environment)
        until = await w.monitor.pause(interaction.user.name, minutes)
        await (await self.bot.ops_channel(w.engine)).send(
            f"⏸️ Health alerts{w.on} paused by {interaction.user.mention} until <t:{int(until)}:t> (planned "
            "maintenance). `/health resume` ends the pause early.", allowed_mentions=discord.AllowedMentions.none())
        await interaction.followup.send(f"Alerts paused for {minutes} min.", ephemeral=True)

    @app_commands.command(name="resume", description="Resume health alerts")
    @app_commands.describe(environment=ENV_HELP)
    @app_commands.autocomplete(environment=environment_choices)
    async def resume_cmd(self, interaction: discord.Interaction, environment: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.need_operator(interaction)
        w = self.watch(environment)
        ended = await w.monitor.resume()
        if ended:
            await (await self.bot.ops_channel(w.engine)).send(
                f"▶️ Health alerts{w.on} resumed by {interaction.user.mention}.",
                allowed_mentions=discord.AllowedMentions.none())
        await interaction.followup.send("Alerts resumed." if ended else "Alerts were not paused.", ephemeral=True)

    # --- owning an alert --------------------------------------------------------------------

    async def ack_button(self, interaction: discord.Interaction, incident_id: int, _: int | None) -> None:
        require_role(interaction, self.bot.settings.discord.operator_role_id, "acknowledge an alert")
        w = await self.watch_of_incident(incident_id)
        inc = await w.monitor.acknowledge(incident_id, interaction.user.name)
        if inc is None:
            await interaction.response.send_message("That incident is already acknowledged or resolved.",
                                                    ephemeral=True)
            return
        message = interaction.message
        embed = message.embeds[0] if message and message.embeds else None
        if embed is not None:
            since = f"<t:{int(inc.acked_at or 0)}:R>"
            embed.description = (f"👀 **{interaction.user.name}** is on it (acknowledged {since}); reminders stop."
                                 f"\n{embed.description or ''}")[:4000]
        await interaction.response.edit_message(embed=embed)

    async def silence_button(self, interaction: discord.Interaction, incident_id: int, minutes: int | None) -> None:
        require_role(interaction, self.bot.settings.discord.operator_role_id, "silence alerts")
        minutes = minutes or 30
        w = await self.watch_of_incident(incident_id)
        until = await w.monitor.pause(interaction.user.name, minutes)
        message = interaction.message  # the alert: its thread holds the incident's notes
        place = (await thread_for(self.bot, message.channel.id, message.id, f"incident #{incident_id}")
                 if message is not None else await self.bot.ops_channel(w.engine))
        await place.send(
            f"🔕 Health alerts{w.on} silenced by {interaction.user.mention} until <t:{int(until)}:t> "
            f"(incident #{incident_id}). They come back on by themselves then; `/health resume` ends the "
            "silence early.",
            allowed_mentions=discord.AllowedMentions.none())
        await interaction.response.send_message(f"Alerts silenced for {ago(minutes * 60)}.", ephemeral=True)

    def need_operator(self, interaction: discord.Interaction) -> None:
        require_role(interaction, self.bot.settings.discord.operator_role_id, "pause or resume alerts")


async def setup(bot: OpsBot) -> None:
    await bot.add_cog(HealthCog(bot))
