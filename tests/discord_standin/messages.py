"""Stored messages: create, edit (keeping every version), react, and render as Discord JSON."""

from __future__ import annotations

import mimetypes
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from . import constants as c
from .http_util import UNKNOWN_MESSAGE, DiscordError, UploadedFile, unknown
from .records import MessageVersion, StoredAttachment, StoredMessage, StoredThread
from .world import World

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CUSTOM_EMOJI = re.compile(r"^<a?:(\w+):(\d+)>$")


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def emoji_key(emoji: str) -> str:
    """Normalise "✅", "name:id" and "<:name:id>" to the key used in routes: "✅" or "name:id"."""
    match = _CUSTOM_EMOJI.match(emoji)
    return f"{match.group(1)}:{match.group(2)}" if match else emoji


def emoji_payload(key: str) -> dict[str, Any]:
    name, _, emoji_id = key.partition(":")
    if emoji_id.isdigit():
        return {"id": emoji_id, "name": name, "animated": False}
    return {"id": None, "name": key}


class MessageStore:
    def __init__(self, world: World, attachment_base: str, new_id: Callable[[], int]) -> None:
        self.world = world
        self.attachment_base = attachment_base
        self.new_id = new_id
        self.by_id: dict[int, StoredMessage] = {}

    def get(self, message_id: int, channel_id: int | None = None) -> StoredMessage:
        msg = self.by_id.get(message_id)
        if msg is None or msg.deleted or (channel_id is not None and msg.channel_id != channel_id):
            raise unknown("Message", UNKNOWN_MESSAGE)
        return msg

    def in_channel(self, channel_id: int) -> list[StoredMessage]:
        """Messages everyone can see, oldest first (ephemeral ones live on their interaction)."""
        return [m for m in self.by_id.values()
                if m.channel_id == channel_id and not m.deleted and not m.ephemeral]

    def create(
        self,
        channel_id: int,
        author_id: int,
        payload: dict[str, Any],
        files: list[UploadedFile],
        *,
        source: str,
        type: int = 0,
        flags: int | None = None,
        interaction_id: int | None = None,
    ) -> StoredMessage:
        msg = StoredMessage(
            id=self.new_id(),
            channel_id=channel_id,
            author_id=author_id,
            type=type,
            versions=[],
            interaction_id=interaction_id,
            webhook_id=c.APPLICATION_ID if interaction_id is not None else None,
            extra={"timestamp": iso_now()},
        )
        for key in ("message_reference", "nonce", "tts", "allowed_mentions", "sticker_ids"):
            if key in payload:
                msg.extra[key] = payload[key]
        attachments = self._attachments(msg, [], payload, files)
        msg.versions.append(MessageVersion(
            at=time.monotonic(),
            content=payload.get("content") or "",
            embeds=[_normalise_embed(e) for e in payload.get("embeds") or []],
            components=_with_component_ids(payload.get("components") or []),
            attachments=attachments,
            flags=int(payload.get("flags") or 0) if flags is None else flags,
            source=source,
        ))
        thread = self.world.threads.get(channel_id)
        if thread is not None and not msg.ephemeral:
            _count_in_thread(thread, msg)
        self.by_id[msg.id] = msg
        return msg

    def edit(self, msg: StoredMessage, payload: dict[str, Any], files: list[UploadedFile], *,
             source: str, keep_flags: int = c.EPHEMERAL_FLAG) -> StoredMessage:
        """Apply a PATCH: absent keys keep their value, as on Discord."""
        old = msg.current
        flags = old.flags
        if payload.get("flags") is not None:
            # Only some flags (SUPPRESS_EMBEDS) may change; ephemerality never does.
            flags = (int(payload["flags"]) & ~keep_flags) | (old.flags & keep_flags)
        content = old.content if "content" not in payload else payload["content"] or ""
        embeds = old.embeds if "embeds" not in payload else [
            _normalise_embed(e) for e in payload["embeds"] or []]
        components = old.components if "components" not in payload else _with_component_ids(
            payload["components"] or [])
        if "attachments" in payload or files:
            attachments = self._attachments(msg, old.attachments, payload, files)
        else:
            attachments = old.attachments
        msg.versions.append(MessageVersion(time.monotonic(), content, embeds, components,
                                           attachments, flags & ~c.LOADING_FLAG, source))
        msg.extra["edited_timestamp"] = iso_now()
        return msg

    def _attachments(self, msg: StoredMessage, existing: list[StoredAttachment],
                     payload: dict[str, Any], files: list[UploadedFile]) -> list[StoredAttachment]:
        """Keep listed existing attachments and add uploads, following payload["attachments"]."""
        uploads = {f.index: f for f in files}
        listed = payload.get("attachments")
        if listed is None:
            return existing + [self._store_file(msg, f, None) for f in files]
        kept = {a.id: a for a in existing}
        result: list[StoredAttachment] = []
        for entry in listed:
            ref = int(entry.get("id", -1))
            if ref in kept:
                result.append(kept[ref])
            elif ref in uploads:
                result.append(self._store_file(msg, uploads.pop(ref), entry))
            else:
                raise DiscordError(400, 50035, "Invalid Form Body", {"attachments": {"_errors": [
                    {"code": "ATTACHMENT_NOT_FOUND", "message": f"Unknown attachment {ref}"}]}})
        return result

    def _store_file(self, msg: StoredMessage, upload: UploadedFile,
                    entry: dict[str, Any] | None) -> StoredAttachment:
        if len(upload.data) > c.ATTACHMENT_SIZE_LIMIT:
            raise DiscordError(413, 40005, "Request entity too large")
        att_id = self.new_id()
        filename = (entry or {}).get("filename") or upload.filename
        guessed = mimetypes.guess_type(filename)[0]
        content_type = guessed or upload.content_type
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        url = f"{self.attachment_base}/{msg.channel_id}/{att_id}/{quote(filename)}"
        return StoredAttachment(att_id, filename, upload.data, content_type, url,
                                (entry or {}).get("description"))

    def find_attachment(self, attachment_id: int) -> StoredAttachment | None:
        for msg in self.by_id.values():
            for version in msg.versions:
                for att in version.attachments:
                    if att.id == attachment_id:
                        return att
        return None

    def render(self, msg: StoredMessage, *, gateway: bool = False) -> dict[str, Any]:
        """The message object as Discord returns it (gateway events add guild_id and member)."""
        v = msg.current
        data: dict[str, Any] = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "type": msg.type,
            "author": self.world.user(msg.author_id),
            "content": v.content,
            "timestamp": msg.extra["timestamp"],
            "edited_timestamp": msg.extra.get("edited_timestamp"),
            "tts": bool(msg.extra.get("tts", False)),
            "mention_everyone": False,
            "mentions": self._mentions(v.content),
            "mention_roles": [r for r in _ROLE_MENTION.findall(v.content)
                              if int(r) in self.world.roles],
            "attachments": [_render_attachment(a) for a in v.attachments],
            "embeds": v.embeds,
            "pinned": False,
            "flags": v.flags,
            "components": v.components,
        }
        thread = self.world.threads.get(msg.id)
        if thread is not None and thread.parent_id == msg.channel_id:
            # The starter message: Discord shows its thread and the HAS_THREAD flag.
            data["flags"] = v.flags | c.HAS_THREAD_FLAG
            data["thread"] = self.world.thread(thread.id)
        if "position" in msg.extra:
            data["position"] = msg.extra["position"]
        if msg.type == c.THREAD_STARTER_MESSAGE:
            starter = self.by_id.get(int(msg.extra["message_reference"]["message_id"]))
            data["referenced_message"] = (None if starter is None or starter.deleted
                                          else self.render(starter))
        if msg.reactions:
            data["reactions"] = [_render_reaction(k, users) for k, users in msg.reactions.items()]
        for key in ("message_reference", "nonce"):
            if key in msg.extra:
                data[key] = msg.extra[key]
        if msg.webhook_id is not None:
            data["webhook_id"] = str(msg.webhook_id)
            data["application_id"] = str(c.APPLICATION_ID)
        if "interaction_metadata" in msg.extra:
            data["interaction_metadata"] = msg.extra["interaction_metadata"]
        if gateway:
            data["guild_id"] = str(self.world.guild_id)
            if msg.author_id in self.world.users and msg.webhook_id is None:
                data["member"] = self.world.member(msg.author_id, with_user=False)
        return data

    def _mentions(self, content: str) -> list[dict[str, Any]]:
        ids = dict.fromkeys(int(m) for m in _USER_MENTION.findall(content))
        return [{**self.world.user(i), "member": self.world.member(i, with_user=False)}
                for i in ids if i in self.world.users]


def _count_in_thread(thread: StoredThread, msg: StoredMessage) -> None:
    """A message in a thread: its position there, and the thread's counters.

    The starter message (type 21) is position 0 and counts in neither message_count nor
    total_message_sent, as on Discord.
    """
    thread.last_message_id = msg.id
    if msg.type == c.THREAD_STARTER_MESSAGE:
        msg.extra["position"] = 0
        return
    thread.message_count += 1
    thread.total_message_sent += 1
    msg.extra["position"] = thread.total_message_sent


def _render_attachment(att: StoredAttachment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(att.id),
        "filename": att.filename,
        "size": att.size,
        "url": att.url,
        "proxy_url": att.url,
        "content_type": att.content_type,
    }
    if att.description is not None:
        data["description"] = att.description
    return data


def _render_reaction(key: str, users: list[int]) -> dict[str, Any]:
    return {
        "emoji": emoji_payload(key),
        "count": len(users),
        "count_details": {"burst": 0, "normal": len(users)},
        "me": c.BOT_USER_ID in users,
        "me_burst": False,
        "burst_colors": [],
    }


def _normalise_embed(embed: dict[str, Any]) -> dict[str, Any]:
    # Discord stores what it was sent and tags it; the "type" is what a client reads back.
    return {"type": "rich", **embed}


def _with_component_ids(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Discord numbers components that came without an "id", depth first from 1."""
    used: set[int] = set()
    _collect_ids(components, used)
    counter = iter(i for i in range(1, 10_000) if i not in used)

    def number(comp: dict[str, Any]) -> dict[str, Any]:
        out = dict(comp)
        out.setdefault("id", next(counter))
        if isinstance(out.get("emoji"), dict) and out["emoji"].get("id") is None:
            # Discord answers a unicode emoji as {"name": …} without a null id.
            out["emoji"] = {k: v for k, v in out["emoji"].items() if k != "id"}
        if "components" in comp:
            out["components"] = [number(child) for child in comp["components"]]
        return out

    return [number(comp) for comp in components]


def _collect_ids(components: list[dict[str, Any]], used: set[int]) -> None:
    for comp in components:
        if isinstance(comp.get("id"), int):
            used.add(comp["id"])
        _collect_ids(comp.get("components") or [], used)
