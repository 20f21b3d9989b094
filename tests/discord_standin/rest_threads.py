"""REST routes for threads: start one from a message, Modify Channel on a thread, and the
listings of active and of archived public threads.

Posting, editing, reading and reacting in a thread go through the message routes
(rest_messages), with the thread rules of `threads`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from . import constants as c
from . import threads
from .http_util import (
    UNKNOWN_CHANNEL,
    DiscordError,
    json_object,
    json_response,
    snowflake,
    standin_of,
    unknown,
)
from .rest_messages import message_of
from .rest_misc import check_guild

Handler = Any


async def start_thread_from_message(request: web.Request) -> web.Response:
    standin = standin_of(request)
    starter = message_of(request)
    thread = await threads.start_thread(standin, starter, json_object(request),
                                        user_id=c.BOT_USER_ID, source=request["standin_route"])
    return json_response(standin.world.thread(thread.id), status=201)


async def modify_channel(request: web.Request) -> web.Response:
    standin = standin_of(request)
    world = standin.world
    channel_id = snowflake(request, "channel_id")
    thread = world.threads.get(channel_id)
    if thread is None:
        if channel_id not in world.channels:
            raise unknown("Channel", UNKNOWN_CHANNEL)
        if not world.channel_permissions(c.BOT_USER_ID, channel_id) & c.MANAGE_CHANNELS:
            raise threads.missing_permissions()
        standin.record_issue("PATCH of a guild channel (not a thread) is not emulated")
        raise DiscordError(400, 0, "The stand-in edits threads only")
    await threads.modify(standin, thread, json_object(request), user_id=c.BOT_USER_ID,
                         source=request["standin_route"])
    return json_response(world.thread(thread.id))


def _listing(request: web.Request, thread_ids: list[int], has_more: bool) -> web.Response:
    world = standin_of(request).world
    return json_response({
        "threads": [world.thread(t, with_member=False) for t in thread_ids],
        "members": [world.thread_member(t, c.BOT_USER_ID) for t in thread_ids
                    if c.BOT_USER_ID in world.threads[t].members],
        "has_more": has_more,
    })


async def list_active_threads(request: web.Request) -> web.Response:
    """The guild's active threads, newest first, and the bot's thread members in them."""
    check_guild(request)
    world = standin_of(request).world
    active = sorted((t.id for t in world.threads.values() if not t.archived), reverse=True)
    return _listing(request, active, False)


async def list_public_archived_threads(request: web.Request) -> web.Response:
    """A channel's archived public threads, most recently archived first, `before` a time."""
    world = standin_of(request).world
    channel_id = snowflake(request, "channel_id")
    if channel_id not in world.channels:
        raise unknown("Channel", UNKNOWN_CHANNEL)
    if not world.channel_permissions(c.BOT_USER_ID, channel_id) & c.READ_MESSAGE_HISTORY:
        raise threads.missing_permissions()
    limit = max(2, min(int(request.query.get("limit", "50")), 100))
    found = [t for t in world.threads.values() if t.parent_id == channel_id and t.archived]
    if "before" in request.query:
        before = datetime.fromisoformat(request.query["before"])
        found = [t for t in found if datetime.fromisoformat(t.archive_timestamp) < before]
    found.sort(key=lambda t: t.archive_timestamp, reverse=True)
    return _listing(request, [t.id for t in found[:limit]], len(found) > limit)


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads", start_thread_from_message),
    ("PATCH", "/channels/{channel_id}", modify_channel),
    ("GET", "/guilds/{guild_id}/threads/active", list_active_threads),
    ("GET", "/channels/{channel_id}/threads/archived/public", list_public_archived_threads),
]
