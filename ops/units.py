"""Sizes in the one unit every surface uses."""

from __future__ import annotations


def mib(n: int) -> str:
    """Bytes as mebibytes with one decimal: 5_452_595 → "5.2 MiB"."""
    return f"{n / 1024 / 1024:.1f} MiB"
