"""Request parsing and Discord-shaped responses shared by the REST handlers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

if TYPE_CHECKING:
    from .server import StandInServer as DiscordStandIn

_FILE_FIELD = re.compile(r"^files\[(\d+)\]$")
STANDIN_KEY: web.AppKey[Any] = web.AppKey("discord_standin")


def standin_of(request: web.Request) -> DiscordStandIn:
    standin: DiscordStandIn = request.app[STANDIN_KEY]
    return standin


class DiscordError(Exception):
    """Raised by a handler to answer the way Discord does: {"message", "code"[, "errors"]}."""

    def __init__(self, status: int, code: int, message: str,
                 errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors

    @classmethod
    def form(cls, body: dict[str, Any]) -> DiscordError:
        return cls(400, body["code"], body["message"], body.get("errors"))


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
UNKNOWN_EMOJI = 10014
UNKNOWN_WEBHOOK = 10015
UNKNOWN_MEMBER = 10007
UNKNOWN_COMMAND = 10063
UNKNOWN_INTERACTION = 10062


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json"; aiohttp's
    # json_response would append "; charset=utf-8" and turn every answer into a str.
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class UploadedFile:
    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedBody:
    json: Any = None
    json_bytes: bytes | None = None  # what OpenAPI validation sees as the JSON body
    files: list[UploadedFile] = field(default_factory=list)
    multipart: bool = False


async def parse_body(request: web.Request) -> ParsedBody:
    if not request.body_exists:
        return ParsedBody()
    if request.content_type == "multipart/form-data":
        return await _parse_multipart(request)
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            return ParsedBody(json=json.loads(raw), json_bytes=raw)
        except ValueError as exc:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from exc
    return ParsedBody(json_bytes=raw or None)


async def _parse_multipart(request: web.Request) -> ParsedBody:
    parsed = ParsedBody(multipart=True)
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # nested multipart: Discord does not use it
        name = part.name or ""
        data = await part.read()
        if name == "payload_json":
            parsed.json_bytes = bytes(data)
            parsed.json = json.loads(data)
            continue
        match = _FILE_FIELD.match(name)
        if match is None:
            continue  # Discord ignores unknown form fields
        filename = part.filename or f"file{match.group(1)}"
        content_type = part.headers.get("Content-Type", "application/octet-stream")
        parsed.files.append(UploadedFile(int(match.group(1)), filename, content_type, bytes(data)))
    return parsed


def snowflake(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise DiscordError(400, 50035, "Invalid Form Body", {
            name: {"_errors": [{"code": "NUMBER_TYPE_COERCE",
                                "message": f'Value "{raw}" is not snowflake.'}]},
        })
    return int(raw)


def body_of(request: web.Request) -> ParsedBody:
    body: ParsedBody = request["standin_body"]
    return body


def json_object(request: web.Request) -> dict[str, Any]:
    data = body_of(request).json
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DiscordError(400, 50035, "Invalid Form Body")
    return data
