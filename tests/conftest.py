"""Shared fixtures: real SQLite files in tmp_path, the real sqlite3 CLI, a real journal.

The stand-in `fly` and the loopback Discord live in their own packages (plugins below).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops import demo_data
from ops.context import Engine
from ops.journal import Journal
from ops.targets.local import LocalTarget

pytest_plugins: list[str] = []
for _plugin in ("tests.fakefly.plugin", "tests.discord_standin.plugin"):
    if (Path(__file__).parent / _plugin.split(".")[1] / "plugin.py").exists():
        pytest_plugins.append(_plugin)

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "migrations"

if shutil.which("sqlite3") is None:  # pragma: no cover - a setup problem, said plainly
    raise pytest.UsageError("the sqlite3 CLI is required for the tests (Debian: apt-get install sqlite3)")


def pytest_addoption(parser: pytest.Parser) -> None:
    # tests/test_golden.py compares the sh sessions sent to the host with tests/golden/*.sh;
    # after an intended change, `pytest tests/test_golden.py --update-golden` rewrites them (review the diff).
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.sh from this run instead of comparing with them")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def make_db(path: Path, *, wal: bool = True, users: int = 200, logs: int = 3000) -> dict[str, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return demo_data.create(path, users=users, logs=logs, wal=wal)


def dump(path: Path) -> list[str]:
    """The logical content of a database: schema and every row, in order."""
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump()) + [f"user_version={con.execute('PRAGMA user_version').fetchone()[0]}"]
    finally:
        con.close()


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    shutil.copy(MIGRATIONS / "0001_remove_suspend.sql", d)
    return d


@pytest.fixture
def app_db(tmp_path: Path) -> Path:
    db = tmp_path / "volume" / "app.db"
    make_db(db)
    return db


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    j = await Journal.open(tmp_path / "state" / "opsbot.db")
    yield j
    await j.close()


@pytest.fixture
def engine(app_db: Path, journal: Journal, migrations_dir: Path, tmp_path: Path) -> Engine:
    return Engine(target=LocalTarget(), journal=journal, db_path=str(app_db), migrations_dir=migrations_dir,
                  work_dir=tmp_path / "state" / "work", busy_timeout_ms=2000, phase_timeout_s=120,
                  read_retry_delays=(0.05, 0.1, 0.2))
