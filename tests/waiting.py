"""Waiting in tests: poll a condition with a bound, never a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], T | None | Awaitable[T | None]], *, timeout: float = 20,
                     what: str = "", every: float = 0.02) -> T:
    """The first truthy value of ``check`` (sync or async), polled until ``timeout`` seconds have
    passed; then an AssertionError naming ``what``. The event loop keeps running in between, so
    the bot (or a remote command) works on while the test waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(every)
