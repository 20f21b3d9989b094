"""Fixed ids and names of the stand-in's one guild, so tests can refer to them by name.

Every id is a valid snowflake (< 2**63) but none is real. Discord gives a bot user the same
id as its application; the stand-in does the same because discord.py relies on neither.
"""

from __future__ import annotations

# The bot never sends this anywhere but the Authorization header and IDENTIFY; tests assert it.
BOT_TOKEN = "MTIwMDAwMDAwMDAwMDAwMDEwMA.standin.do-not-log-9f3c2a71-bot-token"  # shaped like a real one

APPLICATION_ID = 1_200_000_000_000_000_001
BOT_USER_ID = APPLICATION_ID
BOT_USERNAME = "opsbot"

GUILD_ID = 1_200_000_000_000_000_100
GUILD_NAME = "ops-staging"
# The @everyone role's id is the guild's id, as on Discord.
EVERYONE_ROLE_ID = GUILD_ID

OPS_CHANNEL_ID = 1_200_000_000_000_000_201
OPS_CHANNEL_NAME = "ops"
OTHER_CHANNEL_ID = 1_200_000_000_000_000_202
OTHER_CHANNEL_NAME = "general"

OPERATOR_ROLE_ID = 1_200_000_000_000_000_301
APPROVER_ROLE_ID = 1_200_000_000_000_000_302
OTHER_ROLE_ID = 1_200_000_000_000_000_303
BOT_ROLE_ID = 1_200_000_000_000_000_304  # the managed role Discord gives a bot on join

OWNER_ID = 1_200_000_000_000_000_400
OPERATOR1_ID = 1_200_000_000_000_000_401
OPERATOR2_ID = 1_200_000_000_000_000_402
APPROVER1_ID = 1_200_000_000_000_000_403
# approver2 holds both roles, so a test can prove "nobody approves their own run".
APPROVER2_ID = 1_200_000_000_000_000_404
OUTSIDER_ID = 1_200_000_000_000_000_405

# Permission bits (https://discord.com/developers/docs/topics/permissions).
MANAGE_CHANNELS = 1 << 4
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
# In a thread SEND_MESSAGES counts for nothing: posting there needs this one.
SEND_MESSAGES_IN_THREADS = 1 << 38
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | EMBED_LINKS
    | ATTACH_FILES
    | USE_APPLICATION_COMMANDS
)
# What opsbot's threads need; `DiscordStandIn.deny_threads()` takes them away.
THREAD_PERMISSIONS = CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES | THREAD_PERMISSIONS

HAS_THREAD_FLAG = 1 << 5  # message flag: a thread was started from this message
EPHEMERAL_FLAG = 1 << 6
LOADING_FLAG = 1 << 7

# Channel and message types used by threads.
GUILD_TEXT = 0
PUBLIC_THREAD = 11
CHANNEL_NAME_CHANGE = 4  # a thread's rename, posted in the thread
THREAD_CREATED = 18  # "X started a thread", posted in the parent channel
THREAD_STARTER_MESSAGE = 21  # a thread's first message, pointing at the message it grew from
THREAD_AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)

# Discord's 3-second window to acknowledge an interaction.
ACK_DEADLINE_S = 3.0
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
