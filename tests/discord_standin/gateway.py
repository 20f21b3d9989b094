"""The gateway side: HELLO, IDENTIFY/RESUME, heartbeats, and numbered DISPATCH events.

discord.py connects to `DEFAULT_GATEWAY?v=10&encoding=json&compress=zlib-stream` and
decompresses only *binary* frames, so plain JSON text frames work whatever it asks for.
`zlib_stream=True` exercises its real decompression path instead.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .constants import APPLICATION_ID
from .records import GatewayFrame, IdentifyRecord
from .world import World

HEARTBEAT_INTERVAL_MS = 41_250
# Gateway close codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
CLOSE_DECODE_ERROR = 4002
CLOSE_AUTH_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013


class NotConnected(RuntimeError):
    pass


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, zlib_stream: bool) -> None:
        self.ws = ws
        self.compressor = zlib.compressobj() if zlib_stream else None
        self.identified = False
        # REST handlers and the receive loop both send: keep sequence numbers and the
        # zlib stream in wire order.
        self.lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        if self.compressor is None:
            await self.ws.send_str(text)
            return
        # zlib-stream: one shared context, every message ends with a Z_SYNC_FLUSH marker.
        data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send_bytes(data)


class Gateway:
    def __init__(
        self,
        *,
        world: World,
        token: str,
        url: str,
        on_change: Callable[[], None],
        on_problem: Callable[[str], None],
        zlib_stream: bool = False,
    ) -> None:
        self.world = world
        self.url = url
        self.zlib_stream = zlib_stream
        self._token = token
        self._on_change = on_change
        self._on_problem = on_problem
        self._conn: _Connection | None = None
        self.seq = 0
        self.session_id: str | None = None
        self._sent: list[dict[str, Any]] = []  # every dispatch, for RESUME replay
        self.log: list[GatewayFrame] = []
        self.identify: IdentifyRecord | None = None
        self.connections = 0
        self.resumes = 0
        self.queries: list[dict[str, str]] = []  # each connection's ?v=&encoding=&compress=
        self.modes: list[str] = []  # how each connection was served: "text" or "zlib-stream"

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.identified and not self._conn.ws.closed

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connections += 1
        query = dict(request.query)
        self.queries.append(query)
        conn = _Connection(ws, self.zlib_stream and query.get("compress") == "zlib-stream")
        self.modes.append("zlib-stream" if conn.compressor else "text")
        if query.get("v") != "10" or query.get("encoding", "json") != "json":
            self._on_problem(f"gateway: unsupported query {query}")
            await ws.close(code=CLOSE_INVALID_VERSION)
            return ws
        self._conn = conn
        await self._send(conn, {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            await self._receive_loop(conn)
        finally:
            if self._conn is conn:
                self._conn = None
            self._on_change()
        return ws

    async def _receive_loop(self, conn: _Connection) -> None:
        async for msg in conn.ws:
            if msg.type is not WSMsgType.TEXT:
                self._on_problem(f"gateway: unexpected {msg.type.name} frame from the client")
                await conn.ws.close(code=CLOSE_DECODE_ERROR)
                return
            try:
                frame = json.loads(msg.data)
            except ValueError:
                await conn.ws.close(code=CLOSE_DECODE_ERROR)
                return
            await self._on_frame(conn, frame)
            self._on_change()

    async def _on_frame(self, conn: _Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        self.log.append(GatewayFrame("recv", op, None, _redacted(data), time.monotonic()))
        if op == 1:
            await self._send(conn, {"op": 11})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        # op 3 presence, 4 voice state, 8 request members: recorded above, nothing to answer.

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        if conn.identified:
            await conn.ws.close(code=CLOSE_ALREADY_AUTHENTICATED)
            return
        token_ok = data.get("token") == self._token
        intents = data.get("intents")
        self.identify = IdentifyRecord(token_ok, intents, dict(data.get("properties") or {}),
                                       data.get("compress"), time.monotonic())
        if not token_ok:
            self._on_problem("gateway: IDENTIFY with a wrong token")
            await conn.ws.close(code=CLOSE_AUTH_FAILED, message=b"Authentication failed.")
            return
        if not isinstance(intents, int):
            await conn.ws.close(code=CLOSE_INVALID_INTENTS)
            return
        conn.identified = True
        self.session_id = uuid.uuid4().hex
        self._sent.clear()
        self.seq = 0
        await self.dispatch("READY", self._ready_payload())
        await self.dispatch("GUILD_CREATE", self.world.guild_create(intents))

    def _ready_payload(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.world.bot_user(),
            "guilds": [{"id": str(self.world.guild_id), "unavailable": True}],
            "session_id": self.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": str(APPLICATION_ID), "flags": 1 << 23},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["discord-standin"],
        }

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self._token or data.get("session_id") != self.session_id:
            await self._send(conn, {"op": 9, "d": False})
            return
        conn.identified = True
        self.resumes += 1
        after = data.get("seq") or 0
        async with conn.lock:
            for payload in [p for p in self._sent if p["s"] > after]:
                await self._send_locked(conn, payload)
        await self.dispatch("RESUMED", {"_trace": ["discord-standin"]})

    async def dispatch(self, event: str, data: dict[str, Any], *, required: bool = True) -> None:
        """Send one DISPATCH. With required=False a disconnected bot just misses it."""
        conn = self._conn
        if conn is None or not conn.identified or conn.ws.closed:
            if required:
                raise NotConnected(f"cannot dispatch {event}: the bot is not connected")
            return
        async with conn.lock:
            self.seq += 1
            payload = {"op": 0, "t": event, "s": self.seq, "d": data}
            self._sent.append(payload)
            await self._send_locked(conn, payload)

    async def _send(self, conn: _Connection, payload: dict[str, Any]) -> None:
        async with conn.lock:
            await self._send_locked(conn, payload)

    async def _send_locked(self, conn: _Connection, payload: dict[str, Any]) -> None:
        self.log.append(GatewayFrame("send", payload["op"], payload.get("t"), payload.get("d"),
                                     time.monotonic()))
        await conn.send(payload)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs at resume_gateway_url."""
        if self._conn is None:
            raise NotConnected("no gateway connection")
        await self._send(self._conn, {"op": 7, "d": None})

    async def close(self, code: int = 1000) -> None:
        if self._conn is not None and not self._conn.ws.closed:
            await self._conn.ws.close(code=code)


def _redacted(data: Any) -> Any:
    """IDENTIFY and RESUME carry the token; the log must never hold it."""
    if isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data
