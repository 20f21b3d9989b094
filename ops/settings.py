"""The engine's settings, from the environment and `.env` (the environment wins)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from ops.errors import UsageError
from ops.redact import register_url_credentials
from ops.targets.base import Target


@dataclass(frozen=True)
class Settings:
    target: str = "local"
    db_path: str = "/data/app.db"
    fly_app: str = "timelogger-staging"
    flyctl: str = "fly"
    fly_api_token: str = ""
    fly_machine: str = ""
    migrations_dir: Path = Path("migrations")
    state_db: Path = Path("state/opsbot.db")
    health_url: str = ""
    health_expect: str = ""
    health_interval_s: int = 60
    health_timeout_s: int = 10
    health_failure_threshold: int = 3
    health_success_threshold: int = 2
    health_reminder_s: int = 1800
    health_watch_s: int = 900
    busy_timeout_ms: int = 10000
    phase_timeout_s: float = 1800.0
    restart_command: str = ""
    app_log_file: str = ""
    pause_app: str = "none"
    code_repo: str = ""
    code_branch: str = "develop"
    code_committer_name: str = "opsbot"
    code_committer_email: str = "opsbot@localhost"
    code_deploy_key: str = ""
    stop_command: str = ""
    start_command: str = ""

    @property
    def work_dir(self) -> Path:
        return self.state_db.parent / "work"


def environ(env_file: str | Path = ".env") -> dict[str, str]:
    """`.env` values overlaid by the real environment."""
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if Path(env_file).is_file() else {}
    values.update(os.environ)
    return values


def _int(env: dict[str, str], name: str, default: int, problems: list[str], minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        problems.append(f"{name}={raw!r}: expected a whole number ≥ {minimum}")
        return default
    return int(raw)


def load_settings(env: dict[str, str] | None = None, **overrides: str | None) -> Settings:
    """Read and validate; every problem is collected, then reported at once."""
    env = dict(environ() if env is None else env)
    env.update({k.upper(): v for k, v in overrides.items() if v is not None})
    problems: list[str] = []
    target = env.get("TARGET", "local").strip() or "local"
    if target not in ("local", "fly"):
        problems.append(f"TARGET={target!r}: expected 'local' or 'fly'")
    db_path = env.get("DB_PATH", "/data/app.db").strip()
    if not db_path.startswith("/") and target == "fly":
        problems.append(f"DB_PATH={db_path!r}: expected an absolute path on the app host, e.g. /data/app.db")
    fly_app = env.get("FLY_APP", "timelogger-staging").strip()
    if target == "fly" and not fly_app:
        problems.append("FLY_APP is empty: name the Fly app to operate on, e.g. timelogger-staging")
    pause = env.get("PAUSE_APP", "none").strip() or "none"
    if pause == "scale-to-zero":
        problems.append(
            "PAUSE_APP=scale-to-zero is refused: `fly scale count 0` destroys the machines, so there is nothing "
            "left to ssh into for the migration. opsbot migrates online (BEGIN IMMEDIATE with a busy timeout "
            "makes the app's writers wait a moment); use PAUSE_APP=none or an app-level maintenance switch"
        )
    elif pause != "none":
        problems.append(f"PAUSE_APP={pause!r}: expected 'none'")
    settings = Settings(
        target=target,
        db_path=db_path,
        fly_app=fly_app,
        flyctl=env.get("FLYCTL", "fly").strip() or "fly",
        fly_api_token=env.get("FLY_API_TOKEN", "").strip(),
        fly_machine=env.get("FLY_MACHINE", "").strip(),
        migrations_dir=Path(env.get("MIGRATIONS_DIR", "migrations").strip() or "migrations"),
        state_db=Path(env.get("STATE_DB", "state/opsbot.db").strip() or "state/opsbot.db"),
        health_url=env.get("HEALTH_URL", "").strip(),
        health_expect=env.get("HEALTH_EXPECT", ""),
        health_interval_s=_int(env, "HEALTH_INTERVAL_S", 60, problems, minimum=5),
        health_timeout_s=_int(env, "HEALTH_TIMEOUT_S", 10, problems, minimum=1),
        health_failure_threshold=_int(env, "HEALTH_FAILURE_THRESHOLD", 3, problems, minimum=1),
        health_success_threshold=_int(env, "HEALTH_SUCCESS_THRESHOLD", 2, problems, minimum=1),
        health_reminder_s=_int(env, "HEALTH_REMINDER_S", 1800, problems, minimum=0),
        health_watch_s=_int(env, "HEALTH_WATCH_S", 900, problems, minimum=0),
        busy_timeout_ms=_int(env, "BUSY_TIMEOUT_MS", 10000, problems, minimum=100),
        phase_timeout_s=float(_int(env, "PHASE_TIMEOUT_S", 1800, problems, minimum=10)),
        restart_command=env.get("RESTART_COMMAND", "").strip(),
        app_log_file=env.get("APP_LOG_FILE", "").strip(),
        pause_app=pause,
        code_repo=env.get("CODE_REPO", "").strip(),
        code_branch=env.get("CODE_BRANCH", "develop").strip() or "develop",
        code_committer_name=env.get("CODE_COMMITTER_NAME", "opsbot").strip() or "opsbot",
        code_committer_email=env.get("CODE_COMMITTER_EMAIL", "opsbot@localhost").strip() or "opsbot@localhost",
        code_deploy_key=env.get("CODE_DEPLOY_KEY", ""),
        stop_command=env.get("STOP_COMMAND", "").strip(),
        start_command=env.get("START_COMMAND", "").strip(),
    )
    register_url_credentials(settings.health_url)
    if problems:
        raise UsageError("invalid settings:\n" + "\n".join(f"  {p}" for p in problems),
                         hint="Fix these in the environment or .env (see .env.example).")
    return settings


def build_target(settings: Settings) -> Target:
    if settings.target == "fly":
        from ops.targets.fly import FlyTarget

        return FlyTarget(settings.fly_app, flyctl=settings.flyctl, api_token=settings.fly_api_token,
                         machine=settings.fly_machine)
    from ops.targets.local import LocalTarget

    return LocalTarget(restart_command=settings.restart_command, log_file=settings.app_log_file)
