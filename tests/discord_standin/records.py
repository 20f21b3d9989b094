"""What the stand-in remembers: messages with their edit history, interactions, requests.

Times are `time.monotonic()` seconds, so a test can compare them with its own clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .constants import EPHEMERAL_FLAG, LOADING_FLAG


@dataclass
class StoredAttachment:
    id: int
    filename: str
    data: bytes
    content_type: str
    url: str
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class MessageVersion:
    """One state of a message: its creation, then one per edit."""

    at: float
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    attachments: list[StoredAttachment]
    flags: int
    source: str  # the route that produced it, e.g. "PATCH /channels/{channel_id}/messages/{..}"


@dataclass
class StoredMessage:
    id: int
    channel_id: int
    author_id: int
    type: int
    versions: list[MessageVersion]
    interaction_id: int | None = None
    webhook_id: int | None = None
    deleted: bool = False
    reactions: dict[str, list[int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # message_reference, nonce, tts...

    @property
    def current(self) -> MessageVersion:
        return self.versions[-1]

    @property
    def content(self) -> str:
        return self.current.content

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.current.embeds

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.current.components

    @property
    def attachments(self) -> list[StoredAttachment]:
        return self.current.attachments

    @property
    def flags(self) -> int:
        return self.current.flags

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL_FLAG)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING_FLAG)

    @property
    def edits(self) -> list[MessageVersion]:
        return self.versions[1:]

    @property
    def created_at(self) -> float:
        return self.versions[0].at

    def text(self) -> str:
        """Content plus every embed's visible text, for simple `in` assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields", [])]
            parts.append((embed.get("footer") or {}).get("text", ""))
        return "\n".join(p for p in parts if p)

    def iter_components(self) -> Iterator[dict[str, Any]]:
        """Every interactive component, flattened out of action rows and containers."""
        stack = list(self.components)
        while stack:
            comp = stack.pop(0)
            # Rows and containers hold "components"; a v2 section also has an "accessory".
            nested = list(comp.get("components") or [])
            if "accessory" in comp:
                nested.append(comp["accessory"])
            stack[:0] = nested
            if "custom_id" in comp or comp.get("type") == 2:
                yield comp

    def custom_ids(self) -> list[str]:
        return [comp["custom_id"] for comp in self.iter_components() if "custom_id" in comp]

    def max_edits_within(self, window: float = 1.0) -> int:
        """The most edits that landed inside any `window` seconds (coalescing check)."""
        times = [v.at for v in self.edits]
        best = 0
        start = 0
        for end, t in enumerate(times):
            while t - times[start] > window:
                start += 1
            best = max(best, end - start + 1)
        return best


@dataclass
class ThreadUpdate:
    """One change to a thread: what changed (field → new value), who did it, through what."""

    at: float
    changes: dict[str, Any]
    by: int | None  # a user id; None for Discord itself (auto-archive, unarchive by a post)
    source: str  # the route, or "standin" for a change a test made


@dataclass
class StoredThread:
    """A public thread started from a message: its id is the starter message's id."""

    id: int
    parent_id: int
    owner_id: int
    name: str
    auto_archive_duration: int
    rate_limit_per_user: int
    create_timestamp: str  # ISO 8601, as Discord shows it
    archive_timestamp: str
    created_at: float
    type: int = 11  # PUBLIC_THREAD
    archived: bool = False
    locked: bool = False
    message_count: int = 0  # not counting the starter, less deleted ones
    total_message_sent: int = 0  # not counting the starter, deleted ones too
    last_message_id: int | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id → join timestamp
    updates: list[ThreadUpdate] = field(default_factory=list)

    @property
    def starter_message_id(self) -> int:
        return self.id


@dataclass
class CallbackRecord:
    type: int
    data: dict[str, Any] | None
    at: float
    status: int


@dataclass
class InteractionRecord:
    id: int
    token: str
    type: int  # 2 command, 3 component, 4 autocomplete
    user_id: int
    channel_id: int
    payload: dict[str, Any]
    dispatched_at: float
    name: str | None = None  # "migrate run" for commands
    custom_id: str | None = None
    message_id: int | None = None  # the message a component sits on
    callbacks: list[CallbackRecord] = field(default_factory=list)
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    expired: bool = False

    @property
    def acked(self) -> bool:
        return any(cb.status < 300 for cb in self.callbacks)

    @property
    def callback(self) -> CallbackRecord | None:
        return next((cb for cb in self.callbacks if cb.status < 300), None)

    @property
    def callback_type(self) -> int | None:
        return self.callback.type if self.callback else None

    @property
    def acked_at(self) -> float | None:
        return self.callback.at if self.callback else None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatch to the first accepted callback."""
        return None if self.acked_at is None else self.acked_at - self.dispatched_at

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response (message or defer) asked for flag 64."""
        data = (self.callback.data if self.callback else None) or {}
        return bool(int(data.get("flags") or 0) & EPHEMERAL_FLAG)

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices from a type 8 callback."""
        cb = self.callback
        if cb is None or cb.type != 8:
            return None
        return list((cb.data or {}).get("choices", []))


@dataclass
class RequestRecord:
    method: str
    path: str  # below /api/v10, decoded
    route: str  # "METHOD /template", or "" when no route matched
    query: dict[str, str]
    json: Any
    files: list[tuple[str, int]]  # (filename, size)
    status: int
    at: float


@dataclass
class GatewayFrame:
    direction: str  # "send" (to the bot) or "recv" (from the bot)
    op: int
    t: str | None
    data: Any
    at: float


@dataclass
class IdentifyRecord:
    token_ok: bool
    intents: int | None
    properties: dict[str, Any]
    compress: Any
    at: float
