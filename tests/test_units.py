"""Sizes in human units on every surface (issue 13: no "78063.7 MiB free")."""

from __future__ import annotations

import pytest

from ops.units import size


@pytest.mark.parametrize(("n", "shown"), [
    (0, "0 bytes"), (900, "900 bytes"), (1024, "1.0 KiB"), (5_452_595, "5.2 MiB"),
    (81_855_045_222, "76.2 GiB"), (3 * 2**50, "3,072.0 TiB"),
])
def test_sizes_are_shown_in_the_largest_unit_that_keeps_them_at_least_one(n: int, shown: str) -> None:
    assert size(n) == shown
