"""Secrets: with the Discord and Fly tokens set to recognisable values, every command and the main
failure paths (including flyctl and the app's own logs printing the token) leave the tokens in no
message Discord received, no log line, no terminal output and no journal row."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ops.context import Engine
from tests.bot_harness import button_ids, details_of, is_applied_run, start_bot
from tests.conftest import MIGRATIONS, REPO, make_db
from tests.discord_standin import constants as c
from tests.discord_standin.standin import DiscordStandIn
from tests.fakefly.plugin import FakeFly
from tests.faults.helpers import journal_text

MIGRATION = "0001_remove_suspend.sql"
# The shape of a real bot token; the stand-in's own token is used where it must log in.
CLI_DISCORD_TOKEN = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GsEcRt.do-not-leak-discord-cli-0123456789abcd"


def leaks(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s and s in text]


# --- the terminal: every command of `python -m ops`, with debug logging ------------------------


def test_cli_never_prints_or_stores_a_token(tmp_path: Path, fakefly: FakeFly) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=50, logs=300)
    state_db = tmp_path / "state" / "opsbot.db"
    env = {**os.environ, **fakefly.env, "TARGET": "fly", "FLYCTL": str(fakefly.bin), "FLY_APP": fakefly.app,
           "FLY_API_TOKEN": fakefly.token, "DISCORD_TOKEN": CLI_DISCORD_TOKEN, "DB_PATH": str(db),
           "MIGRATIONS_DIR": str(MIGRATIONS), "STATE_DB": str(state_db), "PYTHONPATH": str(REPO),
           "COLUMNS": "300"}
    # The app's own log prints the token: `logs` must not pass it on.
    fakefly.write_logs(["starting", f"ERROR config: FLY_API_TOKEN={fakefly.token} DISCORD_TOKEN={CLI_DISCORD_TOKEN}"])
    outputs: list[str] = []

    def ops(*args: str, status: int | None = 0) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([sys.executable, "-m", "ops", "-v", *args], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120, check=False)
        outputs.append(f"{out.stdout}\n{out.stderr}")  # what the terminal showed (not the argv)
        if status is not None:
            assert out.returncode == status, outputs[-1]
        return out

    ops("preflight", MIGRATION)
    ops("backup", "--label", "secrets")
    ops("--json", "backups")
    ops("migrate", MIGRATION, "--yes")
    ops("verify", "--quick")
    ops("--json", "rollback", "--yes")
    logs = ops("--json", "logs", "--lines", "5")
    assert "[redacted]" in json.loads(logs.stdout)["lines"][-1]
    ops("status")
    ops("health", "--url", "http://127.0.0.1:9/health", status=None)  # nothing listens there
    ops("demo")
    # Failure paths whose text carries the token: flyctl echoing it, a refused token, a drop.
    fakefly.add_fault("ssh", "exit1", match=".backup", times=1,
                      message=f"token {fakefly.token} was refused by the machine")
    echoed = ops("--json", "backup", "--label", "echo", status=1)
    assert "[redacted]" in echoed.stdout
    fakefly.add_fault("ssh", "drop", match="BEGIN IMMEDIATE", times=1)
    ops("--json", "migrate", MIGRATION, "--yes", status=1)
    state = fakefly.state()
    state["token"] = "FlyV1 some-other-token-the-api-expects"
    fakefly.save_state(state)
    refused = ops("status", status=None)
    assert "token is missing, invalid or lacks access" in refused.stdout + refused.stderr
    ops("backup", "--label", fakefly.token, status=2)  # a refused label is echoed in its error

    text = "\n".join(outputs)
    shown = [ln for ln in text.splitlines() if leaks(ln, fakefly.token, CLI_DISCORD_TOKEN)]
    assert shown == [], "a token reached the terminal"
    assert "DEBUG" in text, "the runs above must have logged at debug level"
    assert leaks(journal_text(state_db), fakefly.token, CLI_DISCORD_TOKEN) == [], "a token reached the journal"
    argvs = "\n".join(" ".join(a) for a in fakefly.argvs())
    assert leaks(argvs, fakefly.token) == [], "the token goes to flyctl through its environment only"


# --- Discord: the bot's commands and failure paths over the stand-in ---------------------------


async def test_bot_never_sends_logs_or_stores_a_token(
    discord_standin: DiscordStandIn, engine: Engine, fakefly: FakeFly, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", c.BOT_TOKEN)
    monkeypatch.setenv("FLY_API_TOKEN", fakefly.token)
    caplog.set_level(logging.DEBUG)
    engine.target = fakefly.target()
    fakefly.write_logs([f"app boot, DISCORD_TOKEN={c.BOT_TOKEN}", f"ERROR fly token {fakefly.token}"])
    secrets = (c.BOT_TOKEN, fakefly.token)
    standin = discord_standin

    async def command(name: str, options: dict, *, user: int = c.APPROVER2_ID, done: str = "") -> None:
        rec = await standin.send_slash_command(name, options, user_id=user)
        await standin.wait_for_followup(rec, timeout=30)
        if done:
            await standin.wait_for_message(lambda m: done in m.text(), timeout=30)

    bot = await start_bot(standin, engine)
    try:
        await command("migrate status", {})
        await command("migrate logs", {"lines": 5})
        await command("migrate backup", {"label": "secrets"}, done="✅ Backed up")
        await command("migrate backups", {})
        await command("migrate preflight", {"migration": MIGRATION}, done="✅ Passed: preflight")
        rec = await standin.send_slash_command("migrate run", {"migration": MIGRATION}, user_id=c.OPERATOR1_ID)
        approval = await standin.wait_for_message(lambda m: "Awaiting approval" in m.text(), timeout=30)
        await standin.wait_for_reaction(approval.id, "❌")
        await standin.wait_for_followup(rec)
        await standin.add_reaction(approval.id, "✅", user_id=c.APPROVER1_ID)
        done = await standin.wait_for_message(is_applied_run, where="any", timeout=30)
        await command("migrate verify", {}, done="✅ Passed: verify")
        await command("migrate history", {})
        rollback_id = next(i for i in button_ids(done) if i.startswith("opsbot:rollback:"))
        asked = await standin.click_button(done.id, rollback_id, user_id=c.APPROVER1_ID)
        confirm = await standin.wait_for_followup(asked, timeout=30)
        await standin.click_button(confirm.id, button_ids(confirm)[0], user_id=c.APPROVER1_ID)
        await standin.wait_for_message(lambda m: "⏪ Rolled back: restored" in m.text(), timeout=30)
        # Failure paths: flyctl prints the token in its error; then the Fly API refuses the token.
        fakefly.add_fault("ssh", "exit1", match=".backup", times=1, message=f"token {fakefly.token} refused")
        await command("migrate backup", {"label": "echo"})
        failed = await standin.wait_for_message(lambda m: "❌ Failed: backup" in m.text(), timeout=30)
        assert "[redacted]" in details_of(standin, failed).text()  # the error is in the card's thread
        state = fakefly.state()
        state["token"] = "FlyV1 some-other-token-the-api-expects"
        fakefly.save_state(state)
        engine.target = fakefly.target()  # choose the machine again, so the refusal shows at once
        await command("migrate status", {})
        await command("migrate backup", {"label": "refused"})
    finally:
        await bot.stop()

    sent = standin.dump()
    assert leaks(sent, *secrets) == [], "a token reached Discord (message, request or gateway frame)"
    assert "[redacted]" in sent and "token is missing, invalid or lacks access" in sent
    logged = "\n".join([caplog.text] + [r.getMessage() + (r.exc_text or "") for r in caplog.records])
    assert leaks(logged, *secrets) == [], "a token reached a log record"
    assert leaks(journal_text(tmp_path / "state" / "opsbot.db"), *secrets) == [], "a token reached the journal"
