"""A loopback stand-in for Discord's REST API v10 and gateway that real discord.py talks to.

Use the `discord_standin` fixture (tests.discord_standin.plugin); the ids and names of its one
guild, channels, roles and users are in tests.discord_standin.constants. In short:

    bot = MyBot(..., guild_ready_timeout=0.05)   # else on_ready waits 2 s for more guilds
    await bot.login(BOT_TOKEN)                    # GET /users/@me, /oauth2/applications/@me
    task = asyncio.create_task(bot.connect())     # setup_hook has synced the guild commands
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    rec = await discord_standin.send_slash_command("migrate run", {"name": "0001"})
    await discord_standin.wait_for_ack(rec)       # rec.ack_latency, rec.callback_type
    msg = await discord_standin.wait_for_message(lambda m: "Backup" in m.text())
    await discord_standin.add_reaction(msg.id, "✅", user_id=APPROVER1_ID)
    await discord_standin.click_button(msg.id, "rollback:run-1", user_id=OPERATOR1_ID)
    thread = await discord_standin.wait_for_thread(lambda t: t.id == msg.id)  # from a message
    log = await discord_standin.wait_for_message(lambda m: "step" in m.text(), where="threads")
    discord_standin.thread_messages(thread.id); await discord_standin.deny_threads()
    await bot.close(); await task
"""

from .constants import *  # noqa: F403 - the ids are the package's vocabulary
from .records import (
    CallbackRecord,
    InteractionRecord,
    MessageVersion,
    RequestRecord,
    StoredAttachment,
    StoredMessage,
    StoredThread,
    ThreadUpdate,
)
from .standin import DiscordStandIn, StandInTimeout
from .world import World

__all__ = [
    "CallbackRecord",
    "DiscordStandIn",
    "InteractionRecord",
    "MessageVersion",
    "RequestRecord",
    "StandInTimeout",
    "StoredAttachment",
    "StoredMessage",
    "StoredThread",
    "ThreadUpdate",
    "World",
]
