"""Public threads started from a message: Discord's rules for them and the events they cause.

What Discord documents (topics/threads, resources/channel, events/gateway-events) and the
stand-in follows:
- a thread started from a message has the message's id; a message gets one thread at most
  (400, code 160004); starting one needs CREATE_PUBLIC_THREADS in the parent (403, 50013);
- its first message is a THREAD_STARTER_MESSAGE (type 21) pointing at the starter, which is
  not counted in message_count / total_message_sent; the starter shows the thread in its
  `thread` field and the HAS_THREAD flag;
- posting in a thread needs SEND_MESSAGES_IN_THREADS (SEND_MESSAGES counts for nothing there);
  a post unarchives an archived thread unless it is locked; in a locked thread only
  MANAGE_THREADS may post or edit (archived: 50083 "Thread is archived", else 160005);
  an archived thread takes no edits or reactions (50083), only deletions;
- renaming, archiving and the auto-archive duration need MANAGE_THREADS or to be the
  creator; locking and slowmode need MANAGE_THREADS; an archived thread takes no other change
  unless the same request unarchives it (50083); a locked one only MANAGE_THREADS unarchives;
- events: THREAD_MEMBERS_UPDATE (the creator joins), THREAD_CREATE with newly_created, and
  MESSAGE_UPDATE of the starter on creation; THREAD_UPDATE on every change, followed by
  THREAD_MEMBER_UPDATE when it unarchives; a rename posts a CHANNEL_NAME_CHANGE (type 4).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import constants as c
from .http_util import DiscordError
from .limits import FormErrors
from .messages import iso_now
from .records import StoredMessage, StoredThread, ThreadUpdate

if TYPE_CHECKING:
    from .server import StandInServer

NAME_MAX = 100
RATE_LIMIT_MAX = 21_600
# What Discord answers when a thread was started without auto_archive_duration.
DEFAULT_AUTO_ARCHIVE = 4320
GUILD_MEMBERS_INTENT = 1 << 1
# The message types a person or bot writes; everything else is Discord's own notice.
AUTHORED_TYPES = frozenset({0, 19, 20, 23})


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def archived_error() -> DiscordError:
    return DiscordError(400, 50083, "Thread is archived")


def locked_error() -> DiscordError:
    return DiscordError(400, 160005, "Thread is locked")


def check_thread_fields(payload: dict[str, Any], *, creating: bool) -> None:
    """Discord's own limits on name, auto_archive_duration and rate_limit_per_user (50035)."""
    errors = FormErrors()
    name = payload.get("name")
    if name is not None or creating:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH",
                       f"Must be between 1 and {NAME_MAX} in length.")
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in c.THREAD_AUTO_ARCHIVE_DURATIONS:
        errors.add(["auto_archive_duration"], "BASE_TYPE_CHOICES",
                   f"Value must be one of {c.THREAD_AUTO_ARCHIVE_DURATIONS}.")
    rate = payload.get("rate_limit_per_user")
    if rate is not None and (not isinstance(rate, int) or not 0 <= rate <= RATE_LIMIT_MAX):
        errors.add(["rate_limit_per_user"], "NUMBER_TYPE_MAX",
                   f"int value should be less than or equal to {RATE_LIMIT_MAX}.")
    body = errors.body()
    if body is not None:
        raise DiscordError.form(body)


def _can(standin: StandInServer, user_id: int, thread: StoredThread, bit: int) -> bool:
    return bool(standin.world.channel_permissions(user_id, thread.id) & bit)


async def start_thread(standin: StandInServer, starter: StoredMessage, payload: dict[str, Any],
                       *, user_id: int, source: str) -> StoredThread:
    """Start a public thread from `starter`, as POST .../messages/{id}/threads does."""
    world = standin.world
    if starter.channel_id in world.threads:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    if not world.channel_permissions(user_id, starter.channel_id) & c.CREATE_PUBLIC_THREADS:
        raise missing_permissions()
    if starter.id in world.threads:
        raise DiscordError(400, 160004, "A thread has already been created for this message")
    if starter.type not in AUTHORED_TYPES:
        raise DiscordError(400, 50021, "Cannot execute action on a system message")
    check_thread_fields(payload, creating=True)
    thread = new_thread(standin, starter, payload["name"].strip(), user_id=user_id,
                        auto_archive_duration=payload.get("auto_archive_duration"),
                        rate_limit_per_user=payload.get("rate_limit_per_user"), source=source)
    await _members_update(standin, thread, added=[user_id])
    await standin.dispatch("THREAD_CREATE", {**world.thread(thread.id, with_member=False),
                                             "newly_created": True}, required=False)
    await standin.dispatch("MESSAGE_UPDATE", standin.messages.render(starter, gateway=True),
                           required=False)
    notice_after = standin.thread_notice_after
    if notice_after is not None and time.monotonic() - starter.created_at >= notice_after:
        await _post_notice(standin, thread.parent_id, user_id, c.THREAD_CREATED, thread.name,
                           {"type": 0, "channel_id": str(thread.id),
                            "guild_id": str(world.guild_id)}, source)
    return thread


def new_thread(standin: StandInServer, starter: StoredMessage, name: str, *, user_id: int,
               auto_archive_duration: int | None, rate_limit_per_user: int | None,
               source: str) -> StoredThread:
    """Store a thread and its THREAD_STARTER_MESSAGE; no events (start_thread sends them)."""
    world = standin.world
    now = iso_now()
    thread = StoredThread(
        id=starter.id,
        parent_id=starter.channel_id,
        owner_id=user_id,
        name=name,
        auto_archive_duration=auto_archive_duration or DEFAULT_AUTO_ARCHIVE,
        rate_limit_per_user=rate_limit_per_user or 0,
        create_timestamp=now,
        archive_timestamp=now,
        created_at=time.monotonic(),
        members={user_id: now},
    )
    world.threads[thread.id] = thread
    reference = {"type": 0, "channel_id": str(starter.channel_id), "message_id": str(starter.id),
                 "guild_id": str(world.guild_id)}
    # The thread's first message; Discord lists it in the thread's history.
    standin.messages.create(thread.id, user_id, {"message_reference": reference}, [],
                            source=source, type=c.THREAD_STARTER_MESSAGE)
    return thread


async def _post_notice(standin: StandInServer, channel_id: int, author_id: int, kind: int,
                       content: str, reference: dict[str, Any] | None, source: str) -> None:
    payload: dict[str, Any] = {"content": content}
    if reference is not None:
        payload["message_reference"] = reference
    msg = standin.messages.create(channel_id, author_id, payload, [], source=source, type=kind)
    await standin.dispatch("MESSAGE_CREATE", standin.messages.render(msg, gateway=True),
                           required=False)


async def _members_update(standin: StandInServer, thread: StoredThread, *,
                          added: list[int]) -> None:
    """THREAD_MEMBERS_UPDATE: always for the bot itself, for others with GUILD_MEMBERS only."""
    identify = standin.gateway.identify
    intents = (identify.intents if identify else 0) or 0
    shown = [u for u in added if u == c.BOT_USER_ID or intents & GUILD_MEMBERS_INTENT]
    if not shown:
        return
    world = standin.world
    await standin.dispatch("THREAD_MEMBERS_UPDATE", {
        "id": str(thread.id),
        "guild_id": str(world.guild_id),
        "member_count": min(len(thread.members), 50),
        "added_members": [{**world.thread_member(thread.id, u), "member": world.member(u),
                           "presence": None} for u in shown],
    }, required=False)


async def join(standin: StandInServer, thread: StoredThread, user_id: int) -> None:
    """A member posting in a thread joins it."""
    if user_id in thread.members:
        return
    thread.members[user_id] = iso_now()
    await _members_update(standin, thread, added=[user_id])


async def change(standin: StandInServer, thread: StoredThread, changes: dict[str, Any], *,
                 by: int | None, source: str) -> None:
    """Apply changes already allowed, record them, and send the events Discord sends."""
    was_archived, old_name = thread.archived, thread.name
    for key, value in changes.items():
        setattr(thread, key, value)
    if "archived" in changes or "auto_archive_duration" in changes:
        thread.archive_timestamp = iso_now()
    if changes:
        thread.updates.append(ThreadUpdate(time.monotonic(), dict(changes), by, source))
    world = standin.world
    await standin.dispatch("THREAD_UPDATE", world.thread(thread.id, with_member=False),
                           required=False)
    if was_archived and not thread.archived and c.BOT_USER_ID in thread.members:
        await standin.dispatch("THREAD_MEMBER_UPDATE", {
            **world.thread_member(thread.id, c.BOT_USER_ID), "guild_id": str(world.guild_id)},
            required=False)
    if thread.name != old_name:
        await _post_notice(standin, thread.id, by if by is not None else c.BOT_USER_ID,
                           c.CHANNEL_NAME_CHANGE, thread.name, None, source)


async def modify(standin: StandInServer, thread: StoredThread, payload: dict[str, Any], *,
                 user_id: int, source: str) -> None:
    """PATCH /channels/{thread_id} by `user_id`, with Discord's permission rules."""
    check_thread_fields(payload, creating=False)
    wanted = {key: payload[key] for key in
              ("name", "archived", "locked", "auto_archive_duration", "rate_limit_per_user")
              if payload.get(key) is not None}
    if "name" in wanted:
        wanted["name"] = wanted["name"].strip()
    changes = {k: v for k, v in wanted.items() if getattr(thread, k) != v}
    manage = _can(standin, user_id, thread, c.MANAGE_THREADS)
    creator = thread.owner_id == user_id
    if thread.archived and wanted.get("archived") is not False:
        raise archived_error()
    if thread.archived and thread.locked and not manage:
        raise missing_permissions()  # only MANAGE_THREADS unarchives a locked thread
    if not manage and ({"locked", "rate_limit_per_user"} & changes.keys()):
        raise missing_permissions()
    if not (manage or creator) and ({"name", "archived", "auto_archive_duration"}
                                    & changes.keys()):
        raise missing_permissions()
    await change(standin, thread, changes, by=user_id, source=source)


async def before_post(standin: StandInServer, thread: StoredThread, user_id: int, *,
                      source: str) -> None:
    """Refuse a post as Discord does, or unarchive the thread the post lands in."""
    if not _can(standin, user_id, thread, c.SEND_MESSAGES_IN_THREADS):
        raise missing_permissions()
    if thread.locked and not _can(standin, user_id, thread, c.MANAGE_THREADS):
        raise archived_error() if thread.archived else locked_error()
    if thread.archived:
        await change(standin, thread, {"archived": False}, by=user_id, source=source)


def before_touch(standin: StandInServer, thread: StoredThread, user_id: int, *,
                 editing: bool) -> None:
    """An edit or a reaction: none in an archived thread, no edit in a locked one."""
    if thread.archived:
        raise archived_error()
    if editing and thread.locked and not _can(standin, user_id, thread, c.MANAGE_THREADS):
        raise locked_error()


def forget_message(world_threads: dict[int, StoredThread], msg: StoredMessage) -> None:
    """A deleted message no longer counts in its thread's message_count."""
    thread = world_threads.get(msg.channel_id)
    if thread is not None and msg.type != c.THREAD_STARTER_MESSAGE and not msg.ephemeral:
        thread.message_count = max(thread.message_count - 1, 0)
