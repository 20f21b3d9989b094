"""Numbers in human units, the same on every surface."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    """1536 → "1.5 KiB"; 78063.7 MiB → "76.2 GiB"."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
