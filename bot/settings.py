"""The bot's settings: the engine's, plus Discord's. Validated all at once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ops.environments import DRIFT_INTERVAL_S, Environment, find_config, load_config
from ops.errors import UsageError
from ops.settings import Settings, environ
from ops.targets import registry

SNOWFLAKE = re.compile(r"^\d{17,20}$")
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{20,}$")


@dataclass(frozen=True)
class DiscordSettings:
    token: str
    guild_id: int
    ops_channel_id: int
    operator_role_id: int
    approver_role_id: int
    alert_role_id: int = 0
    approval_timeout_s: int = 1800
    preflight_max_age_s: int = 1800

    def __repr__(self) -> str:  # never print the token
        return f"DiscordSettings(guild_id={self.guild_id}, ops_channel_id={self.ops_channel_id}, token=[redacted])"


@dataclass(frozen=True)
class BotSettings:
    ops: Settings  # the first (default) environment's
    discord: DiscordSettings
    # Every environment opsbot.toml names (ops.environments); () when the variables describe one.
    environments: tuple[Environment, ...] = ()
    drift_interval_s: int = DRIFT_INTERVAL_S  # ops.drift: 0 = off

    def __repr__(self) -> str:
        return f"BotSettings(target={registry.spec(self.ops.target).name!r}, discord={self.discord!r})"


def _snowflake(env: dict[str, str], name: str, what: str, problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        problems.append(f"{name} is missing: the {what} (Discord: Developer Mode on, right-click → Copy ID)")
        return 0
    if not SNOWFLAKE.match(raw):
        problems.append(f"{name}={raw[:30]!r} is not a Discord ID: expected the {what}, 17-20 digits")
        return 0
    return int(raw)


def load_bot_settings(env: dict[str, str] | None = None) -> BotSettings:
    env = dict(environ() if env is None else env)
    problems: list[str] = []
    environments: tuple[Environment, ...] = ()
    drift = DRIFT_INTERVAL_S
    try:
        config = load_config(find_config(None, env), env)
        ops = config.default.settings
        environments = config.environments if config.path else ()
        drift = config.drift_interval_s
    except UsageError as exc:
        ops = Settings()
        problems += [line.strip() for line in exc.message.splitlines()[1:]] or [exc.message]
    token = env.get("DISCORD_TOKEN", "").strip()
    if not token:
        problems.append("DISCORD_TOKEN is missing: the bot token from the Developer Portal → your app → Bot")
    elif not TOKEN_SHAPE.match(token):
        problems.append("DISCORD_TOKEN does not look like a bot token (three dot-separated parts); "
                        "copy it again from the Developer Portal → Bot → Reset Token")
    default_timeout = str(DiscordSettings.approval_timeout_s)
    timeout = env.get("APPROVAL_TIMEOUT_S", "").strip() or default_timeout
    if not timeout.isdigit() or not 10 <= int(timeout) <= 7 * 86400:
        problems.append(f"APPROVAL_TIMEOUT_S={timeout!r}: expected whole seconds between 10 and 604800")
        timeout = default_timeout
    discord = DiscordSettings(
        token=token,
        guild_id=_snowflake(env, "DISCORD_GUILD_ID", "server (guild) ID where the commands live", problems),
        ops_channel_id=_snowflake(env, "OPS_CHANNEL_ID", "ID of the ops channel for runs and alerts", problems),
        operator_role_id=_snowflake(env, "OPERATOR_ROLE_ID", "role ID of operators (may run phases)", problems),
        approver_role_id=_snowflake(env, "APPROVER_ROLE_ID", "role ID of approvers (approve, roll back)", problems),
        approval_timeout_s=int(timeout),
        alert_role_id=_snowflake(env, "ALERT_ROLE_ID", "role to mention in health alerts", problems)
        if env.get("ALERT_ROLE_ID", "").strip() else 0,
    )
    if problems:
        raise UsageError("invalid settings:\n" + "\n".join(f"  {p}" for p in problems),
                         hint="Fix these in the environment or .env (see .env.example).")
    return BotSettings(ops=ops, discord=discord, environments=environments, drift_interval_s=drift)
