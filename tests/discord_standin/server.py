"""The loopback server: lifecycle, the request pipeline, and the state handlers mutate.

Every REST call goes through `_api_call`: parse the body once (JSON or multipart with
payload_json), validate against the OpenAPI spec, count it for rate limits, check the bot
token, run the handler, then log it and classify any failure as a problem for teardown.
"""

from __future__ import annotations

import asyncio
import socket
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import constants as c
from . import rest_interactions, rest_messages, rest_misc, rest_threads
from .gateway import Gateway
from .http_util import (
    STANDIN_KEY,
    DiscordError,
    ParsedBody,
    json_response,
    parse_body,
)
from .limits import RateLimits
from .messages import MessageStore, emoji_payload
from .records import InteractionRecord, RequestRecord, StoredMessage
from .threads import forget_message
from .validation import SpecValidator
from .world import World

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
# Routes Discord authenticates by the token in the URL, not the Authorization header.
_TOKEN_IN_URL = ("/webhooks/", "/interactions/")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StandInServer:
    def __init__(self, *, token: str = c.BOT_TOKEN, spec_path: str | None = None,
                 world: World | None = None, zlib_stream: bool = False) -> None:
        self.world = world or World()
        self._token = token
        self.spec_path = spec_path
        self.zlib_stream = zlib_stream
        self.ack_deadline = c.ACK_DEADLINE_S
        self.fail_on_problems = True
        self.rate_limits = RateLimits()
        self.commands: dict[int | None, dict[str, dict[str, Any]]] = {}
        self.sync_count = 0
        self.interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self.requests: list[RequestRecord] = []
        self.violations: list[str] = []
        self.unknown_routes: list[str] = []
        self.rejections: list[str] = []
        self.issues: list[str] = []
        self.not_found: list[str] = []
        # With a spec, the stand-in also checks its own answers; a hit there is a stand-in bug.
        self.check_responses = True
        self.stand_in_violations: list[str] = []
        self._last_id = 0
        self._changed_event: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._validator: SpecValidator | None = None
        self.port = 0
        # Injected server errors: {"route", "status", "after_handler", "times"} (see fail_next).
        self.server_faults: list[dict[str, Any]] = []
        # Discord posts a THREAD_CREATED notice ("opsbot started a thread") in the parent
        # channel when a thread is started from an "older" message; it does not say how old.
        # Seconds, or None for never (the default).
        self.thread_notice_after: float | None = None

    def fail_next(self, route: str, *, status: int = 500, after_handler: bool = False, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``route`` ("POST /channels/{channel_id}/messages")
        with ``status``: before doing anything, or (``after_handler``) after the call took effect,
        as Discord does when its gateway to the API fails after the message was stored."""
        self.server_faults.append({"route": route, "status": status, "after_handler": after_handler,
                                   "times": times})

    def _take_server_fault(self, route: str) -> dict[str, Any] | None:
        for fault in self.server_faults:
            if fault["route"] == route and fault["times"] > 0:
                fault["times"] -= 1
                return fault
        return None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_base = self.base_url + API_PREFIX
        self.gateway_url = f"ws://127.0.0.1:{self.port}/"
        self._changed_event = asyncio.Event()
        self.messages = MessageStore(self.world, f"{self.base_url}/attachments", self.new_id)
        self.gateway = Gateway(world=self.world, token=self._token, url=self.gateway_url,
                               on_change=self._changed, on_problem=self.record_issue,
                               zlib_stream=self.zlib_stream)
        if self.spec_path:
            self._validator = SpecValidator(self.spec_path, self.base_url)
        self._runner = web.AppRunner(self._build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # also closes a still-open gateway socket (1001)
            self._runner = None

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app[STANDIN_KEY] = self
        for method, path, handler in (rest_misc.ROUTES + rest_messages.ROUTES
                                      + rest_threads.ROUTES + rest_interactions.ROUTES):
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}",
                           self._serve_attachment)
        app.router.add_get("/", self.gateway.handle)
        return app

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        att = self.messages.find_attachment(int(request.match_info["attachment_id"]))
        if att is None:
            return web.Response(status=404)
        return web.Response(body=att.data, headers={"Content-Type": att.content_type})

    # -- the REST pipeline -----------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        try:
            return await self._api_call(request, handler)
        finally:
            self._changed()

    async def _api_call(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        route = _route_name(request)
        request["standin_route"] = route
        body = ParsedBody()
        try:
            body = await parse_body(request)
            request["standin_body"] = body
            self._validate(request, body)
            headers, retry_after = self.rate_limits.hit(route or "?", _major(request))
            response = await self._respond(request, handler, route, retry_after)
        except DiscordError as exc:
            headers = {}
            response = json_response(exc.body, exc.status)
            self._classify(request, exc)
        response.headers.update(headers)
        if route and not request.get("standin_injected"):
            self._validate_response(request, response)
        self._log_request(request, route, body, response.status)
        return response

    async def _respond(self, request: web.Request, handler: _Handler, route: str,
                       retry_after: float | None) -> web.StreamResponse:
        if not route:
            self.unknown_routes.append(f"{request.method} {request.path_qs}")
            if request.match_info.http_exception.status == 405:
                raise DiscordError(405, 0, "405: Method Not Allowed")
            raise DiscordError(404, 0, "404: Not Found")
        if retry_after is not None:
            response = json_response({"message": "You are being rate limited.",
                                      "retry_after": round(retry_after, 3), "global": False}, 429)
            response.headers["Via"] = "1.1 google"  # discord.py retries a 429 only with Via
            response.headers["Retry-After"] = f"{retry_after:.3f}"
            return response
        path = route.split(" ", 1)[1]
        if not path.startswith(_TOKEN_IN_URL) and path != "/gateway":
            if request.headers.get("Authorization") != f"Bot {self._token}":
                raise DiscordError(401, 0, "401: Unauthorized")
        fault = self._take_server_fault(route)
        if fault is not None:  # an outage on purpose: Discord's spec lists no 5xx answers to check it by
            request["standin_injected"] = True
        if fault is not None and not fault["after_handler"]:
            raise DiscordError(fault["status"], 0, f"{fault['status']}: injected server error")
        try:
            response = await handler(request)
            if fault is not None:
                raise DiscordError(fault["status"], 0, f"{fault['status']}: injected server error")
            return response
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A body of the wrong shape: Discord answers 400, it does not fall over.
            raise DiscordError(400, 50035, "Invalid Form Body",
                               {"_errors": [{"code": "BASE_TYPE_INVALID",
                                             "message": f"{type(exc).__name__}: {exc}"}]}) from exc

    def _validate(self, request: web.Request, body: ParsedBody) -> None:
        if self._validator is None:
            return
        # Multipart bodies are validated through their payload_json part.
        content_type = "application/json" if body.json_bytes is not None and (
            body.multipart or request.content_type == "application/json") else request.content_type
        call = self._validator.request(request.method, request.rel_url.raw_path, request.query,
                                       request.headers, body.json_bytes, content_type)
        request["standin_spec_call"] = call
        self.violations.extend(self._scrub(v) for v in self._validator.check_request(call))

    def _validate_response(self, request: web.Request, response: web.StreamResponse) -> None:
        call = request.get("standin_spec_call")
        if self._validator is None or call is None or not self.check_responses:
            return
        if response.status in (401, 429) or not isinstance(response, web.Response):
            return  # the spec describes these generically; nothing of the stand-in's to check
        body = response.body if isinstance(response.body, bytes) else None
        found = self._validator.check_response(call, response.status, body, response.headers)
        self.stand_in_violations.extend(self._scrub(v) for v in found)

    def _classify(self, request: web.Request, exc: DiscordError) -> None:
        what = self._scrub(f"{request.method} {request.path_qs} -> {exc.status} {exc.body}")
        if exc.status == 404 and exc.body.get("code"):
            self.not_found.append(what)  # "Unknown Message" etc. is a normal Discord answer
        elif exc.body.get("code") != 0 or exc.status == 401:
            self.rejections.append(what)

    def _log_request(self, request: web.Request, route: str, body: ParsedBody,
                     status: int) -> None:
        self.requests.append(RequestRecord(
            method=request.method,
            path=request.path[len(API_PREFIX):],
            route=route,
            query=dict(request.query),
            json=body.json,
            files=[(f.filename, len(f.data)) for f in body.files],
            status=status,
            at=time.monotonic(),
        ))

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<bot token>")

    # -- state shared with the handlers ----------------------------------------------------

    def new_id(self) -> int:
        """A fresh snowflake: time-ordered like Discord's, strictly increasing."""
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        self._last_id = max(self._last_id + 1, now_ms << 22)
        return self._last_id

    def _changed(self) -> None:
        """Wake every `wait_until` so it re-checks its condition."""
        if self._changed_event is not None:
            self._changed_event.set()
            self._changed_event = asyncio.Event()

    def record_issue(self, text: str) -> None:
        self.issues.append(self._scrub(text))
        self._changed()

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        return self._by_token.get(token)

    def _register_interaction(self, rec: InteractionRecord) -> None:
        self.interactions[rec.id] = rec
        self._by_token[rec.token] = rec

    async def dispatch(self, event: str, data: dict[str, Any], *, required: bool = True) -> None:
        await self.gateway.dispatch(event, data, required=required)
        self._changed()

    async def delete_message(self, msg: StoredMessage) -> None:
        msg.deleted = True
        forget_message(self.world.threads, msg)
        if not msg.ephemeral:
            await self.dispatch("MESSAGE_DELETE", {
                "id": str(msg.id), "channel_id": str(msg.channel_id),
                "guild_id": str(self.world.guild_id)}, required=False)

    def _reaction_event(self, msg: StoredMessage, key: str, user_id: int) -> dict[str, Any]:
        return {
            "user_id": str(user_id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "guild_id": str(self.world.guild_id),
            "emoji": emoji_payload(key),
            "burst": False,
            "type": 0,
        }

    async def store_reaction(self, msg: StoredMessage, key: str, user_id: int, *,
                             required: bool = False) -> None:
        users = msg.reactions.setdefault(key, [])
        if user_id in users:
            return  # Discord answers 204 and sends nothing for a repeated reaction
        users.append(user_id)
        event = {**self._reaction_event(msg, key, user_id),
                 "member": self.world.member(user_id),
                 "message_author_id": str(msg.author_id),
                 "burst_colors": []}
        await self.dispatch("MESSAGE_REACTION_ADD", event, required=required)

    async def drop_reaction(self, msg: StoredMessage, key: str, user_id: int, *,
                            required: bool = False) -> None:
        users = msg.reactions.get(key, [])
        if user_id not in users:
            return
        users.remove(user_id)
        if not users:
            del msg.reactions[key]
        await self.dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(msg, key, user_id),
                            required=required)

    # -- problems --------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Everything that should fail a test unless it was expected and cleared."""
        return ([f"OpenAPI violation: {v}" for v in self.violations]
                + [f"unknown route: {u}" for u in self.unknown_routes]
                + [f"rejected by Discord rules: {r}" for r in self.rejections]
                + [f"issue: {i}" for i in self.issues]
                + [f"stand-in answered off-spec (fix tests/discord_standin): {v}"
                   for v in self.stand_in_violations])

    def clear_problems(self) -> None:
        for found in (self.violations, self.unknown_routes, self.rejections, self.issues,
                      self.stand_in_violations):
            found.clear()


def _route_name(request: web.Request) -> str:
    """"PATCH /channels/{channel_id}/messages/{message_id}", or "" when no route matched."""
    if request.match_info.http_exception is not None:
        return ""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template[len(API_PREFIX):]}"


def _major(request: web.Request) -> str:
    """Discord buckets per major parameter: channel, guild, or webhook/interaction."""
    info = request.match_info
    for key in ("channel_id", "guild_id", "interaction_id"):
        if key in info:
            return f"{key}={info[key]}"
    if "webhook_id" in info:
        token = info.get("webhook_token", "")
        return f"webhook={info['webhook_id']}/{zlib.crc32(token.encode()):08x}"
    return ""
