"""The journal's own schema: numbered migrations, old journals upgraded in place, newer ones refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from ops import journal_schema
from ops.approvals import Approvals
from ops.checklist import Checklist
from ops.errors import OpsError
from ops.journal import Journal
from ops.journal_schema import Migration
from ops.monitor import HealthMonitor, MonitorConfig
from tests import journal_before_versions as before


def layout(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, default, pk) and every index, as SQLite reports them."""
    con = sqlite3.connect(path)
    try:
        found: dict[str, object] = {t: con.execute(f"PRAGMA table_info({t})").fetchall() for t in before.tables(con)}
        found["indexes"] = con.execute("SELECT name, tbl_name FROM sqlite_master WHERE type='index' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
        found["user_version"] = con.execute("PRAGMA user_version").fetchone()[0]
        return found
    finally:
        con.close()


async def fresh_layout(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "fresh" / "j.db"
    await (await Journal.open(path)).close()
    return layout(path)


@pytest.mark.parametrize("shape", list(before.SHAPES))
async def test_a_journal_from_before_versions_upgrades_in_place(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "state" / "opsbot.db"
    rows = before.write(path, shape)
    con = sqlite3.connect(path)
    old_columns = {t: [n for n, _ in before.columns(con, t)] for t in before.tables(con)}
    con.close()

    journal = await Journal.open(path)
    try:
        con = sqlite3.connect(path)
        try:
            assert before.content(con, old_columns) == rows, "every row and column survives"
            added = {t: [n for n, _ in before.columns(con, t) if n not in old_columns.get(t, [])]
                     for t in before.tables(con)}
            for table, new in added.items():  # what a column added now holds for an old row
                if table in old_columns and new:
                    defaults = con.execute(f"SELECT DISTINCT {','.join(new)} FROM {table}").fetchall()
                    expected = {"allow_row_loss": "", "required_approvers": 1, "env": ""}  # one approver, as before
                    assert defaults == [tuple(expected.get(n) for n in new)], (table, new)
        finally:
            con.close()
        assert layout(path) == await fresh_layout(tmp_path), "an upgraded journal is a fresh one plus its rows"

        # Typed reads of old rows, and the new parts in use.
        run = await journal.run(1)
        assert run is not None and run.summary == {"committed": True, "counts_after": {"users": 3}}
        assert run.who == "alice" and run.phase == "runs.phase.1" and run.started_at == 1_700_000_001.25
        assert run.outcome == ("done" if "outcome" in old_columns["runs"] else None)
        assert [s.name for s in await journal.steps(1)] == ["steps.name.1"]
        assert (await journal.backups("backups.target.1"))["backups.path.1"].counts == {"users": 3}
        await journal.add_run_message(99, 5, 6)
        assert await journal.run_messages(99) == [(5, 6)]
        approvals = Approvals(journal)
        if "approvals" in old_columns:
            old = await approvals.get(1)
            assert old is not None and old.subject == "approvals.subject.1"
            assert old.allow_row_loss == (("activity_logs", "sessions") if "allow_row_loss" in old_columns["approvals"]
                                          else ())
            assert [r.emoji for r in await approvals.reactions(1)] == ["reactions.emoji.1"]
        new_id = await approvals.create(target="local", subject="m.sql", sha256="s", fingerprint="f", requester_id=1,
                                        requester="bob", timeout_s=60, preflight_run_id=None,
                                        allow_row_loss=("logs",))
        assert (await approvals.get(new_id)).allow_row_loss == ("logs",)  # type: ignore[union-attr]
        assert len(await Checklist(journal).create(99, ("by hand",), automatic_ok=True)) == 4
        monitor = HealthMonitor(journal, MonitorConfig(url="http://127.0.0.1:9/"), "local")
        assert await monitor.pause("carol", 5) > 0
    finally:
        await journal.close()


async def test_a_fresh_journal_has_every_table_at_the_latest_version(tmp_path: Path) -> None:
    found = await fresh_layout(tmp_path)
    assert found["user_version"] == journal_schema.latest() == len(journal_schema.MIGRATIONS)
    assert [m.version for m in journal_schema.MIGRATIONS] == list(range(1, journal_schema.latest() + 1))
    assert {"runs", "steps", "backups", "preflights", "locks", "run_messages", "approvals", "reactions",
            "health_checks", "incidents", "health_pauses", "checklist", "checklist_done"} <= set(found)


async def test_opening_an_up_to_date_journal_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = await Journal.open(path)
    await journal.start_run("verify", "local", "alice", lock=False)
    await journal.close()
    first = layout(path)
    journal = await Journal.open(path)
    try:
        assert layout(path) == first and len(await journal.runs()) == 1
    finally:
        await journal.close()


async def test_a_journal_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await (await Journal.open(path)).close()
    newer = newer_journal(path)
    with pytest.raises(OpsError) as info:
        await Journal.open(path)
    assert f"has schema version {newer}, newer than this opsbot knows (up to {journal_schema.latest()})" \
        in info.value.message and str(path) in info.value.message
    assert "A newer opsbot wrote it" in info.value.hint and "STATE_DB" in info.value.hint
    assert layout(path)["user_version"] == newer, "left as it was"


async def test_opening_at_once_applies_each_migration_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot and the CLI (here: four connections, each in its own thread) open a new journal together.
    The last migration is not idempotent on purpose: applied twice, it would fail or count two."""
    once = Migration(journal_schema.latest() + 1, "not idempotent", (
        "CREATE TABLE applied (n INTEGER)", "INSERT INTO applied VALUES (1)"))
    monkeypatch.setattr(journal_schema, "MIGRATIONS", (*journal_schema.MIGRATIONS, once))
    path = tmp_path / "j.db"
    journals = await asyncio.gather(*(Journal.open(path) for _ in range(4)))
    for journal in journals:
        await journal.close()
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT count(*) FROM applied").fetchone()[0] == 1
        assert con.execute("PRAGMA user_version").fetchone()[0] == once.version
    finally:
        con.close()


async def test_a_failing_migration_keeps_nothing_of_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j.db"
    await (await Journal.open(path)).close()
    broken = Migration(journal_schema.latest() + 1, "broken", (
        "CREATE TABLE half (n INTEGER)", "INSERT INTO no_such_table VALUES (1)"))
    monkeypatch.setattr(journal_schema, "MIGRATIONS", (*journal_schema.MIGRATIONS, broken))
    with pytest.raises(OpsError) as info:
        await Journal.open(path)
    assert f"could not upgrade the journal {path} to version {broken.version} (broken)" in info.value.message
    assert "no such table" in info.value.message and "one transaction" in info.value.hint
    found = layout(path)
    assert "half" not in found and found["user_version"] == broken.version - 1


def newer_journal(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    newer = journal_schema.latest() + 1
    con.execute(f"PRAGMA user_version = {newer}")
    con.close()
    return newer


def test_both_faces_refuse_a_newer_journal_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from bot.__main__ import main as bot_main
    from ops.cli import main as cli_main
    from tests.discord_standin import constants as c

    state = tmp_path / "state" / "opsbot.db"
    newer_journal(state)
    monkeypatch.chdir(tmp_path)
    for name, value in {"STATE_DB": str(state), "DB_PATH": str(tmp_path / "app.db"), "TARGET": "local",
                        "DISCORD_TOKEN": c.BOT_TOKEN, "DISCORD_GUILD_ID": str(c.GUILD_ID),
                        "OPS_CHANNEL_ID": str(c.OPS_CHANNEL_ID), "OPERATOR_ROLE_ID": str(c.OPERATOR_ROLE_ID),
                        "APPROVER_ROLE_ID": str(c.APPROVER_ROLE_ID)}.items():
        monkeypatch.setenv(name, value)
    assert bot_main([]) == 1
    said = capsys.readouterr().err
    assert "newer than this opsbot knows" in said and "→ A newer opsbot wrote it" in said and "Traceback" not in said
    assert cli_main(["backups"]) == 1
    said = capsys.readouterr().out
    assert "newer than this opsbot knows" in said and "A newer opsbot wrote it" in said
