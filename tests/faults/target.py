"""One fault-injecting target for every test: a real target with a hook after each script.

In the spirit of litestream's fake client: the real thing does the work, and a test overrides
only what it needs. ``on_script(script, result)`` runs after each ``sh`` has really run; it may
change the world (fill the volume, damage a file) and may return another ``ShResult`` to answer
with instead. Every script is kept in ``scripts``, so the same wrapper records a session for the
golden tests. Everything else (fetch, restart, whatever the Target protocol gains) goes to the
wrapped target unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ops.targets.base import DEFAULT_TIMEOUT_S, ShResult, Target

OnScript = Callable[[str, ShResult], ShResult | None | Awaitable[ShResult | None]]


class FaultyTarget:
    def __init__(self, inner: Target, *, on_script: OnScript | None = None) -> None:
        self.inner = inner
        self.on_script = on_script
        self.scripts: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    async def sh(self, script: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> ShResult:
        self.scripts.append(script)
        result = await self.inner.sh(script, timeout=timeout)
        if self.on_script is None:
            return result
        changed = self.on_script(script, result)
        if inspect.isawaitable(changed):
            changed = await changed
        return result if changed is None else changed

    async def fetch(self, remote: str, local: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        await self.inner.fetch(remote, local, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        # Only reached for what is not defined here: the rest of the wrapped target, as it is.
        return getattr(self.inner, name)


def damage(path: Path, *, at: int = 4096 * 2, junk: bytes = b"\xde\xad" * 4000) -> None:
    """Overwrite bytes in the middle of a file, as a torn write or a bad disk would."""
    with open(path, "r+b") as fh:
        fh.seek(at)
        fh.write(junk)


def truncate_half(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
