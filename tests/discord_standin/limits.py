"""Discord's own limits on what a message may contain, and per-route rate limit counting.

The OpenAPI spec knows some of these; Discord's docs are authoritative, so they are
checked here independently and answered with Discord's 400 "Invalid Form Body" shape.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_FIELDS_MAX = 25
ACTION_ROWS_MAX = 5
ROW_ITEMS_MAX = 5
CHOICES_MAX = 25

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


class FormErrors:
    """Collects errors in Discord's nested `errors` shape: {"embeds": {"0": {...}}}."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: list[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: list[str | int], value: str | None, limit: int) -> None:
        if value is not None and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def body(self) -> dict[str, Any] | None:
        if not self.tree:
            return None
        return {"code": 50035, "errors": self.tree, "message": "Invalid Form Body"}


def check_message(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Return a 400 body when `payload` breaks a documented message limit, else None."""
    errors = FormErrors()
    errors.too_long(["content"], payload.get("content"), CONTENT_MAX)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        total += _check_embed(errors, ["embeds", i], embed)
    if total > EMBED_TOTAL_MAX:
        errors.add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    if not payload.get("flags", 0) & (1 << 15):  # IS_COMPONENTS_V2 has its own rules
        _check_rows(errors, payload.get("components") or [])
    return errors.body()


def _check_embed(errors: FormErrors, path: list[str | int], embed: dict[str, Any]) -> int:
    """Check one embed; return how many characters count towards the 6000 total."""
    size = 0
    for key, limit in _EMBED_TEXT_LIMITS.items():
        errors.too_long([*path, key], embed.get(key), limit)
        size += len(embed.get(key) or "")
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors.add([*path, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for j, fld in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            text = fld.get(key)
            if not text:
                errors.add([*path, "fields", j, key], "BASE_TYPE_REQUIRED",
                           "This field is required")
            errors.too_long([*path, "fields", j, key], text, limit)
            size += len(text or "")
    footer = (embed.get("footer") or {}).get("text")
    author = (embed.get("author") or {}).get("name")
    errors.too_long([*path, "footer", "text"], footer, 2048)
    errors.too_long([*path, "author", "name"], author, 256)
    return size + len(footer or "") + len(author or "")


def _check_rows(errors: FormErrors, rows: list[dict[str, Any]]) -> None:
    if len(rows) > ACTION_ROWS_MAX:
        errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        items = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(items) <= ROW_ITEMS_MAX:
            errors.add(["components", i], "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                       "An action row must hold 1 to 5 components")
        for j, item in enumerate(items):
            _check_item(errors, ["components", i, "components", j], item, seen)


def _check_item(errors: FormErrors, path: list[str | int], item: dict[str, Any],
                seen: set[str]) -> None:
    custom_id = item.get("custom_id")
    errors.too_long([*path, "custom_id"], custom_id, 100)
    errors.too_long([*path, "label"], item.get("label"), 80)
    if custom_id is not None:
        if custom_id in seen:
            errors.add([*path, "custom_id"], "COMPONENT_CUSTOM_ID_DUPLICATED",
                       "Component custom id cannot be duplicated")
        seen.add(custom_id)
    elif item.get("type") == 2 and item.get("style") not in (5, 6):
        errors.add([*path, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")


def check_choices(data: dict[str, Any]) -> dict[str, Any] | None:
    errors = FormErrors()
    choices = data.get("choices") or []
    if len(choices) > CHOICES_MAX:
        errors.add(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, choice in enumerate(choices):
        errors.too_long(["data", "choices", i, "name"], choice.get("name"), 100)
        if isinstance(choice.get("value"), str):
            errors.too_long(["data", "choices", i, "value"], choice["value"], 100)
    return errors.body()


def is_empty_message(payload: dict[str, Any], file_count: int) -> bool:
    keys = ("content", "embeds", "components", "sticker_ids", "poll")
    return file_count == 0 and not any(payload.get(k) for k in keys)


@dataclass
class Bucket:
    limit: int
    per: float
    hits: deque[float] = field(default_factory=deque)

    def hit(self, now: float) -> tuple[int, float]:
        """Count one request; return (remaining, seconds until the window frees up)."""
        while self.hits and now - self.hits[0] >= self.per:
            self.hits.popleft()
        self.hits.append(now)
        reset_after = self.per - (now - self.hits[0])
        return self.limit - len(self.hits), max(reset_after, 0.001)


class RateLimits:
    """Sliding-window counters keyed by route template and its major parameter.

    The default is generous so tests never stall; `set()` installs Discord-like limits
    (e.g. 5 per 5 s for one channel's messages) and makes the stand-in answer 429.
    """

    def __init__(self, default_limit: int = 50, default_per: float = 1.0) -> None:
        self.default = (default_limit, default_per)
        self.overrides: dict[str, tuple[int, float]] = {}
        self.buckets: dict[str, Bucket] = {}
        self.limited: list[tuple[str, float]] = []  # (bucket key, monotonic time) of each 429

    def set(self, route: str, limit: int, per: float) -> None:
        """`route` is like "PATCH /channels/{channel_id}/messages/{message_id}"."""
        self.overrides[route] = (limit, per)

    def hit(self, route: str, major: str) -> tuple[dict[str, str], float | None]:
        """Return the X-RateLimit-* headers and, if exceeded, the retry_after for a 429."""
        key = f"{route}:{major}"
        limit, per = self.overrides.get(route, self.default)
        bucket = self.buckets.setdefault(key, Bucket(limit, per))
        now = time.monotonic()
        remaining, reset_after = bucket.hit(now)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(remaining, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"{zlib.crc32(route.encode()):08x}",
        }
        if remaining >= 0:
            return headers, None
        bucket.hits.pop()  # a rejected request does not use up the window
        self.limited.append((key, now))
        return headers, reset_after
