"""The loopback Discord stand-in, exercised by the real discord.py client.

A small commands.Bot with an app command group, autocomplete, a persistent view and a raw
reaction listener logs in and connects to the stand-in; the tests then act as Discord users
and check what the bot did, as Discord would have seen it.
"""

from __future__ import annotations

import asyncio
import gc
import io
import warnings
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_standin import constants as c
from tests.discord_standin.plugin import discord_pointed_at
from tests.discord_standin.standin import DiscordStandIn

TARGETS = ["staging-eu", "staging-us", "production"]
ROLLBACK_ID = "demo:rollback:run-7"

demo = app_commands.Group(name="demo", description="Stand-in demo commands")


@demo.command(name="ping", description="Answer privately after deferring")
@app_commands.describe(text="what to echo", count="how many times")
async def ping(interaction: discord.Interaction, text: str,
               count: app_commands.Range[int, 1, 5] = 1) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send(f"pong {text} x{count}", ephemeral=True)


@demo.command(name="pick", description="Pick a target")
async def pick(interaction: discord.Interaction, target: str) -> None:
    await interaction.response.send_message(f"picked {target}")


@pick.autocomplete("target")
async def pick_target(interaction: discord.Interaction, current: str
                      ) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=t, value=t) for t in TARGETS if current in t]


@demo.command(name="slow", description="Acknowledge after a delay")
async def slow(interaction: discord.Interaction) -> None:
    bot = interaction.client
    assert isinstance(bot, DemoBot)
    await asyncio.sleep(bot.slow_delay)
    try:
        await interaction.response.defer()
    except discord.NotFound as exc:
        bot.late_errors.append(exc)


@demo.command(name="report", description="Answer, then rework the answer and a followup")
async def report(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("working")
    await interaction.edit_original_response(
        content="done", attachments=[discord.File(io.BytesIO(b"a,b\n1,2\n"), "counts.csv")])
    extra = await interaction.followup.send("extra", wait=True,
                                            file=discord.File(io.BytesIO(b"x"), "x.txt"))
    await extra.edit(content="extra, edited")
    assert (await interaction.original_response()).content == "done"
    await extra.delete()


admin = app_commands.Group(name="admin", description="Nested group", parent=demo)


@admin.command(name="whois", description="Resolve a member and a role option")
async def whois(interaction: discord.Interaction, member: discord.Member,
                role: discord.Role) -> None:
    await interaction.response.send_message(
        f"{member.name} has {role.name}: {role in member.roles}", ephemeral=True)


class RollbackView(discord.ui.View):
    """Persistent: no timeout, explicit custom_id, registered with add_view at start-up."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.clicked_by: list[int] = []

    @discord.ui.button(label="Roll back", style=discord.ButtonStyle.danger, custom_id=ROLLBACK_ID)
    async def rollback(self, interaction: discord.Interaction, button: discord.ui.Button
                       ) -> None:
        self.clicked_by.append(interaction.user.id)
        await interaction.response.edit_message(content="rolled back", view=None)


class DemoBot(commands.Bot):
    def __init__(self) -> None:
        # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before
        # on_ready (default 2 s); the stand-in sends its one guild at once.
        super().__init__(command_prefix=commands.when_mentioned,
                         intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.rollback_view = RollbackView()
        self.raw_reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()
        self.slow_delay = 0.0
        self.late_errors: list[discord.NotFound] = []

    async def setup_hook(self) -> None:
        guild = discord.Object(c.GUILD_ID)
        self.tree.add_command(demo, guild=guild)
        self.add_view(self.rollback_view)
        await self.tree.sync(guild=guild)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.raw_reactions.put_nowait(payload)


async def start_bot(standin: DiscordStandIn) -> tuple[DemoBot, asyncio.Task[None]]:
    bot = DemoBot()
    await bot.login(c.BOT_TOKEN)
    task = asyncio.create_task(bot.connect(reconnect=False))
    await asyncio.wait_for(bot.wait_until_ready(), timeout=5)
    return bot, task


async def stop_bot(bot: DemoBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    await asyncio.wait_for(task, timeout=5)


@pytest.fixture
async def bot(discord_standin: DiscordStandIn) -> AsyncIterator[DemoBot]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        running, task = await start_bot(discord_standin)
        try:
            yield running
        finally:
            await stop_bot(running, task)
            del running
            gc.collect()
    unclosed = [w for w in caught if "Unclosed" in str(w.message)]
    assert not unclosed, unclosed


async def test_login_sync_and_guild_cache(discord_standin: DiscordStandIn,
                                          bot: DemoBot) -> None:
    identify = discord_standin.gateway.identify
    assert identify is not None and identify.token_ok
    assert identify.intents == discord.Intents.default().value
    # discord.py asks for compression but handles uncompressed text frames.
    assert discord_standin.gateway.queries[0]["compress"] in ("zlib-stream", "zstd-stream")
    assert discord_standin.gateway.modes == ["text"]
    routes = [r.route for r in discord_standin.requests]
    assert routes[:3] == ["GET /users/@me", "GET /oauth2/applications/@me",
                          "PUT /applications/{application_id}/guilds/{guild_id}/commands"]
    registered = discord_standin.registered_commands()
    assert registered["demo"]["guild_id"] == str(c.GUILD_ID)
    subcommands = {o["name"] for o in registered["demo"]["options"]}
    assert subcommands == {"ping", "pick", "slow", "report", "admin"}

    assert bot.user is not None and bot.user.id == c.BOT_USER_ID
    guild = bot.get_guild(c.GUILD_ID)
    assert guild is not None and guild.get_channel(c.OPS_CHANNEL_ID) is not None
    assert {r.name for r in guild.roles} >= {"operator", "approver", "other"}
    assert guild.me.guild_permissions.send_messages
    # Without the members intent nobody else is cached: role checks must use the Member that
    # arrives with the interaction or reaction, never guild.get_member().
    assert guild.get_member(c.APPROVER2_ID) is None


async def test_slash_command_defers_then_follows_up_ephemerally(
        discord_standin: DiscordStandIn, bot: DemoBot) -> None:
    rec = await discord_standin.send_slash_command("demo ping", {"text": "hi", "count": 2},
                                                   user_id=c.OPERATOR2_ID)
    await discord_standin.wait_for_ack(rec)
    assert rec.callback_type == 5 and rec.ephemeral
    assert rec.ack_latency is not None and 0 <= rec.ack_latency < 1.0

    reply = await discord_standin.wait_for_response(rec)
    assert reply.content == "pong hi x2" and reply.ephemeral
    # The first followup after a defer replaces the "thinking" message.
    assert rec.followup_ids == [rec.original_id]
    assert reply not in discord_standin.channel_messages()


async def test_channel_message_with_embed_file_edits_and_reactions(
        discord_standin: DiscordStandIn, bot: DemoBot) -> None:
    channel = bot.get_channel(c.OPS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="Backup", description="verifying").add_field(name="rows",
                                                                              value="42")
    sent = await channel.send(embed=embed, file=discord.File(io.BytesIO(b"-- diff\n"), "diff.sql"))

    stored = discord_standin.message(sent.id)
    assert stored.embeds[0]["title"] == "Backup"
    assert [(a.filename, a.data) for a in stored.attachments] == [("diff.sql", b"-- diff\n")]
    assert await sent.attachments[0].read() == b"-- diff\n"

    await sent.edit(embed=embed.copy().set_footer(text="done"))
    await sent.edit(content="finished", attachments=[])
    assert [v.content for v in stored.versions] == ["", "", "finished"]
    assert stored.embeds[0]["footer"]["text"] == "done" and stored.attachments == []
    assert stored.max_edits_within(1.0) == 2

    await sent.add_reaction("✅")
    await sent.add_reaction("❌")
    assert stored.reactions == {"✅": [c.BOT_USER_ID], "❌": [c.BOT_USER_ID]}
    # Discord echoes the bot's own reactions too.
    own = await asyncio.wait_for(bot.raw_reactions.get(), timeout=2)
    assert own.user_id == c.BOT_USER_ID


async def test_injected_reaction_carries_member_roles(discord_standin: DiscordStandIn,
                                                       bot: DemoBot) -> None:
    channel = bot.get_channel(c.OPS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("approve migration run-7?")
    await discord_standin.add_reaction(sent.id, "✅", user_id=c.APPROVER1_ID)

    payload = await asyncio.wait_for(bot.raw_reactions.get(), timeout=2)
    assert (payload.message_id, payload.user_id, str(payload.emoji)) == (
        sent.id, c.APPROVER1_ID, "✅")
    assert payload.member is not None
    assert c.APPROVER_ROLE_ID in [r.id for r in payload.member.roles]


async def test_button_click_reaches_the_persistent_view(discord_standin: DiscordStandIn,
                                                        bot: DemoBot) -> None:
    # A message left by a previous bot process: only add_view can route its button.
    old = discord_standin.seed_message({
        "content": "run-7 migrated",
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 4, "label": "Roll back", "custom_id": ROLLBACK_ID}]}],
    })
    rec = await discord_standin.click_button(old.id, ROLLBACK_ID, user_id=c.OPERATOR1_ID)
    await discord_standin.wait_for_edit(old.id, lambda m: m.content == "rolled back")
    assert bot.rollback_view.clicked_by == [c.OPERATOR1_ID]
    assert rec.callback_type == 7 and old.components == []


async def test_autocomplete_returns_choices(discord_standin: DiscordStandIn,
                                            bot: DemoBot) -> None:
    choices = await discord_standin.send_autocomplete("demo pick", {"target": "stag"},
                                                      focused="target")
    assert [ch["value"] for ch in choices] == ["staging-eu", "staging-us"]

    rec = await discord_standin.send_slash_command("demo pick", {"target": "staging-us"})
    reply = await discord_standin.wait_for_response(rec)
    assert reply.content == "picked staging-us" and not reply.ephemeral
    assert reply in discord_standin.channel_messages()


async def test_late_acknowledgement_is_refused_and_reported(
        discord_standin: DiscordStandIn, bot: DemoBot) -> None:
    discord_standin.ack_deadline = 0.1
    bot.slow_delay = 0.3
    rec = await discord_standin.send_slash_command("demo slow")
    await discord_standin.wait_until(lambda: rec.callbacks, what="the late callback")
    await discord_standin.wait_until(lambda: bot.late_errors, what="discord.py's NotFound")
    assert not rec.acked and "acknowledged after" in discord_standin.issues[0]
    discord_standin.clear_problems()


async def test_gateway_reconnect_resumes_and_zlib_stream(discord_standin: DiscordStandIn,
                                                         bot: DemoBot) -> None:
    discord_standin.gateway.zlib_stream = True  # applies to the next connection
    await discord_standin.request_reconnect()
    await discord_standin.wait_until(lambda: discord_standin.gateway.resumes == 1,
                                     what="a RESUME")
    await discord_standin.wait_until_connected()
    rec = await discord_standin.send_slash_command("demo ping", {"text": "again"})
    assert (await discord_standin.wait_for_response(rec)).content == "pong again x1"
    assert discord_standin.gateway.modes == ["text", "zlib-stream"]


async def test_rest_answers_are_discord_shaped(discord_standin: DiscordStandIn) -> None:
    auth = {"Authorization": f"Bot {c.BOT_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{discord_standin.api_base}/users/@me", headers=auth) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert "X-RateLimit-Remaining" in resp.headers and "X-RateLimit-Bucket" in resp.headers
            assert (await resp.json())["id"] == str(c.BOT_USER_ID)
        async with http.get(f"{discord_standin.api_base}/users/@me") as resp:
            assert resp.status == 401
        async with http.get(f"{discord_standin.api_base}/nowhere", headers=auth) as resp:
            assert resp.status == 404 and (await resp.json()) == {"message": "404: Not Found",
                                                                  "code": 0}
    assert discord_standin.unknown_routes == ["GET /api/v10/nowhere"]
    assert len(discord_standin.rejections) == 1
    discord_standin.clear_problems()


async def test_nothing_leaks_the_token_and_the_spec_holds(discord_standin: DiscordStandIn,
                                                          bot: DemoBot) -> None:
    rec = await discord_standin.send_slash_command("demo ping", {"text": "secret?"})
    await discord_standin.wait_for_response(rec)
    channel = bot.get_channel(c.OPS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    await (await channel.send("hello")).add_reaction("👍")

    assert c.BOT_TOKEN not in discord_standin.dump()
    assert discord_standin.problems() == []
    assert all(r.status < 400 for r in discord_standin.requests), discord_standin.requests


async def test_followup_editing_and_rest_reads(discord_standin: DiscordStandIn,
                                               bot: DemoBot) -> None:
    rec = await discord_standin.send_slash_command("demo report")
    await discord_standin.wait_until(lambda: discord_standin.followups(rec)
                                     and discord_standin.followups(rec)[0].deleted,
                                     what="the followup to be deleted")
    original = discord_standin.original_response(rec)
    assert original is not None and [v.content for v in original.versions] == ["working", "done"]
    assert [(a.filename, a.data) for a in original.attachments] == [("counts.csv", b"a,b\n1,2\n")]
    assert discord_standin.followups(rec)[0].versions[0].attachments[0].filename == "x.txt"
    assert [v.content for v in discord_standin.followups(rec)[0].versions] == [
        "extra", "extra, edited"]

    guild = await bot.fetch_guild(c.GUILD_ID)
    member = await guild.fetch_member(c.APPROVER2_ID)
    assert {r.id for r in member.roles} >= {c.APPROVER_ROLE_ID, c.OPERATOR_ROLE_ID}
    assert {r.id for r in await guild.fetch_roles()} >= {c.OPERATOR_ROLE_ID, c.OTHER_ROLE_ID}
    assert (await bot.fetch_user(c.OUTSIDER_ID)).name == "outsider"
    channel = await bot.fetch_channel(c.OPS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel) and channel.name == c.OPS_CHANNEL_NAME
    commands_ = await bot.tree.fetch_commands(guild=discord.Object(c.GUILD_ID))
    assert [cmd.name for cmd in commands_] == ["demo"]

    sent = await channel.send("to be cleaned up")
    await sent.add_reaction("✅")
    await sent.remove_reaction("✅", discord.Object(c.BOT_USER_ID))
    await sent.add_reaction("❌")
    await sent.clear_reactions()
    history = [m.id async for m in channel.history(limit=2)]
    assert history == [sent.id, original.id]  # newest first
    assert (await channel.fetch_message(sent.id)).reactions == []
    await sent.delete()
    assert discord_standin.message(sent.id).deleted
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)


async def test_discord_rules_and_rate_limit_headers(discord_standin: DiscordStandIn,
                                                   bot: DemoBot) -> None:
    channel = bot.get_channel(c.OPS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x" * 2001)
    assert refused.value.status == 400 and refused.value.code == 50035
    assert len(discord_standin.rejections) == 1
    discord_standin.clear_problems()

    # One edit per 0.3 s: discord.py must wait on X-RateLimit-Remaining: 0, never see a 429.
    route = "PATCH /channels/{channel_id}/messages/{message_id}"
    discord_standin.rate_limits.set(route, 1, 0.3)
    sent = await channel.send("progress 0%")
    await sent.edit(content="progress 50%")
    await sent.edit(content="progress 100%")
    first, second = (r.at for r in discord_standin.requests_for(route))
    assert second - first >= 0.25 and not discord_standin.rate_limits.limited
    assert discord_standin.message(sent.id).max_edits_within(0.2) == 1


async def test_spec_violations_are_recorded(discord_standin: DiscordStandIn) -> None:
    if discord_standin.spec_path is None:
        pytest.skip("set DISCORD_API_SPEC to validate against Discord's OpenAPI spec")
    url = f"{discord_standin.api_base}/channels/{c.OPS_CHANNEL_ID}/messages"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"content": 5, "tts": "yes"},
                             headers={"Authorization": f"Bot {c.BOT_TOKEN}"}) as resp:
            assert resp.status in (200, 400)
    assert discord_standin.violations and "content" in discord_standin.violations[0]
    discord_standin.clear_problems()


async def test_nested_groups_resolve_members_and_roles(discord_standin: DiscordStandIn,
                                                       bot: DemoBot) -> None:
    rec = await discord_standin.send_slash_command(
        "demo admin whois", {"member": c.APPROVER2_ID, "role": c.OPERATOR_ROLE_ID})
    reply = await discord_standin.wait_for_response(rec)
    assert reply.content == "approver2 has operator: True" and reply.ephemeral

    with pytest.raises(ValueError, match="unknown options"):
        await discord_standin.send_slash_command("demo ping", {"txt": "typo"})
    with pytest.raises(ValueError, match="required option 'text'"):
        await discord_standin.send_slash_command("demo ping")
    with pytest.raises(ValueError, match="outside"):
        await discord_standin.send_slash_command("demo ping", {"text": "x", "count": 9})
    with pytest.raises(LookupError, match="not registered"):
        await discord_standin.send_slash_command("migrate run")


async def test_fixture_context_restores_discord_globals() -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    standin = DiscordStandIn()
    await standin.start()
    try:
        with discord_pointed_at(standin):
            assert discord.http.Route.BASE == standin.api_base
            assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == standin.gateway_url
    finally:
        await standin.stop()
    assert (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == before
