"""Sizes in the one form every surface uses: human units, three significant figures or so."""

from __future__ import annotations

UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def size(n: int) -> str:
    """Bytes in the largest unit that keeps the number at least 1: 5_452_595 → "5.2 MiB",
    81_855_045_222 → "76.2 GiB", 900 → "900 bytes"."""
    value, unit = float(n), 0
    while value >= 1024 and unit < len(UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value):,} bytes" if unit == 0 else f"{value:,.1f} {UNITS[unit]}"


HASH_SHOWN = 12  # one length for every hash people see: sha256s, schema fingerprints, commits


def short_hash(value: str) -> str:
    return value[:HASH_SHOWN]
