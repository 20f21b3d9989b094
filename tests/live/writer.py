"""Start and stop tests/live/app_writer.py around a block of a test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO


class Writer:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.committed = 0
        self.worst_s = 0.0  # the longest commit the app saw: how long its writers were held up


@contextmanager
def app_writing(db: Path | str, interval_ms: float = 5) -> Iterator[Writer]:
    """The app commits a row every ``interval_ms`` for as long as the block runs."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.live.app_writer", str(db), str(interval_ms)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    writer = Writer(proc)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield writer
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        fields = out.split()
        writer.committed = int(fields[0]) if fields else 0
        writer.worst_s = float(fields[1]) if len(fields) > 1 else 0.0
