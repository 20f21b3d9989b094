"""Environments: one bot and one CLI serving staging, production… from one file, ``opsbot.toml``.

Found as ``--config PATH``, else ``$OPSBOT_CONFIG``, else ``./opsbot.toml``. Without one, the
environment variables describe the one environment, as they always did (nothing changes).

    [environments.staging]
    target = "fly"                      # a name in ops.targets.registry
    app = "timelogger-staging"          # the target's app setting (FLY_APP)
    db_path = "/data/app.db"
    health_url = "https://timelogger-staging.fly.dev/health"
    machine = ""                        # optional: the machine to use (FLY_MACHINE)
    ops_channel_id = 0                  # optional: its own Discord channel
    settings = { RESTART_COMMAND = "…" }  # optional: any other setting, by its variable name
    history_from = "old-name"           # optional: its journal history's key before a rename (ops.history)

    [environments.production]
    # …
    [environments.production.policy]
    approvers = 2                       # distinct approvers, never the requester
    destructive_extra_approvers = 1     # one more for a DROP or an allowed row loss
    requires_success_on = "staging"     # the same file must have succeeded there first
    allowed_hours = "08-18"             # UTC hours when changes may start (end exclusive)
    freeze = [{ from = 2026-12-24T00:00:00Z, to = 2026-12-27T00:00:00Z, reason = "holidays" }]

Settings shared by all environments (MIGRATIONS_DIR, STATE_DB, Discord) stay in the environment
variables. Each environment's rows in the one journal are keyed by its name; the history kept
under its target's name (before this file) or under ``history_from`` is adopted once (ops.history).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.config import load_settings
from ops.errors import UsageError
from ops.policy import Freeze, Policy
from ops.settings import Settings, environ
from ops.targets import registry

CONFIG_NAME = "opsbot.toml"
# One journal, one migrations folder for every environment: not settable per environment.
SHARED = {"STATE_DB", "MIGRATIONS_DIR"}
ENV_KEYS = {"target", "app", "db_path", "health_url", "machine", "ops_channel_id", "policy", "settings",
            "history_from"}
POLICY_KEYS = {"approvers", "destructive_extra_approvers", "requires_success_on", "allowed_hours", "freeze"}


@dataclass(frozen=True)
class Environment:
    name: str  # "" for the one environment the variables describe
    settings: Settings
    policy: Policy = field(default_factory=Policy)
    ops_channel_id: int = 0
    # The journal key this environment's history was kept under before (an old name): ops.history.
    history_from: str = ""


DRIFT_INTERVAL_S = 900


@dataclass(frozen=True)
class Config:
    path: Path | None
    environments: tuple[Environment, ...]
    drift_interval_s: int = DRIFT_INTERVAL_S  # [drift] interval_s: how often each schema is compared; 0 = off

    @property
    def default(self) -> Environment:
        return self.environments[0]

    def names(self) -> list[str]:
        return [e.name for e in self.environments if e.name]

    def get(self, name: str | None) -> Environment:
        if not name:
            return self.default
        for e in self.environments:
            if e.name == name:
                return e
        known = ", ".join(self.names()) or "none (no opsbot.toml: the one environment has no name)"
        raise UsageError(f"no environment called {name!r}", hint=f"Environments: {known}.")


def find_config(explicit: str | None = None, env: dict[str, str] | None = None) -> Path | None:
    env = environ() if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("OPSBOT_CONFIG"):
        return Path(env["OPSBOT_CONFIG"])
    here = Path(os.getcwd()) / CONFIG_NAME
    return here if here.exists() else None


def load_config(path: Path | None, env: dict[str, str] | None = None, **overrides: str | None) -> Config:
    """Every environment's settings, validated; every problem reported at once. ``overrides``
    (the CLI's --target/--db/--app) apply to every environment, as they do without a file."""
    if path is None:
        return Config(None, (Environment("", load_settings(env, **overrides)),))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"the config file {path} does not exist",
                         hint="Create it (see the README's opsbot.toml example), or unset OPSBOT_CONFIG.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", hint="Fix the file; the README has an example.") from None
    problems: list[str] = []
    unknown = set(data) - {"environments", "drift"}
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)} (expected [environments.NAME] and [drift])")
    drift = data.get("drift") or {}
    interval = drift.get("interval_s", DRIFT_INTERVAL_S) if isinstance(drift, dict) else None
    if not isinstance(interval, int) or not (interval == 0 or 60 <= interval <= 86400):
        problems.append("[drift] interval_s must be 0 (off) or seconds from 60 to 86400")
        interval = DRIFT_INTERVAL_S
    tables = data.get("environments") or {}
    if not isinstance(tables, dict) or not tables:
        problems.append("no [environments.NAME] table")
        tables = {}
    found = []
    for name, table in tables.items():
        try:
            found.append(_environment(name, table, env, overrides, problems))
        except UsageError as exc:
            problems.append(f"[environments.{name}]: {exc.message.replace(chr(10), ' ')}")
    names = {e.name for e in found}
    for e in found:
        needs = e.policy.requires_success_on
        if needs and needs not in names:
            problems.append(f"[environments.{e.name}.policy] requires_success_on = {needs!r}: no such environment")
        if needs == e.name:
            problems.append(f"[environments.{e.name}.policy] requires_success_on names itself")
        if e.history_from in names:
            # Two live environments are two databases: their histories are never merged.
            problems.append(f"[environments.{e.name}] history_from = {e.history_from!r} names an environment of "
                            "this file (its history is its own)")
    adopted = [e.history_from for e in found if e.history_from]
    for twice in sorted({h for h in adopted if adopted.count(h) > 1}):
        problems.append(f"history_from = {twice!r} is named by more than one environment (one history, one database)")
    if problems:
        raise UsageError(f"{path}:\n" + "\n".join(f"  {p}" for p in problems),
                         hint="Fix the file; each [environments.NAME] field is described in the README.")
    return Config(path, tuple(found), interval)


def _environment(name: str, table: Any, env: dict[str, str] | None, overrides: dict[str, str | None],
                 problems: list[str]) -> Environment:
    where = f"[environments.{name}]"
    if not isinstance(table, dict):
        raise UsageError("expected a table")
    for key in set(table) - ENV_KEYS:
        problems.append(f"{where}: unknown key {key!r} (expected {', '.join(sorted(ENV_KEYS))})")
    values: dict[str, str | None] = {}
    extra = table.get("settings") or {}
    if not isinstance(extra, dict):
        problems.append(f"{where}: settings must be a table of VARIABLE = value")
        extra = {}
    named = {"TARGET": "target", "DB_PATH": "db_path", "HEALTH_URL": "health_url"}
    for key in extra:
        if key in SHARED:
            problems.append(f"{where}: settings cannot set {key}: every environment shares it (set it in the "
                            "environment variables)")
        elif key in named:
            problems.append(f"{where}: settings cannot set {key}: use the {named[key]} field")
    values.update({str(k): str(v) for k, v in extra.items() if k not in SHARED and k not in named})
    target = str(table.get("target", ""))
    values["TARGET"] = target
    if "db_path" in table:
        values["DB_PATH"] = str(table["db_path"])
    if "health_url" in table:
        values["HEALTH_URL"] = str(table["health_url"])
    spec = registry.spec(target)
    if "app" in table:
        if not spec.app_setting:
            problems.append(f"{where}: app is not used by the {spec.name!r} target")
        else:
            values[spec.app_setting] = str(table["app"])
    if "machine" in table:
        if not spec.machine_setting:
            problems.append(f"{where}: machine is not used by the {spec.name!r} target")
        else:
            values[spec.machine_setting] = str(table["machine"])
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = load_settings(env, **values)
    channel = table.get("ops_channel_id", 0)
    if not isinstance(channel, int) or channel < 0:
        problems.append(f"{where}: ops_channel_id must be a channel id (a number)")
        channel = 0
    history_from = table.get("history_from", "")
    if not isinstance(history_from, str) or (history_from and not history_from.strip()):
        problems.append(f"{where}: history_from must be the journal key of this database's history (a name)")
        history_from = ""
    return Environment(name, settings, _policy(name, table.get("policy") or {}, problems), channel,
                       history_from.strip())


def _policy(name: str, table: Any, problems: list[str]) -> Policy:
    where = f"[environments.{name}.policy]"
    if not isinstance(table, dict):
        problems.append(f"{where}: expected a table")
        return Policy()
    for key in set(table) - POLICY_KEYS:
        problems.append(f"{where}: unknown key {key!r} (expected {', '.join(sorted(POLICY_KEYS))})")
    approvers = table.get("approvers", 1)
    extra = table.get("destructive_extra_approvers", 0)
    if not isinstance(approvers, int) or not 1 <= approvers <= 10:
        problems.append(f"{where}: approvers must be a number from 1 to 10")
        approvers = 1
    if not isinstance(extra, int) or not 0 <= extra <= 5:
        problems.append(f"{where}: destructive_extra_approvers must be a number from 0 to 5")
        extra = 0
    hours = None
    if "allowed_hours" in table:
        hours = _hours(str(table["allowed_hours"]))
        if hours is None:
            problems.append(f"{where}: allowed_hours must look like \"08-18\" (UTC hours, end exclusive)")
    freezes = []
    for i, f in enumerate(table.get("freeze") or []):
        start, end = (f.get("from"), f.get("to")) if isinstance(f, dict) else (None, None)
        if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime) or start.tzinfo is None \
                or end.tzinfo is None or end <= start:
            problems.append(f"{where}: freeze[{i}] needs from and to as TOML date-times with a zone "
                            "(2026-12-24T00:00:00Z), to after from")
            continue
        freezes.append(Freeze(start.timestamp(), end.timestamp(), str(f.get("reason", ""))))
    return Policy(approvers, extra, str(table.get("requires_success_on", "")), hours, tuple(freezes))


def _hours(text: str) -> tuple[int, int] | None:
    start, sep, end = text.partition("-")
    if not sep or not start.strip().isdigit() or not end.strip().isdigit():
        return None
    a, b = int(start), int(end)
    return (a, b) if 0 <= a <= 23 and 0 <= b <= 24 and a != b else None
