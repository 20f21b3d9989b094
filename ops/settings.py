"""The settings, from the environment and `.env` (the environment wins): the engine's own sections
(ops.sections) and each target's own, which its TargetSpec declares (ops.targets.registry).

`ops.config.load_settings` reads them all the same way, then asks the registry what the chosen
target needs. A new target's settings are its module's business: nothing here names one.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from ops.sections import (
    CodeSettings,
    CoreSettings,
    EngineSettings,
    HealthSettings,
    LocalCommands,
    read_section,
    setting,
)
from ops.targets import registry

__all__ = ["CodeSettings", "EngineSettings", "HealthSettings", "LocalCommands", "Settings", "environ",
           "read_section", "read_settings", "sections", "setting"]


def default_targets() -> tuple[tuple[str, Any], ...]:
    """Each registered target's own section, at its defaults."""
    return tuple((spec.name, spec.settings()) for spec in registry.specs().values() if spec.settings)


@dataclass(frozen=True)
class Settings(CoreSettings):
    targets: tuple[tuple[str, Any], ...] = field(default_factory=default_targets)


def read_settings(env: dict[str, str], problems: list[str]) -> Settings:
    """Every section from ``env``, the targets' own included; what is wrong goes to ``problems``."""
    types = typing.get_type_hints(CoreSettings)
    core = {f.name: read_section(types[f.name], env, problems) for f in fields(CoreSettings)
            if f.name not in ("target", "targets")}
    targets = tuple((spec.name, read_section(spec.settings, env, problems))
                    for spec in registry.specs().values() if spec.settings)
    return Settings(target=env.get("TARGET", "").strip(), targets=targets, **core)  # "": the registry's default


def sections(settings: CoreSettings) -> dict[str, Any]:
    """Every section by name: the engine's own, then each target's."""
    core = {f.name: getattr(settings, f.name) for f in fields(CoreSettings) if f.name not in ("target", "targets")}
    return {**core, **dict(settings.targets)}


def environ(env_file: str | Path = ".env") -> dict[str, str]:
    """`.env` values overlaid by the real environment."""
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if Path(env_file).is_file() else {}
    values.update(os.environ)
    return values
