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


def test_mmap_is_used_only_when_free_memory_holds_the_file_twice_over() -> None:
    from ops.hostfs import mmap_budget

    gib = 2**30
    assert mmap_budget(10 * gib, gib) == gib
    assert mmap_budget(2 * gib, gib) == 0, "too tight: mapped beyond memory, integrity_check thrashes"
    assert mmap_budget(0, gib) == 0  # unknown memory: no mmap


async def test_memory_available_is_capped_by_the_containers_limit() -> None:
    from ops.hostfs import memory_available
    from ops.targets.base import ShResult
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    def machine_sees(out: str):  # type: ignore[no-untyped-def]
        return FaultyTarget(LocalTarget(), on_script=lambda script, result: ShResult(out, "", 0, 0.0))

    gib = 2**30
    # A 256 MiB container on a 23 GiB machine: /proc/meminfo says 20 GiB, the cgroup says 256 MiB.
    kb = 20 * gib // 1024  # /proc/meminfo counts kB
    assert await memory_available(machine_sees(f"{kb}\n---\n{256 * 2**20}\n---\n{100 * 2**20}\n")) == \
        156 * 2**20
    assert await memory_available(machine_sees(f"{kb}\n---\nmax\n---\n{100 * 2**20}\n")) == 20 * gib
    # This machine, for real: a number (the control for the format awk prints).
    assert await memory_available(LocalTarget()) > 0
    assert await memory_available(machine_sees("---\n---\n")) == 0
