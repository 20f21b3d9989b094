"""Build INTERACTION_CREATE payloads the way a Discord client would, from registered commands.

Option types come from the commands the bot synced, so a test that names an option the bot
never registered, or skips a required one, fails here, as the Discord client would refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import constants as c
from .records import StoredMessage
from .world import World

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)

Commands = Mapping[int | None, Mapping[str, dict[str, Any]]]


def find_command(commands: Commands, guild_id: int, path: str
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Resolve "migrate run" to (top command, [subcommand chain], leaf option schemas)."""
    parts = path.strip().lstrip("/").split()
    if not parts:
        raise ValueError("empty command path")
    top = commands.get(guild_id, {}).get(parts[0]) or commands.get(None, {}).get(parts[0])
    if top is None:
        known = sorted({n for scope in commands.values() for n in scope})
        raise LookupError(f"/{parts[0]} is not registered (registered: {known}); "
                          "did setup_hook sync the command tree to the guild?")
    node, chain = top, []
    for part in parts[1:]:
        sub = next((o for o in node.get("options") or []
                    if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None)
        if sub is None:
            raise LookupError(f"/{path}: no subcommand {part!r} under {node['name']!r}")
        chain.append(sub)
        node = sub
    leaf = node.get("options") or []
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in leaf):
        raise LookupError(f"/{path} is a group; name one of its subcommands")
    return top, chain, leaf


def command_data(
    commands: Commands,
    world: World,
    guild_id: int,
    path: str,
    values: Mapping[str, Any],
    focused: str | None = None,
) -> dict[str, Any]:
    top, chain, schema = find_command(commands, guild_id, path)
    resolved: dict[str, dict[str, Any]] = {}
    options = build_options(schema, values, focused, world, resolved)
    for sub in reversed(chain):
        options = [{"name": sub["name"], "type": sub["type"], "options": options}]
    data: dict[str, Any] = {"id": top["id"], "name": top["name"], "type": 1, "options": options}
    if top.get("guild_id"):
        data["guild_id"] = top["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data


def build_options(
    schema: list[dict[str, Any]],
    values: Mapping[str, Any],
    focused: str | None,
    world: World,
    resolved: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    by_name = {o["name"]: o for o in schema}
    unknown = set(values) - set(by_name)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; the command has {sorted(by_name)}")
    if focused is not None and focused not in values:
        raise ValueError(f"focused option {focused!r} needs a (partial) value in options")
    out = []
    for opt in schema:
        name = opt["name"]
        if name not in values:
            # While autocompleting, the user has not filled in everything yet.
            if opt.get("required") and focused is None:
                raise ValueError(f"required option {name!r} is missing")
            continue
        if name == focused:
            out.append({"name": name, "type": opt["type"], "value": str(values[name]),
                        "focused": True})
        else:
            out.append({"name": name, "type": opt["type"],
                        "value": _coerce(opt, values[name], world, resolved)})
    return out


def _coerce(opt: dict[str, Any], value: Any, world: World,
            resolved: dict[str, dict[str, Any]]) -> Any:
    kind, name = opt["type"], opt["name"]
    if kind == STRING:
        _expect(isinstance(value, str), name, "a str", value)
        _check_length(opt, value)
    elif kind == INTEGER:
        _expect(isinstance(value, int) and not isinstance(value, bool), name, "an int", value)
        _check_range(opt, value)
    elif kind == NUMBER:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), name,
                "a number", value)
        _check_range(opt, value)
    elif kind == BOOLEAN:
        _expect(isinstance(value, bool), name, "a bool", value)
    elif kind in (USER, ROLE, CHANNEL, MENTIONABLE):
        return _resolve_entity(kind, name, int(value), world, resolved)
    else:
        raise NotImplementedError(f"option type {kind} ({name!r}) is not supported by the stand-in")
    choices = opt.get("choices")
    if choices and value not in [ch["value"] for ch in choices]:
        raise ValueError(f"{name}={value!r} is not one of the choices {choices}")
    return value


def _expect(ok: bool, name: str, what: str, value: Any) -> None:
    if not ok:
        raise TypeError(f"option {name!r} must be {what}, got {value!r}")


def _check_length(opt: dict[str, Any], value: str) -> None:
    if not opt.get("min_length", 0) <= len(value) <= opt.get("max_length", 6000):
        raise ValueError(f"option {opt['name']!r}: length {len(value)} is out of bounds")


def _check_range(opt: dict[str, Any], value: float) -> None:
    low, high = opt.get("min_value"), opt.get("max_value")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"option {opt['name']!r}: {value} is outside [{low}, {high}]")


def _resolve_entity(kind: int, name: str, entity_id: int, world: World,
                    resolved: dict[str, dict[str, Any]]) -> str:
    key = str(entity_id)
    if kind in (USER, MENTIONABLE) and entity_id in world.users:
        resolved.setdefault("users", {})[key] = world.user(entity_id)
        resolved.setdefault("members", {})[key] = world.member(
            entity_id, with_user=False, with_permissions=True)
    elif kind in (ROLE, MENTIONABLE) and entity_id in world.roles:
        resolved.setdefault("roles", {})[key] = world.role(entity_id)
    elif kind == CHANNEL and entity_id in world.channels:
        channel = world.channel(entity_id)
        resolved.setdefault("channels", {})[key] = {
            "id": key, "name": channel["name"], "type": channel["type"],
            "permissions": str(c.EVERYONE_PERMISSIONS), "parent_id": None}
    else:
        raise LookupError(f"option {name!r}: id {entity_id} is not in the stand-in's guild")
    return key


def find_component(msg: StoredMessage, custom_id: str) -> dict[str, Any]:
    for comp in msg.iter_components():
        if comp.get("custom_id") == custom_id:
            if comp.get("disabled"):
                raise ValueError(f"component {custom_id!r} is disabled; a user cannot use it")
            return comp
    raise LookupError(f"message {msg.id} has no component {custom_id!r} "
                      f"(it has {msg.custom_ids()})")


def component_data(comp: dict[str, Any], values: list[str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"custom_id": comp["custom_id"], "component_type": comp["type"]}
    if comp["type"] != 2:  # select menus carry the chosen values
        data["values"] = list(values or [])
    elif values:
        raise ValueError("a button click carries no values")
    return data


def interaction_payload(
    *,
    interaction_id: int,
    token: str,
    kind: int,
    data: dict[str, Any],
    user_id: int,
    channel_id: int,
    world: World,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if user_id not in world.users:
        raise LookupError(f"user {user_id} is not a member of the stand-in's guild")
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(c.APPLICATION_ID),
        "type": kind,
        "data": data,
        "guild_id": str(world.guild_id),
        "guild": {"id": str(world.guild_id), "locale": "en-US", "features": []},
        "channel_id": str(channel_id),
        "channel": {**world.channel(channel_id),
                    "permissions": str(world.channel_permissions(user_id, channel_id))},
        "member": world.member(user_id, with_permissions=True, channel_id=channel_id),
        "token": token,
        "version": 1,
        "app_permissions": str(world.channel_permissions(c.BOT_USER_ID, channel_id)),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(world.guild_id)},
        "context": 0,
        "attachment_size_limit": c.ATTACHMENT_SIZE_LIMIT,
    }
    if message is not None:
        payload["message"] = message
    return payload
