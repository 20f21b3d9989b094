"""The runbook's migration written in sqlite.org's canonical 12-step shape (PRAGMA foreign_keys=off;
BEGIN TRANSACTION; … PRAGMA foreign_key_check; COMMIT; PRAGMA foreign_keys=on;) runs unchanged
through preflight → approval → migrate → rollback, from the CLI and from the bot."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ops.context import Engine
from tests.bot_harness import RunningBot, button_ids, is_applied_run, start_bot, user_version
from tests.conftest import REPO, dump, make_db
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.test_cli import cli, env_for

NAME = "0002_remove_suspend_12_step.sql"


def canonical(path: Path) -> None:
    body = (REPO / "migrations" / "0001_remove_suspend.sql").read_text()
    path.write_text("PRAGMA foreign_keys=off;\nBEGIN TRANSACTION;\n" + body +
                    "\nPRAGMA foreign_key_check;\nCOMMIT;\nPRAGMA foreign_keys=on;\n")


def test_canonical_file_from_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=40, logs=400)
    original = dump(db)
    mig = tmp_path / "migrations"
    mig.mkdir()
    canonical(mig / NAME)
    env = {**env_for(tmp_path, db), "MIGRATIONS_DIR": str(mig)}
    pre = json.loads(cli("--json", "preflight", NAME, env=env, cwd=tmp_path).stdout)
    assert pre["ok"] and pre["lint"] == [w for w in pre["lint"] if w.startswith("warning")], pre
    notes = " ".join(pre["notes"])
    assert "own BEGIN" in notes and "own COMMIT" in notes and "foreign_key_check" in notes
    assert "user_settings" in pre["rebuilt"]
    done = cli("--json", "migrate", NAME, "--yes", "--fingerprint", pre["fingerprint"], env=env, cwd=tmp_path)
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["user_version"] == 8 and result["counts"]["activity_logs"] == 400
    back = json.loads(cli("--json", "rollback", "--yes", env=env, cwd=tmp_path).stdout)
    assert back["ok"] and dump(db) == original


@pytest.fixture
async def running(discord_standin: DiscordStandIn, engine: Engine) -> AsyncIterator[RunningBot]:
    canonical(engine.migrations_dir / NAME)
    bot = await start_bot(discord_standin, engine)
    yield bot
    await bot.stop()


async def test_canonical_file_from_the_bot(discord_standin: DiscordStandIn, running: RunningBot,
                                           engine: Engine) -> None:
    original = dump(engine.db_path)
    rec = await discord_standin.send_slash_command("migrate run", {"migration": NAME}, user_id=c.OPERATOR1_ID)
    message = await discord_standin.wait_for_message(lambda m: "Awaiting approval" in m.text(), timeout=30)
    await discord_standin.wait_for_followup(rec, timeout=30)
    assert "own BEGIN" in message.text() and "none: any lost row aborts" in message.text()
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    done = await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
    assert user_version(engine.db_path) == 8
    asked = await discord_standin.click_button(done.id, button_ids(done)[0], user_id=c.APPROVER1_ID)
    confirm = await discord_standin.wait_for_followup(asked)
    await discord_standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=30)
    assert dump(engine.db_path) == original


async def test_row_loss_allowed_on_the_request_is_shown_and_used(discord_standin: DiscordStandIn,
                                                                 running: RunningBot, engine: Engine) -> None:
    (engine.migrations_dir / "0003_prune.sql").write_text("DELETE FROM activity_logs WHERE id % 2 = 0;\n")
    rec = await discord_standin.send_slash_command(
        "migrate run", {"migration": "0003_prune.sql", "allow_row_loss": "activity_logs"}, user_id=c.OPERATOR1_ID)
    message = await discord_standin.wait_for_message(lambda m: "Awaiting approval" in m.text(), timeout=30)
    await discord_standin.wait_for_followup(rec, timeout=30)
    assert "Rows may be lost in" in message.text() and "activity_logs" in message.text()
    approval = await running.bot.approvals.by_message(message.id)
    assert approval is not None and approval.allow_row_loss == ("activity_logs",)
    await discord_standin.add_reaction(message.id, "✅", user_id=c.APPROVER1_ID)
    await discord_standin.wait_for_message(is_applied_run, where="any", timeout=30)
