"""The stand-in `ssh` (tests/fakessh/ssh) and helpers to arrange and inspect it.

    fake = FakeSsh(tmp_path)               # host "app-host", port 2222, user deploy, a key file
    target = fake.target()                 # an SshTarget wired to the stand-in
    fake.add_fault("refused", times=1)     # the next connection is refused
    fake.calls()[-1]["command"]            # what ssh was asked to run remotely
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ops.targets.ssh import SshTarget

SSH_BIN = Path(__file__).with_name("ssh")
HOST = "app-host"
PORT = 2222
USER = "deploy"


class FakeSsh:
    def __init__(self, root: Path, *, host: str = HOST, port: int = PORT, user: str = USER) -> None:
        self.bin_dir = root / "fakessh-bin"
        self.state_dir = self.bin_dir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # A copy beside its state, with this interpreter (-S: it needs the standard library only).
        self.bin = self.bin_dir / "ssh"
        self.bin.write_text(f"#!{sys.executable} -S\n" + SSH_BIN.read_text().split("\n", 1)[1])
        self.bin.chmod(0o755)
        self.host_root = root / "app-host"
        self.host_root.mkdir(exist_ok=True)
        self.key = root / "keys" / "id_ed25519"
        self.key.parent.mkdir(exist_ok=True)
        self.key.write_text("not a real key\n")
        self.key.chmod(0o600)
        self.host, self.port, self.user = host, port, user
        self.destination = f"{user}@{host}"
        hosts = {host: {"root": str(self.host_root), "port": port, "user": user, "key": str(self.key)}}
        (self.state_dir / "hosts.json").write_text(json.dumps(hosts))

    def target(self, **kwargs: Any) -> SshTarget:
        kwargs.setdefault("port", self.port)
        kwargs.setdefault("key", str(self.key))
        kwargs.setdefault("ssh", str(self.bin))
        return SshTarget(kwargs.pop("host", self.destination), **kwargs)

    def env(self) -> dict[str, str]:
        """The settings of the ssh target for `python -m ops`."""
        return {"TARGET": "ssh", "SSH": str(self.bin), "SSH_HOST": self.destination, "SSH_PORT": str(self.port),
                "SSH_KEY": str(self.key)}

    def add_fault(self, mode: str, *, match: str | None = None, times: int | None = None,
                  after_s: float | None = None) -> None:
        path = self.state_dir / "faults.json"
        rules = json.loads(path.read_text()) if path.exists() else []
        rule = {"mode": mode, **{k: v for k, v in (("match", match), ("times", times), ("after_s", after_s))
                                 if v is not None}}
        path.write_text(json.dumps([*rules, rule]))

    def clear_faults(self) -> None:
        (self.state_dir / "faults.json").unlink(missing_ok=True)

    def calls(self) -> list[dict[str, Any]]:
        path = self.state_dir / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]
