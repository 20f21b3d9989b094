"""Threads in the loopback Discord, driven by the real discord.py client.

A thread is started from a message, posted in, edited, reacted in, archived and unarchived;
its events reach the client; Discord's refusals (a second thread on one message, missing
thread permissions, archived and locked threads) come back as discord.py's exceptions. With
DISCORD_API_SPEC set every request and every answer is checked against Discord's OpenAPI spec
by the fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest

from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn


class ThreadBot(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.created: asyncio.Queue[discord.Thread] = asyncio.Queue()
        self.updated: asyncio.Queue[tuple[discord.Thread, discord.Thread]] = asyncio.Queue()

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.created.put_nowait(thread)

    async def on_thread_update(self, before: discord.Thread, after: discord.Thread) -> None:
        self.updated.put_nowait((before, after))


@contextlib.asynccontextmanager
async def connected() -> AsyncIterator[ThreadBot]:
    client = ThreadBot()
    await client.login(c.BOT_TOKEN)
    task = asyncio.create_task(client.connect(reconnect=False))
    await asyncio.wait_for(client.wait_until_ready(), timeout=5)
    try:
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, timeout=5)


@pytest.fixture
async def bot(discord_standin: DiscordStandIn) -> AsyncIterator[ThreadBot]:
    async with connected() as client:
        yield client


def expect_refusals(standin: DiscordStandIn, count: int) -> None:
    """Exactly `count` requests were refused by a Discord rule, and nothing else went wrong
    (no spec violation in a request or in the stand-in's answers); then forget them."""
    problems = standin.problems()
    assert len(problems) == count, problems
    assert all(p.startswith("rejected by Discord rules") for p in problems), problems
    standin.clear_problems()


def ops(bot: ThreadBot) -> discord.TextChannel:
    channel = bot.get_channel(c.OPS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def bot_permissions(bot: ThreadBot, channel_id: int = c.OPS_CHANNEL_ID) -> discord.Permissions:
    """What `bot check` reads: the channel, its overwrites, the bot's member and the roles."""
    guild = await bot.fetch_guild(c.GUILD_ID)
    channel = await guild.fetch_channel(channel_id)
    member = await guild.fetch_member(c.BOT_USER_ID)
    return channel.permissions_for(member)


async def test_thread_from_a_message_post_edit_react_and_archive(
        discord_standin: DiscordStandIn, bot: ThreadBot) -> None:
    card = await ops(bot).send("Run 0001: running")
    thread = await card.create_thread(name="Run 0001", auto_archive_duration=1440)

    # As Discord does: the thread has the message's id and the bot as owner and member.
    assert (thread.id, thread.parent_id, thread.owner_id) == (card.id, c.OPS_CHANNEL_ID,
                                                               c.BOT_USER_ID)
    assert thread.type is discord.ChannelType.public_thread and thread.me is not None
    assert (thread.name, thread.archived, thread.locked, thread.auto_archive_duration) == (
        "Run 0001", False, False, 1440)
    created = await asyncio.wait_for(bot.created.get(), timeout=2)
    assert created.id == thread.id and bot.get_channel(thread.id) is not None
    stored = discord_standin.thread_of(card.id)
    assert stored is not None and discord_standin.threads() == [stored]
    assert (stored.starter_message_id, stored.name, stored.archived, stored.locked) == (
        card.id, "Run 0001", False, False)

    # The starter message now shows its thread and the HAS_THREAD flag.
    starter = await ops(bot).fetch_message(card.id)
    assert starter.flags.has_thread and starter.thread is not None
    assert starter.thread.id == thread.id

    step = await thread.send("step 1: backup")
    await step.edit(content="step 1: backup ✔")
    await step.add_reaction("✅")
    assert step.channel.id == thread.id
    found = await discord_standin.wait_for_message(lambda m: "backup" in m.text(), where="threads")
    assert found.id == step.id and found.reactions == {"✅": [c.BOT_USER_ID]}
    await discord_standin.wait_for_edit(step.id, lambda m: "✔" in m.content, where="threads")
    assert discord_standin.thread_messages(thread.id) == [found]
    assert discord_standin.channel_messages() == [discord_standin.message(card.id)]
    with pytest.raises(AssertionError, match="not where='channel'"):
        await discord_standin.wait_for_edit(step.id, where="channel", timeout=0.2)

    # The thread's history starts with Discord's THREAD_STARTER_MESSAGE pointing at the card.
    history = [m async for m in thread.history(limit=10)]
    assert [m.id for m in history][:1] == [step.id]
    first = history[-1]
    assert first.type is discord.MessageType.thread_starter_message
    assert first.reference is not None and first.reference.message_id == card.id
    fetched = await bot.fetch_channel(thread.id)
    assert isinstance(fetched, discord.Thread)
    assert (fetched.message_count, fetched.total_message_sent, fetched.member_count) == (1, 1, 1)

    archived = await thread.edit(archived=True)
    assert archived.archived and stored.archived
    before, after = await asyncio.wait_for(bot.updated.get(), timeout=2)
    assert (before.archived, after.archived) == (False, True)

    # A post unarchives an archived thread that is not locked.
    again = await thread.send("step 2: migrate")
    assert not stored.archived
    assert [(u.changes, u.by) for u in stored.updates] == [
        ({"archived": True}, c.BOT_USER_ID), ({"archived": False}, c.BOT_USER_ID)]
    assert [m.id for m in discord_standin.thread_messages(thread.id)] == [step.id, again.id]
    assert discord_standin.problems() == []


async def test_a_second_thread_on_one_message_is_refused(discord_standin: DiscordStandIn,
                                                          bot: ThreadBot) -> None:
    card = await ops(bot).send("Run 0002")
    thread = await card.create_thread(name="Run 0002")
    with pytest.raises(discord.HTTPException) as refused:
        await card.create_thread(name="Run 0002 again")
    assert (refused.value.status, refused.value.code) == (400, 160004)
    assert "already been created" in refused.value.text
    assert [t.name for t in discord_standin.threads()] == ["Run 0002"]

    # A message inside a thread cannot start one.
    inner = await thread.send("inside")
    with pytest.raises(discord.HTTPException) as nested:
        await inner.create_thread(name="nested")
    assert nested.value.code == 50024
    expect_refusals(discord_standin, 2)


async def test_missing_thread_permissions_answer_403(discord_standin: DiscordStandIn,
                                                      bot: ThreadBot) -> None:
    # Control: with the default permissions the same calls succeed.
    granted = await bot_permissions(bot)
    assert granted.create_public_threads and granted.send_messages_in_threads
    first = await ops(bot).send("Run 0003")
    thread = await first.create_thread(name="Run 0003")
    await thread.send("allowed")

    await discord_standin.deny_threads()
    denied = await bot_permissions(bot)
    assert not denied.create_public_threads and not denied.send_messages_in_threads
    assert denied.send_messages  # the rest is untouched
    second = await ops(bot).send("Run 0004")
    with pytest.raises(discord.Forbidden) as refused:
        await second.create_thread(name="Run 0004")
    assert (refused.value.status, refused.value.code, refused.value.text) == (
        403, 50013, "Missing Permissions")
    with pytest.raises(discord.Forbidden):
        await thread.send("no longer allowed")
    assert discord_standin.thread_of(second.id) is None
    assert [m.content for m in discord_standin.thread_messages(thread.id)] == ["allowed"]
    expect_refusals(discord_standin, 2)


async def test_channel_overwrite_denies_threads_in_that_channel_only(
        discord_standin: DiscordStandIn, bot: ThreadBot) -> None:
    await discord_standin.deny_threads(channel_id=c.OPS_CHANNEL_ID)
    raw = await bot.http.get_channel(c.OPS_CHANNEL_ID)
    assert raw["permission_overwrites"] == [{  # type: ignore[typeddict-item]
        "id": str(c.BOT_ROLE_ID), "type": 0, "allow": "0", "deny": str(c.THREAD_PERMISSIONS)}]
    assert not (await bot_permissions(bot)).create_public_threads
    assert (await bot_permissions(bot, c.OTHER_CHANNEL_ID)).create_public_threads
    with pytest.raises(discord.Forbidden):
        await (await ops(bot).send("Run 0005")).create_thread(name="Run 0005")
    other = bot.get_channel(c.OTHER_CHANNEL_ID)
    assert isinstance(other, discord.TextChannel)
    await (await other.send("fine here")).create_thread(name="elsewhere")
    assert [t.parent_id for t in discord_standin.threads(c.OTHER_CHANNEL_ID)] == [
        c.OTHER_CHANNEL_ID]
    expect_refusals(discord_standin, 1)


async def test_archived_and_locked_threads(discord_standin: DiscordStandIn,
                                           bot: ThreadBot) -> None:
    card = await ops(bot).send("Run 0006")
    thread = await card.create_thread(name="Run 0006")
    step = await thread.send("step 1")

    # Archived: no edits or reactions; a rename must unarchive in the same request.
    await discord_standin.archive_thread(thread.id)  # Discord's auto-archive
    for refused_call in (step.edit(content="late"), step.add_reaction("✅"),
                         thread.edit(name="renamed")):
        with pytest.raises(discord.HTTPException) as refused:
            await refused_call
        assert (refused.value.status, refused.value.code) == (400, 50083)
    renamed = await thread.edit(archived=False, name="Run 0006 ✅")
    assert (renamed.name, renamed.archived) == ("Run 0006 ✅", False)
    notice = discord_standin.thread_messages(thread.id, notices=True)[-1]
    assert (notice.type, notice.content) == (c.CHANNEL_NAME_CHANGE, "Run 0006 ✅")
    assert discord_standin.thread_messages(thread.id) == [discord_standin.message(step.id)]

    # Locking needs MANAGE_THREADS, which the bot does not have.
    with pytest.raises(discord.Forbidden):
        await thread.edit(locked=True)
    # Locked by a moderator: the bot may neither post nor unarchive.
    await discord_standin.lock_thread(thread.id)
    with pytest.raises(discord.HTTPException) as locked:
        await thread.send("step 2")
    assert locked.value.code == 160005
    await discord_standin.archive_thread(thread.id, locked=True, user_id=c.OWNER_ID)
    with pytest.raises(discord.HTTPException) as closed:
        await thread.send("step 2")
    assert (closed.value.status, closed.value.code) == (400, 50083)
    with pytest.raises(discord.Forbidden):
        await thread.edit(archived=False)
    with pytest.raises(ValueError, match="locked"):
        await discord_standin.send_user_message("hello?", channel_id=thread.id)
    expect_refusals(discord_standin, 7)


async def test_members_post_in_threads_and_unarchive_them(discord_standin: DiscordStandIn,
                                                          bot: ThreadBot) -> None:
    card = await ops(bot).send("Run 0007")
    thread = await card.create_thread(name="Run 0007")
    step = await thread.send("step 1")
    await discord_standin.archive_thread(thread.id)
    # Discord lets nobody react or run commands in an archived thread.
    with pytest.raises(ValueError, match="archived"):
        await discord_standin.add_reaction(step.id, "✅")
    with pytest.raises(ValueError, match="archived"):
        await discord_standin.send_slash_command("anything", channel_id=thread.id)
    said = await discord_standin.send_user_message("is it done?", user_id=c.APPROVER1_ID,
                                                   channel_id=thread.id)
    stored = discord_standin.thread(thread.id)
    assert not stored.archived and c.APPROVER1_ID in stored.members
    assert stored.updates[-1].by == c.APPROVER1_ID
    got = await discord_standin.wait_for_message(lambda m: m.author_id == c.APPROVER1_ID,
                                                 channel_id=thread.id)
    assert got.id == said.id
    assert [m.id for m in discord_standin.thread_messages(thread.id)] == [step.id, said.id]
    assert (await discord_standin.wait_for_message(where="any", after_id=card.id)).id == step.id
    event = [f for f in discord_standin.gateway.log if f.t == "MESSAGE_CREATE"][-1]
    assert event.data["channel_id"] == str(thread.id)
    assert event.data["content"] == ""  # no message-content intent: Discord strips it


async def test_events_order_payloads_and_the_dump(discord_standin: DiscordStandIn,
                                                   bot: ThreadBot) -> None:
    card = await ops(bot).send("Run 0008")
    seq = discord_standin.gateway.seq
    thread = await card.create_thread(name="Run 0008")
    await thread.send("secret-free step log 0008")
    sent = [f for f in discord_standin.gateway.log if f.direction == "send" and f.op == 0]
    events = [(f.t, f.data) for f in sent][seq:]
    assert [t for t, _ in events] == ["THREAD_MEMBERS_UPDATE", "THREAD_CREATE", "MESSAGE_UPDATE",
                                      "MESSAGE_CREATE"]
    members, create, update, message = (d for _, d in events)
    assert members["added_members"][0]["user_id"] == str(c.BOT_USER_ID)
    assert create["newly_created"] is True and "member" not in create
    assert create["thread_metadata"]["archived"] is False
    assert update["flags"] & c.HAS_THREAD_FLAG and update["thread"]["id"] == str(card.id)
    assert message["channel_id"] == str(thread.id) and message["position"] == 1

    # A fresh IDENTIFY lists the active thread in GUILD_CREATE, with the bot's thread member.
    listed = discord_standin.world.guild_create()["threads"]
    assert [t["id"] for t in listed] == [str(thread.id)] and "join_timestamp" in listed[0]["member"]

    dump = discord_standin.dump()
    assert "secret-free step log 0008" in dump and c.BOT_TOKEN not in dump
    assert discord_standin.problems() == []


async def test_older_message_notice_is_optional(discord_standin: DiscordStandIn,
                                                bot: ThreadBot) -> None:
    discord_standin.thread_notice_after = 0.0
    card = await ops(bot).send("Run 0009")
    await card.create_thread(name="Run 0009")
    notice = discord_standin.channel_messages()[-1]
    assert (notice.type, notice.content, notice.author_id) == (c.THREAD_CREATED, "Run 0009",
                                                               c.BOT_USER_ID)
    # Discord's notice is visible in the channel but never matched by wait_for_message.
    assert (await discord_standin.wait_for_message()).id == card.id


async def test_active_and_archived_thread_listings(discord_standin: DiscordStandIn,
                                                   bot: ThreadBot) -> None:
    first = await (await ops(bot).send("Run 0010")).create_thread(name="Run 0010")
    second = await (await ops(bot).send("Run 0011")).create_thread(name="Run 0011")
    await first.edit(archived=True)
    guild = bot.get_guild(c.GUILD_ID)
    assert guild is not None
    active = await guild.active_threads()
    assert [t.id for t in active] == [second.id]
    assert [m.id for m in active[0].members] == [c.BOT_USER_ID]  # from "members"
    archived = [t async for t in ops(bot).archived_threads()]
    assert [(t.id, t.archived) for t in archived] == [(first.id, True)]
    assert discord_standin.problems() == []


async def test_a_thread_from_before_the_restart(discord_standin: DiscordStandIn) -> None:
    card = discord_standin.seed_message({"content": "Run 0012: running"})
    seeded = discord_standin.seed_thread(card.id, "Run 0012")
    old = discord_standin.seed_thread(discord_standin.seed_message({"content": "Run 0001"}).id,
                                      "Run 0001", archived=True)
    async with connected() as bot:
        # GUILD_CREATE lists the active thread (not the archived one), as Discord does.
        thread = bot.get_channel(seeded.id)
        assert isinstance(thread, discord.Thread) and thread.me is not None
        assert bot.get_channel(old.id) is None
        await thread.send("resumed after restart")
        fetched = await bot.fetch_channel(old.id)
        assert isinstance(fetched, discord.Thread) and fetched.archived
    assert [m.content for m in discord_standin.thread_messages(seeded.id)] == [
        "resumed after restart"]
    assert discord_standin.problems() == []
