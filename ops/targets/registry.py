"""Every target opsbot knows, by name. A new target is a module with a ``SPEC`` plus one line here;
settings (its own section, its secrets, its checks), `python -m ops --target` and `python -m bot
check` read this list."""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from ops.errors import UsageError
from ops.redact import register_secret_env
from ops.targets.base import Target, TargetSpec

if TYPE_CHECKING:
    from ops.sections import CoreSettings

MODULES = (
    "ops.targets.local",  # this machine (the default)
    "ops.targets.fly",  # a Fly.io app, through flyctl
    "ops.targets.ssh",  # experimental: any host with sh and sqlite3, through OpenSSH
)
DEFAULT = "local"


@cache
def specs() -> dict[str, TargetSpec]:
    found = [importlib.import_module(module).SPEC for module in MODULES]
    for spec in found:
        register_secret_env(spec.secrets)
    return {spec.name: spec for spec in found}


def names() -> list[str]:
    return list(specs())


def spec(name: str) -> TargetSpec:
    """The target called ``name``; "" is the default one."""
    found = specs().get(name or DEFAULT)
    if found is None:
        raise UsageError(f"TARGET={name!r}: expected one of {', '.join(repr(n) for n in names())}",
                         hint="Set TARGET (or --target) to a target opsbot knows.")
    return found


def problems(settings: CoreSettings) -> list[str]:
    """What is wrong with the settings for the chosen target (TARGET itself included)."""
    if (settings.target or DEFAULT) not in specs():
        expected = ", ".join(repr(n) for n in names())
        return [f"TARGET={settings.target!r}: expected one of {expected}"]
    return spec(settings.target).problems(settings)


def build_target(settings: CoreSettings) -> Target:
    return spec(settings.target).build(settings)


def refused_pauses() -> dict[str, str]:
    """PAUSE_APP values a target's platform offers that opsbot refuses, with why (any target's: the
    value is refused whichever target is chosen)."""
    return {value: why for s in specs().values() for value, why in s.refused_pauses}


def app_settings() -> list[str]:
    """The settings `python -m ops --app` overrides (each target that operates on a named app)."""
    return [s.app_setting for s in specs().values() if s.app_setting]
