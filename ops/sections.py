"""How a settings section is declared and read, and the engine's own sections.

Each field names its environment variable next to its default (written once, in its section). A
target's own section is declared in its module (ops.targets.*) with ``setting`` and named by its
TargetSpec; ops.settings puts the sections together. This module imports nothing of opsbot's, so
a target module can declare its section without an import circle.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def setting(env: str, default: Any, *, minimum: int = 0, maximum: int | None = None, strip: bool = True,
            keep_empty: bool = False) -> Any:
    """A field read from ``env``. An empty value means the default unless ``keep_empty`` (then it is
    kept, for validation to name); numbers are whole and at least ``minimum``."""
    return field(default=default, metadata={"env": env, "minimum": minimum, "maximum": maximum, "strip": strip,
                                            "keep_empty": keep_empty})


@dataclass(frozen=True)
class EngineSettings:
    db_path: str = setting("DB_PATH", "/data/app.db", keep_empty=True)
    migrations_dir: Path = setting("MIGRATIONS_DIR", Path("migrations"))
    state_db: Path = setting("STATE_DB", Path("state/opsbot.db"))
    busy_timeout_ms: int = setting("BUSY_TIMEOUT_MS", 10000, minimum=100)
    phase_timeout_s: float = setting("PHASE_TIMEOUT_S", 1800.0, minimum=10)
    pause_app: str = setting("PAUSE_APP", "none")
    # The second copy of every pre-migration backup, off the app host ("": backups/ beside STATE_DB).
    offsite_dir: str = setting("OFFSITE_DIR", "")
    keep_host: int = setting("KEEP_BACKUPS_HOST", 10, minimum=1)
    keep_offsite: int = setting("KEEP_BACKUPS_OFFSITE", 30, minimum=1)
    drill_interval_s: int = setting("DRILL_INTERVAL_S", 86400)  # the bot's restore drills (ops.drill); 0 = off
    # Also ask the platform for a snapshot of the volume before every migration (Fly: `fly volumes
    # snapshots create`); opsbot's own backups are taken anyway.
    volume_snapshot: bool = setting("VOLUME_SNAPSHOT", False)
    # Send the preflight's snapshot zstd-compressed when both ends have zstd (false: as it is).
    compress_transfer: bool = setting("COMPRESS_TRANSFER", True)

    @property
    def work_dir(self) -> Path:
        return self.state_db.parent / "work"


@dataclass(frozen=True)
class HealthSettings:
    url: str = setting("HEALTH_URL", "")
    expect: str = setting("HEALTH_EXPECT", "", strip=False)
    interval_s: int = setting("HEALTH_INTERVAL_S", 60, minimum=5)
    timeout_s: int = setting("HEALTH_TIMEOUT_S", 10, minimum=1)
    failure_threshold: int = setting("HEALTH_FAILURE_THRESHOLD", 3, minimum=1)
    success_threshold: int = setting("HEALTH_SUCCESS_THRESHOLD", 2, minimum=1)
    reminder_s: int = setting("HEALTH_REMINDER_S", 1800)
    watch_s: int = setting("HEALTH_WATCH_S", 900)


@dataclass(frozen=True)
class CodeSettings:
    repo: str = setting("CODE_REPO", "")
    branch: str = setting("CODE_BRANCH", "develop")
    committer_name: str = setting("CODE_COMMITTER_NAME", "opsbot")
    committer_email: str = setting("CODE_COMMITTER_EMAIL", "opsbot@localhost")
    deploy_key: str = setting("CODE_DEPLOY_KEY", "", strip=False)

    def __repr__(self) -> str:  # never print the key
        return f"CodeSettings(repo={self.repo!r}, branch={self.branch!r})"


@dataclass(frozen=True)
class LocalCommands:
    """How the app is restarted, stopped, started and logged on its host (not on Fly)."""

    restart_command: str = setting("RESTART_COMMAND", "")
    stop_command: str = setting("STOP_COMMAND", "")
    start_command: str = setting("START_COMMAND", "")
    app_log_file: str = setting("APP_LOG_FILE", "")


@dataclass(frozen=True)
class CoreSettings:
    """Every section but the targets' own, which ``targets`` holds by target name (``settings.fly``
    reads the fly target's). ops.settings.Settings fills ``targets`` from the registry."""

    target: str = ""  # TARGET: a name in ops.targets.registry; "" is the registry's default
    engine: EngineSettings = field(default_factory=EngineSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    code: CodeSettings = field(default_factory=CodeSettings)
    local: LocalCommands = field(default_factory=LocalCommands)
    targets: tuple[tuple[str, Any], ...] = ()

    def __getattr__(self, name: str) -> Any:
        """A target's own section by the target's name (only names that are not fields get here)."""
        if name.startswith("_") or name == "targets":
            raise AttributeError(name)
        for key, section in self.targets:
            if key == name:
                return section
        raise AttributeError(f"{type(self).__name__} has no section {name!r}")


def _int(env: dict[str, str], name: str, default: int, problems: list[str], minimum: int = 0,
         maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
        upto = f" and ≤ {maximum}" if maximum is not None else ""
        problems.append(f"{name}={raw!r}: expected a whole number ≥ {minimum}{upto}")
        return default
    return int(raw)


def read_section(cls: type[T], env: dict[str, str], problems: list[str]) -> T:
    """One section from the environment: every field that names a variable, by its type."""
    types = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        meta = f.metadata
        if "env" not in meta:
            continue
        kind = types[f.name]
        if kind in (int, float):
            values[f.name] = kind(_int(env, meta["env"], int(f.default), problems, meta["minimum"], meta["maximum"]))
            continue
        raw = env.get(meta["env"])
        if raw is None:
            continue
        if kind is bool:
            word = raw.strip().lower()
            if word in ("1", "true", "yes", "on"):
                values[f.name] = True
            elif word in ("0", "false", "no", "off"):
                values[f.name] = False
            elif word:
                problems.append(f"{meta['env']}={raw!r}: expected true or false")
            continue
        text = raw.strip() if meta["strip"] else raw
        if text or meta["keep_empty"]:
            values[f.name] = kind(text) if kind is Path else text
    return cls(**values)
