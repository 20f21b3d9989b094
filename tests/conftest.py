"""Shared fixtures. The stand-in `fly` and the loopback Discord live in their own packages."""

from __future__ import annotations

pytest_plugins: list[str] = []
