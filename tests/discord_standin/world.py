"""The stand-in's guild: users, roles, channels and members, rendered as Discord payloads.

Tests may add members or channels before the bot connects (GUILD_CREATE is built at IDENTIFY).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import constants as c
from .records import StoredThread

JOINED_AT = "2024-01-01T00:00:00.000000+00:00"
GUILD_MEMBERS_INTENT = 1 << 1
GUILD_PRESENCES_INTENT = 1 << 8


@dataclass
class UserInfo:
    id: int
    username: str
    roles: list[int] = field(default_factory=list)
    bot: bool = False


@dataclass
class RoleInfo:
    id: int
    name: str
    permissions: int = 0
    position: int = 1
    managed: bool = False


@dataclass
class Overwrite:
    """A channel permission overwrite: for a role (type 0) or a member (type 1)."""

    id: int
    type: int = 0
    allow: int = 0
    deny: int = 0


@dataclass
class ChannelInfo:
    id: int
    name: str
    position: int = 0
    type: int = 0  # GUILD_TEXT
    overwrites: list[Overwrite] = field(default_factory=list)


def _default_users() -> dict[int, UserInfo]:
    users = [
        UserInfo(c.BOT_USER_ID, c.BOT_USERNAME, [c.BOT_ROLE_ID], bot=True),
        UserInfo(c.OWNER_ID, "owner"),
        UserInfo(c.OPERATOR1_ID, "operator1", [c.OPERATOR_ROLE_ID]),
        UserInfo(c.OPERATOR2_ID, "operator2", [c.OPERATOR_ROLE_ID]),
        UserInfo(c.APPROVER1_ID, "approver1", [c.APPROVER_ROLE_ID]),
        UserInfo(c.APPROVER2_ID, "approver2", [c.APPROVER_ROLE_ID, c.OPERATOR_ROLE_ID]),
        UserInfo(c.OUTSIDER_ID, "outsider", [c.OTHER_ROLE_ID]),
    ]
    return {u.id: u for u in users}


def _default_roles() -> dict[int, RoleInfo]:
    roles = [
        RoleInfo(c.EVERYONE_ROLE_ID, "@everyone", c.EVERYONE_PERMISSIONS, position=0),
        RoleInfo(c.OPERATOR_ROLE_ID, "operator", position=1),
        RoleInfo(c.APPROVER_ROLE_ID, "approver", position=2),
        RoleInfo(c.OTHER_ROLE_ID, "other", position=3),
        RoleInfo(c.BOT_ROLE_ID, c.BOT_USERNAME, c.BOT_PERMISSIONS, position=4, managed=True),
    ]
    return {r.id: r for r in roles}


def _default_channels() -> dict[int, ChannelInfo]:
    channels = [
        ChannelInfo(c.OPS_CHANNEL_ID, c.OPS_CHANNEL_NAME, 0),
        ChannelInfo(c.OTHER_CHANNEL_ID, c.OTHER_CHANNEL_NAME, 1),
    ]
    return {ch.id: ch for ch in channels}


@dataclass
class World:
    guild_id: int = c.GUILD_ID
    users: dict[int, UserInfo] = field(default_factory=_default_users)
    roles: dict[int, RoleInfo] = field(default_factory=_default_roles)
    channels: dict[int, ChannelInfo] = field(default_factory=_default_channels)
    # Threads live beside the channels, as on Discord: GET /guilds/{id}/channels lists none.
    threads: dict[int, StoredThread] = field(default_factory=dict)

    def add_member(self, user_id: int, username: str, roles: list[int] | None = None) -> None:
        self.users[user_id] = UserInfo(user_id, username, list(roles or []))

    def user(self, user_id: int) -> dict[str, Any]:
        info = self.users[user_id]
        data: dict[str, Any] = {
            "id": str(info.id),
            "username": info.username,
            "global_name": None if info.bot else info.username.title(),
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if info.bot:
            data["bot"] = True
        return data

    def bot_user(self) -> dict[str, Any]:
        """The /users/@me shape: the public user plus account fields."""
        return {**self.user(c.BOT_USER_ID), "verified": True, "mfa_enabled": False,
                "locale": "en-US", "email": None, "premium_type": 0}

    def permissions(self, user_id: int) -> int:
        """Guild-level permissions: @everyone plus every role, all of them for admins/owner."""
        if user_id == c.OWNER_ID:
            return c.ALL_PERMISSIONS
        value = self.roles[c.EVERYONE_ROLE_ID].permissions
        for role_id in self.users[user_id].roles:
            value |= self.roles[role_id].permissions
        return c.ALL_PERMISSIONS if value & c.ADMINISTRATOR else value

    def channel_permissions(self, user_id: int, channel_id: int) -> int:
        """Permissions in a channel after its overwrites, computed as Discord does.

        A thread has its parent's permissions. Order: @everyone's overwrite, then every role
        overwrite of the member's roles together (denies, then allows), then the member's own.
        """
        thread = self.threads.get(channel_id)
        if thread is not None:
            channel_id = thread.parent_id
        value = self.permissions(user_id)
        if value & c.ADMINISTRATOR:  # the owner's too
            return c.ALL_PERMISSIONS
        overwrites = {(o.type, o.id): o for o in self.channels[channel_id].overwrites}
        everyone = overwrites.get((0, c.EVERYONE_ROLE_ID))
        if everyone is not None:
            value = (value & ~everyone.deny) | everyone.allow
        roles = [overwrites[(0, r)] for r in self.users[user_id].roles if (0, r) in overwrites]
        deny = allow = 0
        for o in roles:
            deny |= o.deny
            allow |= o.allow
        value = (value & ~deny) | allow
        own = overwrites.get((1, user_id))
        if own is not None:
            value = (value & ~own.deny) | own.allow
        # Implicit: who cannot view a channel has no permission in it at all.
        return value if value & c.VIEW_CHANNEL else 0

    def member(self, user_id: int, *, with_user: bool = True, with_permissions: bool = False,
               channel_id: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.users[user_id].roles],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": JOINED_AT,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user(user_id)
        if with_permissions:
            # In an interaction: the member's permissions in its channel, overwrites included.
            value = (self.permissions(user_id) if channel_id is None
                     else self.channel_permissions(user_id, channel_id))
            data["permissions"] = str(value)
        return data

    def role(self, role_id: int) -> dict[str, Any]:
        info = self.roles[role_id]
        data: dict[str, Any] = {
            "id": str(info.id),
            "name": info.name,
            "description": None,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": info.position,
            "permissions": str(info.permissions),
            "managed": info.managed,
            "mentionable": False,
            "flags": 0,
        }
        if info.managed:
            data["tags"] = {"bot_id": str(c.BOT_USER_ID)}
        return data

    def channel(self, channel_id: int) -> dict[str, Any]:
        if channel_id in self.threads:
            return self.thread(channel_id, with_member=False)
        info = self.channels[channel_id]
        return {
            "id": str(info.id),
            "type": info.type,
            "guild_id": str(self.guild_id),
            "name": info.name,
            "position": info.position,
            "permission_overwrites": [
                {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
                for o in info.overwrites],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "last_pin_timestamp": None,
            "flags": 0,
        }

    def thread(self, thread_id: int, *, with_member: bool = True) -> dict[str, Any]:
        """A thread as a channel object; with the bot's thread member when it is in it, as
        GET /channels/{id} and a message's `thread` field show it."""
        t = self.threads[thread_id]
        data: dict[str, Any] = {
            "id": str(t.id),
            "type": t.type,
            "guild_id": str(self.guild_id),
            "parent_id": str(t.parent_id),
            "owner_id": str(t.owner_id),
            "name": t.name,
            "last_message_id": None if t.last_message_id is None else str(t.last_message_id),
            "rate_limit_per_user": t.rate_limit_per_user,
            "flags": 0,
            "thread_metadata": {
                "archived": t.archived,
                "archive_timestamp": t.archive_timestamp,
                "auto_archive_duration": t.auto_archive_duration,
                "locked": t.locked,
                "create_timestamp": t.create_timestamp,
            },
            "message_count": t.message_count,
            "member_count": min(len(t.members), 50),  # Discord stops counting at 50
            "total_message_sent": t.total_message_sent,
        }
        if with_member and c.BOT_USER_ID in t.members:
            data["member"] = self.thread_member(thread_id, c.BOT_USER_ID)
        return data

    def thread_member(self, thread_id: int, user_id: int) -> dict[str, Any]:
        return {"id": str(thread_id), "user_id": str(user_id),
                "join_timestamp": self.threads[thread_id].members[user_id], "flags": 1}

    def guild(self) -> dict[str, Any]:
        """The REST shape of the guild (no members/channels, which GUILD_CREATE adds)."""
        return {
            "id": str(self.guild_id),
            "name": c.GUILD_NAME,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "home_header": None,
            "owner_id": str(c.OWNER_ID),
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw": False,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_presences": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "vanity_url_code": None,
            "features": [],
            "roles": [self.role(r) for r in self.roles],
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }

    def guild_create(self, intents: int = 0) -> dict[str, Any]:
        """The GUILD_CREATE dispatch: the guild plus members, channels and empty extras.

        Like Discord, it lists every member only for the GUILD_MEMBERS or GUILD_PRESENCES
        intent; otherwise just the bot's own member (discord.py would not cache others anyway).
        """
        everyone = intents & (GUILD_MEMBERS_INTENT | GUILD_PRESENCES_INTENT)
        members = list(self.users) if everyone else [c.BOT_USER_ID]
        return {
            **self.guild(),
            "joined_at": JOINED_AT,
            "large": False,
            "unavailable": False,
            "member_count": len(self.users),
            "members": [self.member(u) for u in members],
            "channels": [{k: v for k, v in self.channel(ch).items() if k != "guild_id"}
                         for ch in self.channels],
            # Active threads; their thread member omits id and user_id here, as on Discord.
            "threads": [self._guild_create_thread(t.id) for t in self.threads.values()
                        if not t.archived],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": True,
        }

    def _guild_create_thread(self, thread_id: int) -> dict[str, Any]:
        data = self.thread(thread_id)
        if "member" in data:
            data["member"] = {k: v for k, v in data["member"].items() if k not in ("id", "user_id")}
        return data

    def application(self) -> dict[str, Any]:
        # Unset optional fields are absent, not null: the spec allows no null for them.
        owner = self.user(c.OWNER_ID)
        return {
            "id": str(c.APPLICATION_ID),
            "name": c.BOT_USERNAME,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.user(c.BOT_USER_ID),
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 1 << 23,  # APPLICATION_COMMAND_BADGE
            "flags_new": str(1 << 23),
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
            "max_participants": None,
            "owner": owner,
            "team": None,
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "integration_types_config": {"0": {}},
            "approximate_guild_count": 1,
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
        }
