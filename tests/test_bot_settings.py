"""`python -m bot` validates every setting first: exit 2, one line per problem, no token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import load_bot_settings
from ops.errors import UsageError
from tests.conftest import REPO

GOOD = {
    "DISCORD_TOKEN": "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB",
    "DISCORD_GUILD_ID": "1200000000000000100",
    "OPS_CHANNEL_ID": "1200000000000000201",
    "OPERATOR_ROLE_ID": "1200000000000000301",
    "APPROVER_ROLE_ID": "1200000000000000302",
}


def test_good_settings() -> None:
    s = load_bot_settings(dict(GOOD))
    assert s.discord.guild_id == 1200000000000000100 and s.discord.approval_timeout_s == 1800
    assert GOOD["DISCORD_TOKEN"] not in repr(s)


def test_every_problem_reported_at_once() -> None:
    env = {**GOOD, "DISCORD_GUILD_ID": "my-server", "APPROVAL_TIMEOUT_S": "soon", "TARGET": "moon"}
    del env["OPS_CHANNEL_ID"]
    with pytest.raises(UsageError) as info:
        load_bot_settings(env)
    text = info.value.message
    for name in ("DISCORD_GUILD_ID", "OPS_CHANNEL_ID", "APPROVAL_TIMEOUT_S", "TARGET"):
        assert name in text
    assert len(text.splitlines()) == 5


def test_python_m_bot_exits_2_without_printing_the_token(tmp_path: Path) -> None:
    token = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.secret-part-that-must-not-leak-000"
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update({"DISCORD_TOKEN": token, "OPS_CHANNEL_ID": "abc", "PYTHONPATH": str(REPO)})
    out = subprocess.run([sys.executable, "-m", "bot"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=60)
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert any("DISCORD_GUILD_ID is missing" in ln for ln in lines)
    assert any("OPS_CHANNEL_ID='abc'" in ln for ln in lines)
    assert token not in out.stdout + out.stderr and "secret-part" not in out.stdout + out.stderr
