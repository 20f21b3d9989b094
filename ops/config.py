"""Settings as loaded and validated: every section read from the environment (ops.settings), then
the chosen target's own checks and the PAUSE_APP values a target refuses (ops.targets.registry);
every problem is reported at once."""

from __future__ import annotations

from ops.errors import UsageError
from ops.redact import register_url_credentials
from ops.settings import Settings, environ, read_settings
from ops.targets import registry


def load_settings(env: dict[str, str] | None = None, **overrides: str | None) -> Settings:
    """Read and validate; every problem is collected, then reported at once. ``overrides`` are
    variable names (any case) whose non-None values win over the environment."""
    env = dict(environ() if env is None else env)
    env.update({k.upper(): v for k, v in overrides.items() if v is not None})
    problems: list[str] = []
    settings = read_settings(env, problems)
    problems[:0] = registry.problems(settings)
    pause = settings.engine.pause_app
    refused = registry.refused_pauses().get(pause)
    if refused:
        problems.append(
            f"PAUSE_APP={pause} is refused ({refused}). opsbot migrates online (BEGIN IMMEDIATE with a busy "
            "timeout makes the app's writers wait a moment); use PAUSE_APP=none or an app-level maintenance switch"
        )
    elif pause != "none":
        problems.append(f"PAUSE_APP={pause!r}: expected 'none'")
    register_url_credentials(settings.health.url)
    if problems:
        raise UsageError("invalid settings:\n" + "\n".join(f"  {p}" for p in problems),
                         hint="Fix these in the environment or .env (see .env.example).")
    return settings
