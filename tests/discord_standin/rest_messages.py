"""REST routes for channel messages and reactions, echoing the gateway events Discord sends."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import constants as c
from . import threads
from .http_util import (
    UNKNOWN_CHANNEL,
    UNKNOWN_EMOJI,
    DiscordError,
    body_of,
    json_object,
    json_response,
    no_content,
    snowflake,
    standin_of,
    unknown,
)
from .limits import check_message, is_empty_message
from .messages import emoji_key
from .records import StoredMessage

Handler = Any


def _channel_id(request: web.Request) -> int:
    """A guild channel's or a thread's id from the path; 404 for any other."""
    channel_id = snowflake(request, "channel_id")
    world = standin_of(request).world
    if channel_id not in world.channels and channel_id not in world.threads:
        raise unknown("Channel", UNKNOWN_CHANNEL)
    return channel_id


def message_of(request: web.Request) -> StoredMessage:
    msg = standin_of(request).messages.get(snowflake(request, "message_id"), _channel_id(request))
    if msg.ephemeral:
        raise unknown("Message", 10008)  # ephemeral messages are not reachable by channel routes
    return msg


def _message(request: web.Request, *, editing: bool | None = None) -> StoredMessage:
    """The message in the path; with `editing` set, checked for an edit (True) or a reaction
    (False) against its thread's state."""
    msg = message_of(request)
    thread = standin_of(request).world.threads.get(msg.channel_id)
    if thread is not None and editing is not None:
        threads.before_touch(standin_of(request), thread, c.BOT_USER_ID, editing=editing)
    return msg


def check_message_payload(payload: dict[str, Any], file_count: int, *, creating: bool) -> None:
    """Raise Discord's 400s for an empty or oversized message."""
    if creating and is_empty_message(payload, file_count):
        raise DiscordError(400, 50006, "Cannot send an empty message")
    problem = check_message(payload)
    if problem is not None:
        raise DiscordError.form(problem)


async def create_message(request: web.Request) -> web.Response:
    standin = standin_of(request)
    channel_id = _channel_id(request)
    payload, files = json_object(request), body_of(request).files
    check_message_payload(payload, len(files), creating=True)
    thread = standin.world.threads.get(channel_id)
    if thread is not None:
        await threads.before_post(standin, thread, c.BOT_USER_ID,
                                  source=request["standin_route"])
    msg = standin.messages.create(channel_id, c.BOT_USER_ID, payload, files,
                                  source=request["standin_route"])
    await standin.dispatch("MESSAGE_CREATE", standin.messages.render(msg, gateway=True),
                           required=False)
    return json_response(standin.messages.render(msg))


async def list_messages(request: web.Request) -> web.Response:
    standin = standin_of(request)
    visible = standin.messages.in_channel(_channel_id(request))
    query = request.query
    limit = max(1, min(int(query.get("limit", "50")), 100))
    if "before" in query:
        picked = [m for m in visible if m.id < int(query["before"])][-limit:]
    elif "after" in query:
        picked = [m for m in visible if m.id > int(query["after"])][:limit]
    elif "around" in query:
        centre = int(query["around"])
        older = [m for m in visible if m.id <= centre][-(limit // 2 + 1):]
        picked = older + [m for m in visible if m.id > centre][: limit - len(older)]
    else:
        picked = visible[-limit:]
    # Discord lists newest first.
    return json_response([standin.messages.render(m) for m in reversed(picked)])


async def get_message(request: web.Request) -> web.Response:
    return json_response(standin_of(request).messages.render(_message(request)))


async def edit_message(request: web.Request) -> web.Response:
    standin = standin_of(request)
    msg = _message(request, editing=True)
    if msg.author_id != c.BOT_USER_ID:
        raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
    if msg.type not in threads.AUTHORED_TYPES:
        raise DiscordError(400, 50021, "Cannot execute action on a system message")
    payload, files = json_object(request), body_of(request).files
    check_message_payload(payload, len(files), creating=False)
    standin.messages.edit(msg, payload, files, source=request["standin_route"])
    await standin.dispatch("MESSAGE_UPDATE", standin.messages.render(msg, gateway=True),
                           required=False)
    return json_response(standin.messages.render(msg))


async def delete_message(request: web.Request) -> web.Response:
    standin = standin_of(request)
    msg = _message(request)
    await standin.delete_message(msg)
    return no_content()


def _emoji(request: web.Request) -> str:
    key = emoji_key(request.match_info["emoji"])
    if ":" in key:  # the stand-in's guild has no custom emoji
        raise unknown("Emoji", UNKNOWN_EMOJI)
    return key


async def add_own_reaction(request: web.Request) -> web.Response:
    standin = standin_of(request)
    await standin.store_reaction(_message(request, editing=False), _emoji(request),
                                 c.BOT_USER_ID)
    return no_content()


async def delete_own_reaction(request: web.Request) -> web.Response:
    standin = standin_of(request)
    await standin.drop_reaction(_message(request, editing=False), _emoji(request),
                                c.BOT_USER_ID)
    return no_content()


async def delete_user_reaction(request: web.Request) -> web.Response:
    standin = standin_of(request)
    await standin.drop_reaction(_message(request, editing=False), _emoji(request),
                                snowflake(request, "user_id"))
    return no_content()


async def delete_emoji_reactions(request: web.Request) -> web.Response:
    standin = standin_of(request)
    msg, key = _message(request, editing=False), _emoji(request)
    for user_id in list(msg.reactions.get(key, [])):
        await standin.drop_reaction(msg, key, user_id)
    return no_content()


async def delete_all_reactions(request: web.Request) -> web.Response:
    standin = standin_of(request)
    msg = _message(request, editing=False)
    msg.reactions.clear()
    await standin.dispatch("MESSAGE_REACTION_REMOVE_ALL", {
        "channel_id": str(msg.channel_id), "message_id": str(msg.id),
        "guild_id": str(standin.world.guild_id)}, required=False)
    return no_content()


async def list_reaction_users(request: web.Request) -> web.Response:
    standin = standin_of(request)
    users = _message(request).reactions.get(_emoji(request), [])
    limit = int(request.query.get("limit", "25"))
    return json_response([standin.world.user(u) for u in users[:limit]])


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/channels/{channel_id}/messages", create_message),
    ("GET", "/channels/{channel_id}/messages", list_messages),
    ("GET", "/channels/{channel_id}/messages/{message_id}", get_message),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", edit_message),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message),
    # "@me" must be registered before "{user_id}": aiohttp matches in order.
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
     add_own_reaction),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
     delete_own_reaction),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
     delete_user_reaction),
    ("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
     list_reaction_users),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
     delete_emoji_reactions),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions", delete_all_reactions),
]
