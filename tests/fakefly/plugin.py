"""Pytest fixtures around the stand-in `fly` executable (tests/fakefly/fly).

Usage: add "tests.fakefly.plugin" to pytest_plugins, then take the `fakefly` fixture:

    async def test_x(fakefly):
        target = fakefly.target()           # a FlyTarget wired to the stand-in
        fakefly.add_fault("ssh", "drop")    # the next ssh leaves its command running
        assert fakefly.calls()[-1]["argv"][:2] == ["ssh", "console"]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.targets.fly import FlyTarget

FLY_BIN = Path(__file__).with_name("fly")
APP = "timelogger-staging"
# Long enough for ops.redact to treat it as a secret; never a real token.
TEST_TOKEN = "FlyV1 fm2_fakefly-test-token-7f3a9c"
DEFAULT_MACHINE = {
    "id": "148e21ea3e0d89",
    "name": "winter-sound-1234",
    "state": "started",
    "region": "nrt",
    "private_ip": "fdaa:0:1:a7b:1::2",
}


def fast_launcher(directory: Path) -> Path:
    """The stand-in with this interpreter in its shebang, started with -S (it needs the standard
    library only). `#!/usr/bin/env python3` may find a version-manager shim that costs ~100 ms a
    call; a phase makes a dozen calls. Falls back to the file itself when the path cannot go in a
    shebang line."""
    python = sys.executable
    if not python or len(python) > 120 or any(ch.isspace() for ch in python):
        return FLY_BIN
    directory.mkdir(parents=True, exist_ok=True)
    launcher = directory / "fly"
    body = FLY_BIN.read_text().split("\n", 1)[1]
    launcher.write_text(f"#!{python} -S\n{body}")
    launcher.chmod(0o755)
    return launcher


class FakeFly:
    """The stand-in's state directory plus helpers to arrange and inspect it."""

    def __init__(self, state_dir: Path, *, app: str = APP, token: str = TEST_TOKEN) -> None:
        self.bin = fast_launcher(state_dir.parent / "fakefly-bin")
        self.state_dir = state_dir
        self.app = app
        self.token = token
        self.env: dict[str, str] = {
            "FLY_STANDIN_STATE": str(state_dir),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        state_dir.mkdir(parents=True, exist_ok=True)
        self.save_state({
            "apps": {app: {"machines": [dict(DEFAULT_MACHINE)], "restarts": 0}},
            "token": token,
            "require_token": True,
        })

    # --- state ---------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "state.json").read_text())

    def save_state(self, state: dict[str, Any]) -> None:
        (self.state_dir / "state.json").write_text(json.dumps(state, indent=2))

    def app_state(self, app: str | None = None) -> dict[str, Any]:
        return self.state()["apps"][app or self.app]

    def set_machines(self, machines: list[dict[str, Any]], app: str | None = None) -> None:
        """Replace the app's machines; each dict needs at least id and state."""
        state = self.state()
        entry = state["apps"].setdefault(app or self.app, {"restarts": 0})
        entry["machines"] = [
            {"name": f"machine-{i}", "region": "nrt", "private_ip": f"fdaa:0:1:a7b:{i}::2", **m}
            for i, m in enumerate(machines, start=1)
        ]
        self.save_state(state)

    def set_volumes(self, volumes: list[dict[str, Any]], app: str | None = None) -> None:
        """The app's volumes, as fly-go's Volume objects (missing fields get flyctl's defaults)."""
        state = self.state()
        state["apps"][app or self.app]["volumes"] = volumes
        self.save_state(state)

    def snapshots(self, volume_id: str, app: str | None = None) -> list[dict[str, Any]]:
        return list(self.app_state(app).get("snapshots", {}).get(volume_id, []))

    def machine_states(self, app: str | None = None) -> dict[str, str]:
        return {m["id"]: m["state"] for m in self.app_state(app)["machines"]}

    # --- faults, logs, calls -------------------------------------------------------------

    def add_fault(self, command: str, mode: str, *, match: str | None = None,
                  times: int | None = None, after_s: float | None = None,
                  message: str | None = None, armed_by: str | None = None) -> None:
        """Append a fault rule (see the stand-in's take_fault for the format)."""
        rule: dict[str, Any] = {"command": command, "mode": mode}
        extras = {"match": match, "times": times, "after_s": after_s, "message": message, "armed_by": armed_by}
        rule.update({k: v for k, v in extras.items() if v is not None})
        path = self.state_dir / "faults.json"
        rules = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps([*rules, rule], indent=2))

    def clear_faults(self) -> None:
        (self.state_dir / "faults.json").unlink(missing_ok=True)

    def write_logs(self, entries: list[str | dict[str, Any]]) -> None:
        """Replace the app's log; a str becomes an info entry from the first machine."""
        lines = []
        for i, entry in enumerate(entries):
            if isinstance(entry, str):
                entry = {"message": entry, "level": "info", "region": "nrt",
                         "instance": DEFAULT_MACHINE["id"],
                         "timestamp": f"2025-01-01T00:00:{i:02d}Z"}
            lines.append(json.dumps(entry))
        (self.state_dir / "logs.jsonl").write_text("".join(line + "\n" for line in lines))

    def calls(self) -> list[dict[str, Any]]:
        """Every invocation so far: {"argv": [...without the program], "env": {NAME: present},
        "cwd", "pid", "time"}."""
        path = self.state_dir / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    def ssh_scripts(self) -> list[str]:
        """What every `ssh console` ran: its -C command and the script that arrived on stdin."""
        path = self.state_dir / "scripts.jsonl"
        if not path.exists():
            return []
        return [f"{e['command']}\n{e['stdin']}" for e in map(json.loads, path.read_text().splitlines()) if e]

    # --- running -------------------------------------------------------------------------

    def target(self, **kwargs: Any) -> FlyTarget:
        """A FlyTarget for the app, using the stand-in and the test token."""
        env = {**os.environ, **self.env, **kwargs.pop("env", {})}
        kwargs.setdefault("api_token", self.token)
        return FlyTarget(self.app, flyctl=str(self.bin), env=env, **kwargs)

    def run(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None,
            timeout: float = 10, token: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the stand-in directly, with the test token unless token=False.

        Output is decoded as UTF-8 with line endings kept as they came (a pty's \\r\\n too).
        """
        full_env = {**self.env, **({"FLY_API_TOKEN": self.token} if token else {}),
                    **(env or {})}
        done = subprocess.run([str(self.bin), *args], env=full_env, input=input or b"",
                              capture_output=True, timeout=timeout, check=False)
        return subprocess.CompletedProcess(done.args, done.returncode,
                                           done.stdout.decode("utf-8", "replace"),
                                           done.stderr.decode("utf-8", "replace"))


@pytest.fixture
def fakefly(tmp_path: Path) -> Iterator[FakeFly]:
    """A fresh stand-in state: app timelogger-staging with one started machine."""
    assert os.access(FLY_BIN, os.X_OK), f"{FLY_BIN} must be executable (chmod +x)"
    yield FakeFly(tmp_path / "fakefly")
