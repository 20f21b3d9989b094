"""Targets register by name in one place: settings, `python -m ops --target` and `bot check` read
it, and ops/ outside ops/targets/ names no target. A new target is a module with a SPEC plus one
registry line, its own settings section, secrets and refusals included; this file's own SPEC proves it."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.cli import parser
from ops.config import load_settings
from ops.errors import UsageError
from ops.redact import redact
from ops.sections import CoreSettings, setting
from ops.settings import Settings
from ops.targets import registry
from ops.targets.base import Finding, Machine, ShResult, TargetSpec, passed
from tests.conftest import REPO


@dataclass(frozen=True)
class EchoSettings:
    """The echo target's own section: declared here, read by ops.settings like every other."""

    voice: str = setting("ECHO_VOICE", "hello")
    times: int = setting("ECHO_TIMES", 1, minimum=1)
    token: str = setting("ECHO_TOKEN", "")


class EchoTarget:
    """A do-nothing target, defined outside ops/ on purpose."""

    here = True
    name = "echo"

    def __init__(self, voice: str = "hello") -> None:
        self.voice = voice

    async def sh(self, script: str, *, timeout: float = 1.0) -> ShResult:
        return ShResult(script, "", 0, 0.0)

    async def fetch(self, remote: str, local: Path, *, timeout: float = 1.0) -> None: ...

    async def put(self, local: Path, remote: str, *, timeout: float | None = None) -> None: ...

    async def restart(self, *, timeout: float = 1.0) -> str:
        return "echoed"

    async def stop(self, ids: list[str] | None = None) -> list[str]:
        return ["echo"]

    async def start(self, ids: list[str] | None = None) -> list[str]:
        return ["echo"]

    async def machines(self) -> list[Machine]:
        return [Machine("echo", "started")]

    async def logs(self, lines: int, *, timeout: float = 1.0) -> list[str]:
        return []

    def describe(self) -> str:
        return "an echo"

    def undo_stop_text(self, stopped: Sequence[str]) -> str:
        return "nothing to undo"

    def grow_volume_text(self) -> str:
        return "nothing to grow"

    def status_text(self) -> str:
        return "nothing to see"

    async def doctor(self) -> list[Finding]:
        return [passed("echo")]


def build(settings: CoreSettings) -> EchoTarget:
    echo: EchoSettings = settings.echo
    return EchoTarget(echo.voice * echo.times)


SPEC = TargetSpec(name="echo", build=build, settings=EchoSettings, secrets=("ECHO_TOKEN",),
                  refused_pauses=(("echo-off", "an echo cannot be silenced"),),
                  problems=lambda settings: [] if settings.engine.db_path else ["DB_PATH is empty for echo"])


@pytest.fixture
def with_echo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The one registry line for a new target."""
    monkeypatch.setattr(registry, "MODULES", (*registry.MODULES, __name__))
    registry.specs.cache_clear()
    yield
    monkeypatch.undo()
    registry.specs.cache_clear()


def test_the_registry_lists_local_fly_and_ssh() -> None:
    assert registry.names() == ["local", "fly", "ssh"]
    assert registry.spec(Settings().target).name == registry.DEFAULT == "local"  # unset TARGET: the default
    choices = next(a.choices for a in parser()._actions if a.dest == "target")
    assert list(choices) == registry.names()
    assert registry.app_settings() == ["FLY_APP"]


def test_the_fly_tokens_are_secrets_the_fly_target_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.spec("fly").secrets == ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")
    monkeypatch.setitem(os.environ, "FLY_ACCESS_TOKEN", "fo1_access-secret-42")
    monkeypatch.setitem(os.environ, "FLY_API_TOKEN", "FlyV1 api-secret-43")
    assert redact("a fo1_access-secret-42 b FlyV1 api-secret-43") == "a [redacted] b [redacted]"


def test_a_new_target_is_one_module_plus_one_registry_line(with_echo: None, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    settings = load_settings({"TARGET": "echo"})
    assert isinstance(registry.build_target(settings), EchoTarget)
    # Its own settings: read with the others, defaults written once (in its module), checked alike.
    assert settings.echo == EchoSettings() and registry.spec("echo").variables() == ["ECHO_VOICE", "ECHO_TIMES",
                                                                                      "ECHO_TOKEN"]
    loud = load_settings({"TARGET": "echo", "ECHO_VOICE": "hi", "ECHO_TIMES": "2"})
    assert registry.build_target(loud).voice == "hihi"  # type: ignore[attr-defined]
    assert load_settings({"TARGET": "local", "ECHO_VOICE": "hi"}).echo.voice == "hi"  # read whatever the target
    with pytest.raises(UsageError, match="ECHO_TIMES='0': expected a whole number ≥ 1"):
        load_settings({"TARGET": "echo", "ECHO_TIMES": "0"})
    # Its secrets are masked, and the PAUSE_APP value it refuses is refused with its words.
    monkeypatch.setitem(os.environ, "ECHO_TOKEN", "echo-secret-123")
    assert redact("said echo-secret-123") == "said [redacted]"
    with pytest.raises(UsageError, match="an echo cannot be silenced"):
        load_settings({"TARGET": "echo", "PAUSE_APP": "echo-off"})
    assert "echo" in next(a.choices for a in parser()._actions if a.dest == "target")
    with pytest.raises(UsageError, match="DB_PATH is empty for echo"):
        load_settings({"TARGET": "echo", "DB_PATH": ""})
    with pytest.raises(UsageError, match="TARGET='moon': expected one of 'local', 'fly', 'ssh', 'echo'"):
        load_settings({"TARGET": "moon"})


def test_each_target_builds_from_default_settings() -> None:
    for name in ("local", "fly"):
        target = registry.build_target(load_settings({"TARGET": name}))
        assert target.name.startswith(name) and target.describe()
    ssh = registry.build_target(load_settings({"TARGET": "ssh", "SSH_HOST": "deploy@app", "SSH_PORT": "2200"}))
    assert (ssh.name, ssh.describe()) == ("ssh:deploy@app", "deploy@app:2200")


def test_ops_outside_targets_branches_on_no_target_name_and_probes_none() -> None:
    """In ops/ outside ops/targets/: no comparison with a target's name, no list of names, and no
    hasattr/getattr on a target (read from the code's syntax tree, not a text search; an
    executable's default name such as FLYCTL=fly is not a branch)."""
    names = set(registry.names())

    def named(nodes: list[ast.expr]) -> list[str]:
        flat = [e for n in nodes for e in (n.elts if isinstance(n, ast.Tuple | ast.List | ast.Set) else [n])]
        return [e.value for e in flat if isinstance(e, ast.Constant) and e.value in names]

    found: list[str] = []
    for path in sorted((REPO / "ops").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            hits: list[str] = []
            if isinstance(node, ast.Compare):
                hits = named([node.left, *node.comparators])
            elif isinstance(node, ast.Tuple | ast.List | ast.Set) and len(named([node])) > 1:
                hits = named([node])
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("hasattr", "getattr") and "target" in ast.unparse(node.args[0])):
                hits = [node.func.id]
            found += [f"{path.name}:{node.lineno}: {ast.unparse(node)}" for _ in hits[:1]]
    assert found == []
