"""The health phase: timeouts, status codes and dead ports are results, never crashes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ops.errors import UsageError
from ops.health import check_health


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, object]]]:
    control: dict[str, object] = {"status": 200, "delay": 0.0, "body": "ok", "hits": 0}

    async def health(_: web.Request) -> web.Response:
        control["hits"] = int(control["hits"]) + 1  # type: ignore[call-overload]
        await asyncio.sleep(float(control["delay"]))  # type: ignore[arg-type]
        return web.Response(status=int(control["status"]), text=str(control["body"]))  # type: ignore[call-overload]

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/health", control
    await runner.cleanup()


async def test_ok_with_latency(server: tuple[str, dict[str, object]]) -> None:
    url, _ = server
    result = await check_health(url, expect="ok")
    assert result.ok and result.status == 200 and result.latency_ms is not None and result.attempts == 1


async def test_retries_then_reports_status(server: tuple[str, dict[str, object]]) -> None:
    url, control = server
    control["status"] = 503
    result = await check_health(url, attempts=3, backoff=0.01)
    assert not result.ok and result.kind == "status" and result.status == 503 and control["hits"] == 3


async def test_timeout_is_a_failure(server: tuple[str, dict[str, object]]) -> None:
    url, control = server
    control["delay"] = 1.0
    result = await check_health(url, timeout=0.1, attempts=2, backoff=0.01)
    assert not result.ok and result.kind == "timeout" and "0.1s" in result.error


async def test_body_mismatch(server: tuple[str, dict[str, object]]) -> None:
    url, control = server
    control["body"] = "degraded"
    result = await check_health(url, expect='"db": "ok"', attempts=1)
    assert not result.ok and result.kind == "body"


async def test_connection_refused() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = await check_health(f"http://127.0.0.1:{port}/health", attempts=1)
    assert not result.ok and result.kind == "connection"


async def test_not_a_url() -> None:
    with pytest.raises(UsageError):
        await check_health("file:///etc/passwd")
