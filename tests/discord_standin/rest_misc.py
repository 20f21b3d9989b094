"""REST routes for login, gateway discovery, application commands, guild and channel reads."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import constants as c
from .http_util import (
    UNKNOWN_CHANNEL,
    UNKNOWN_COMMAND,
    UNKNOWN_MEMBER,
    UNKNOWN_ROLE,
    UNKNOWN_USER,
    DiscordError,
    body_of,
    json_object,
    json_response,
    no_content,
    snowflake,
    standin_of,
    unknown,
)

Handler = Any


async def get_me(request: web.Request) -> web.Response:
    return json_response(standin_of(request).world.bot_user())


async def get_user(request: web.Request) -> web.Response:
    user_id = snowflake(request, "user_id")
    world = standin_of(request).world
    if user_id not in world.users:
        raise unknown("User", UNKNOWN_USER)
    return json_response(world.user(user_id))


async def get_gateway(request: web.Request) -> web.Response:
    return json_response({"url": standin_of(request).gateway_url.rstrip("/")})


async def get_gateway_bot(request: web.Request) -> web.Response:
    return json_response({
        "url": standin_of(request).gateway_url.rstrip("/"),
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000,
                                "max_concurrency": 1},
    })


async def get_application(request: web.Request) -> web.Response:
    return json_response(standin_of(request).world.application())


def _scope(request: web.Request) -> int | None:
    """The command scope: a guild id, or None for global commands."""
    if snowflake(request, "application_id") != c.APPLICATION_ID:
        raise DiscordError(403, 50001, "Missing Access")
    if "guild_id" not in request.match_info:
        return None
    if snowflake(request, "guild_id") != standin_of(request).world.guild_id:
        raise DiscordError(403, 50001, "Missing Access")
    return snowflake(request, "guild_id")


def _command_key(payload: dict[str, Any]) -> str:
    kind = payload.get("type", 1)
    return payload["name"] if kind == 1 else f"{payload['name']}#{kind}"


def _stored_command(request: web.Request, payload: dict[str, Any], scope: int | None,
                    old: dict[str, Any] | None) -> dict[str, Any]:
    standin = standin_of(request)
    cmd: dict[str, Any] = {
        # Discord keeps a command's id across overwrites as long as name and type match.
        "id": old["id"] if old else str(standin.new_id()),
        "application_id": str(c.APPLICATION_ID),
        "version": str(standin.new_id()),
        "type": payload.get("type", 1),
        "name": payload["name"],
        "name_localizations": payload.get("name_localizations"),
        "description": payload.get("description", ""),
        "description_localizations": payload.get("description_localizations"),
        "default_member_permissions": payload.get("default_member_permissions"),
        "nsfw": payload.get("nsfw", False),
        "integration_types": payload.get("integration_types") or [0],
        "contexts": payload.get("contexts"),
    }
    if payload.get("options"):
        cmd["options"] = payload["options"]
    if scope is not None:
        cmd["guild_id"] = str(scope)
    return cmd


async def list_commands(request: web.Request) -> web.Response:
    scope = _scope(request)
    return json_response(list(standin_of(request).commands.get(scope, {}).values()))


async def overwrite_commands(request: web.Request) -> web.Response:
    scope = _scope(request)
    payload = body_of(request).json
    if not isinstance(payload, list):
        raise DiscordError(400, 50035, "Invalid Form Body")
    keys = [_command_key(p) for p in payload]
    if len(set(keys)) != len(keys):
        raise DiscordError(400, 50035, "Invalid Form Body", {"_errors": [{
            "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
            "message": "Application command names must be unique"}]})
    commands = standin_of(request).commands
    old = commands.get(scope, {})
    commands[scope] = {key: _stored_command(request, cmd, scope, old.get(key))
                       for key, cmd in zip(keys, payload, strict=True)}
    standin_of(request).sync_count += 1
    return json_response(list(commands[scope].values()))


async def upsert_command(request: web.Request) -> web.Response:
    scope = _scope(request)
    payload = json_object(request)
    key = _command_key(payload)
    scoped = standin_of(request).commands.setdefault(scope, {})
    existed = key in scoped
    scoped[key] = _stored_command(request, payload, scope, scoped.get(key))
    return json_response(scoped[key], status=200 if existed else 201)


def _find_command(request: web.Request) -> tuple[dict[str, dict[str, Any]], str]:
    scope = _scope(request)
    scoped = standin_of(request).commands.get(scope, {})
    command_id = str(snowflake(request, "command_id"))
    for key, cmd in scoped.items():
        if cmd["id"] == command_id:
            return scoped, key
    raise unknown("application command", UNKNOWN_COMMAND)


async def get_command(request: web.Request) -> web.Response:
    scoped, key = _find_command(request)
    return json_response(scoped[key])


async def edit_command(request: web.Request) -> web.Response:
    scoped, key = _find_command(request)
    merged = {**scoped[key], **json_object(request)}
    scope = _scope(request)
    del scoped[key]
    scoped[_command_key(merged)] = _stored_command(request, merged, scope, merged)
    return json_response(scoped[_command_key(merged)])


async def delete_command(request: web.Request) -> web.Response:
    scoped, key = _find_command(request)
    del scoped[key]
    return no_content()


def check_guild(request: web.Request) -> None:
    if snowflake(request, "guild_id") != standin_of(request).world.guild_id:
        raise DiscordError(403, 50001, "Missing Access")


async def get_guild(request: web.Request) -> web.Response:
    check_guild(request)
    world = standin_of(request).world
    data = world.guild()
    if request.query.get("with_counts", "").lower() in ("1", "true"):
        data.update(approximate_member_count=len(world.users), approximate_presence_count=0)
    return json_response(data)


async def get_guild_channels(request: web.Request) -> web.Response:
    check_guild(request)
    world = standin_of(request).world
    return json_response([world.channel(ch) for ch in world.channels])


async def get_guild_roles(request: web.Request) -> web.Response:
    check_guild(request)
    world = standin_of(request).world
    return json_response([world.role(r) for r in world.roles])


async def get_guild_role(request: web.Request) -> web.Response:
    check_guild(request)
    world = standin_of(request).world
    role_id = snowflake(request, "role_id")
    if role_id not in world.roles:
        raise unknown("Role", UNKNOWN_ROLE)
    return json_response(world.role(role_id))


async def get_member(request: web.Request) -> web.Response:
    check_guild(request)
    world = standin_of(request).world
    user_id = snowflake(request, "user_id")
    if user_id not in world.users:
        raise unknown("Member", UNKNOWN_MEMBER)
    return json_response(world.member(user_id))


async def list_members(request: web.Request) -> web.Response:
    check_guild(request)
    world = standin_of(request).world
    limit = int(request.query.get("limit", "1"))
    after = int(request.query.get("after", "0"))
    ids = sorted(u for u in world.users if u > after)[:limit]
    return json_response([world.member(u) for u in ids])


async def get_channel(request: web.Request) -> web.Response:
    world = standin_of(request).world
    channel_id = snowflake(request, "channel_id")
    if channel_id in world.threads:
        return json_response(world.thread(channel_id))  # with the bot's thread member
    if channel_id not in world.channels:
        raise unknown("Channel", UNKNOWN_CHANNEL)
    return json_response(world.channel(channel_id))


async def trigger_typing(request: web.Request) -> web.Response:
    return no_content()


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/users/@me", get_me),
    ("GET", "/users/{user_id}", get_user),
    ("GET", "/gateway", get_gateway),
    ("GET", "/gateway/bot", get_gateway_bot),
    ("GET", "/oauth2/applications/@me", get_application),
    ("GET", "/applications/@me", get_application),
    ("GET", "/applications/{application_id}/commands", list_commands),
    ("PUT", "/applications/{application_id}/commands", overwrite_commands),
    ("POST", "/applications/{application_id}/commands", upsert_command),
    ("GET", "/applications/{application_id}/commands/{command_id}", get_command),
    ("PATCH", "/applications/{application_id}/commands/{command_id}", edit_command),
    ("DELETE", "/applications/{application_id}/commands/{command_id}", delete_command),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", list_commands),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", overwrite_commands),
    ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", upsert_command),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}", get_command),
    ("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
     edit_command),
    ("DELETE", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
     delete_command),
    ("GET", "/guilds/{guild_id}", get_guild),
    ("GET", "/guilds/{guild_id}/channels", get_guild_channels),
    ("GET", "/guilds/{guild_id}/roles", get_guild_roles),
    ("GET", "/guilds/{guild_id}/roles/{role_id}", get_guild_role),
    ("GET", "/guilds/{guild_id}/members", list_members),
    ("GET", "/guilds/{guild_id}/members/{user_id}", get_member),
    ("GET", "/channels/{channel_id}", get_channel),
    ("POST", "/channels/{channel_id}/typing", trigger_typing),
]
