"""Phase 2.3's `curl -f …/health`, done right: a timeout, a short retry, latency, and a
failure that is a result, not a crash (DESIGN rule 12)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from ops.errors import UsageError
from ops.redact import redact, shown_url
from ops.reporter import Reporter, Status
from ops.settings import HealthSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    url: str
    status: int | None
    latency_ms: float | None
    body: str
    error: str
    attempts: int
    kind: str  # "ok" | "status" | "timeout" | "connection" | "body"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def check_once(session: aiohttp.ClientSession, url: str, timeout: float, expect: str) -> HealthResult:
    shown = shown_url(url)  # results are posted: never with the URL's user:password
    started = time.monotonic()
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True) as resp:
            body = (await resp.content.read(4096)).decode("utf-8", "replace")
            latency = round((time.monotonic() - started) * 1000, 1)
            if not 200 <= resp.status < 300:
                return HealthResult(False, shown, resp.status, latency, body[:300], f"HTTP {resp.status}", 1, "status")
            if expect and expect not in body:
                return HealthResult(False, shown, resp.status, latency, body[:300],
                                    f"the body does not contain {expect!r}", 1, "body")
            return HealthResult(True, shown, resp.status, latency, body[:300], "", 1, "ok")
    except TimeoutError:
        return HealthResult(False, shown, None, None, "", f"no answer within {timeout:g}s", 1, "timeout")
    except aiohttp.ClientError as exc:
        return HealthResult(False, shown, None, None, "", f"connection failed: {redact(str(exc))}", 1, "connection")


async def check_health(url: str, *, timeout: float = 10.0, attempts: int = 3, backoff: float = 0.5,
                       expect: str = "") -> HealthResult:
    """GET ``url`` until it passes or ``attempts`` run out (a cold start may need a moment)."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"the health URL {shown_url(url)!r} is not an http(s) URL",
                         hint="Set HEALTH_URL, e.g. https://timelogger-staging.fly.dev/health.")
    result = None
    async with aiohttp.ClientSession() as session:
        for attempt in range(1, attempts + 1):
            result = await check_once(session, url, timeout, expect)
            result = HealthResult(**{**asdict(result), "attempts": attempt})
            if result.ok:
                return result
            if attempt < attempts:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
    assert result is not None
    return result


async def check_configured(health: HealthSettings) -> HealthResult | None:
    """The app's health with the configured URL, timeout and expectation; None without HEALTH_URL."""
    if not health.url:
        return None
    return await check_health(health.url, timeout=health.timeout_s, expect=health.expect)


async def after_change(health: HealthSettings, reporter: Reporter) -> bool | None:
    """The app's health right after the database changed, as a step of the run; None without a URL."""
    if not health.url:
        return None
    reporter.step("app health", Status.RUNNING)
    result = await check_configured(health)
    assert result is not None
    reporter.step("app health", Status.DONE if result.ok else Status.FAILED,
                  f"HTTP {result.status} in {result.latency_ms} ms" if result.ok else result.error)
    return result.ok

