"""Settings in sections: each default written once (the loader agrees with the dataclasses),
every variable documented in .env.example, and no secret in any repr."""

from __future__ import annotations

from dataclasses import fields

from dotenv import dotenv_values

from bot.settings import load_bot_settings
from ops.config import load_settings
from ops.settings import Settings, sections
from tests.conftest import REPO


def variables() -> list[str]:
    """Every section's variables: the engine's own and each registered target's."""
    return [f.metadata["env"] for section in sections(Settings()).values()
            for f in fields(section) if "env" in f.metadata]


def test_every_section_is_read_and_the_targets_own_are_theirs() -> None:
    names = variables()
    assert {"DB_PATH", "HEALTH_URL", "CODE_REPO", "RESTART_COMMAND", "FLY_APP", "SSH_HOST", "SSH_PORT"} <= set(names)
    assert len(names) == len(set(names)), "a variable read by two sections"
    settings = load_settings({"SSH_PORT": "2222", "FLY_MACHINE": "m1"})
    assert (settings.ssh.port, settings.fly.machine) == (2222, "m1")


def test_defaults_are_written_once() -> None:
    assert load_settings({}) == Settings()
    assert load_settings({name: "" for name in variables() if name not in ("DB_PATH", "FLY_APP")}) == Settings()


def test_every_variable_is_in_env_example_and_it_loads() -> None:
    example = {k: v or "" for k, v in dotenv_values(REPO / ".env.example").items()}
    names = ["TARGET", *variables()]
    assert set(names) <= set(example), sorted(set(names) - set(example))
    settings = load_settings(example)
    assert settings.target == "local" and settings.health.url.endswith("/health")
    assert settings.fly.app == "timelogger-staging" and settings.engine.busy_timeout_ms == 10000


def test_no_secret_in_a_repr() -> None:
    env = {"FLY_API_TOKEN": "fly-secret-token-1234567", "CODE_DEPLOY_KEY": "-----BEGIN key-secret",
           "DISCORD_TOKEN": "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB",
           "DISCORD_GUILD_ID": "1200000000000000100", "OPS_CHANNEL_ID": "1200000000000000201",
           "OPERATOR_ROLE_ID": "1200000000000000301", "APPROVER_ROLE_ID": "1200000000000000302"}
    bot = load_bot_settings(env)
    text = repr(bot) + repr(bot.ops) + repr(bot.discord)
    assert bot.ops.fly.api_token == env["FLY_API_TOKEN"] and bot.discord.token == env["DISCORD_TOKEN"]
    for secret in ("fly-secret", "key-secret", env["DISCORD_TOKEN"]):
        assert secret not in text
