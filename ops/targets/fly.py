"""The app host is a Fly.io machine, reached through flyctl.

flyctl's sharp edges that shape this file (DESIGN §2 rules 6, 7, 8, 10; verified against
superfly/flyctl internal/command/ssh/console.go, sftp.go, ssh/io.go, apps/restart.go, logs):

- `ssh console -C CMD` sends CMD as an SSH exec request; the in-VM server splits it with
  shell-words rules and runs no shell, so every script goes to `-C "sh -s"` on stdin (no
  command-line limit). `-C sh` (exactly) would force a pseudo-terminal; `sh -s` does not.
- Any remote non-zero exit becomes flyctl exit 1 ("Error: ssh shell: Process exited with
  status N"), and a killed flyctl leaves the remote command running: callers verify state.
- With several started machines flyctl picks one and says so on stdout: we pin `--machine`.
- `apps restart` takes the app as an argument (it refuses `-a`); `logs --no-tail` polls forever
  while there are no entries; FLY_REGION in flyctl's environment filters `logs` by region.
- `ssh sftp get` refuses an existing local file and a dropped transfer leaves a partial one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError
from ops.redact import redact, register_secret
from ops.targets.base import DEFAULT_TIMEOUT_S, Machine, ShResult, run_argv, script_for_stdin

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# flyctl's own chatter that can precede the remote output on stdout (rule 10).
_NOISE = re.compile(r"^(No machine specified, using .*|Connecting to .*\.\.\.( complete)?)\s*$")
# Not `-C sh` (exactly `sh` forces a pseudo-terminal); `sh -s` reads the script from stdin.
REMOTE_SHELL = "sh -s"
# Present when the remote command ran (or its session broke): the failure is the remote's.
_REMOTE_RAN = "ssh shell:"

_SCALE_ZERO = (
    "Do not use `fly scale count 0` to pause the app: it destroys the machines, leaving "
    "nothing to ssh into, and `scale count 1` afterwards makes a new machine with a new id."
)


@dataclass(frozen=True)
class _LocalFailure:
    """A flyctl failure that happened on this side, before any remote command ran."""

    pattern: re.Pattern[str]
    message: str
    hint: str
    repin: bool = False  # the pinned machine went away: choose again on the next call


def _failures(app: str) -> list[_LocalFailure]:
    def rule(pattern: str, message: str, hint: str, repin: bool = False) -> _LocalFailure:
        return _LocalFailure(re.compile(pattern, re.IGNORECASE), message, hint, repin)

    return [
        rule(r"no started VMs|has no VMs|no machines", f"app {app} has no started machine",
             f"Start one with `fly machine start ID --app {app}` (ids: `fly machine list "
             f"--app {app}`). {_SCALE_ZERO}"),
        rule(r"--machine=.* not found/started|machine \S+ was not found",
             "the pinned machine is not started or no longer exists",
             f"Check `fly machine list --app {app}`; start the machine or set FLY_MACHINE to a "
             "started one.", repin=True),
        rule(r"no access token|not authorized|unauthorized|must be authenticated|"
             r"token (is )?(invalid|expired)",
             "flyctl was refused: the Fly API token is missing, invalid or lacks access",
             f"Set FLY_API_TOKEN to a valid token for {app} (e.g. `fly tokens create deploy "
             f"--app {app}`)."),
        rule(r"could not find app|app not found|missing an app name",
             f"flyctl cannot find the app {app}",
             "Check FLY_APP: `fly apps list` shows the apps this token can see."),
        rule(r"no active leader|tunnel unavailable|can't establish agent|host unavailable|"
             r"error connecting to SSH server|wireguard|dial: ",
             "flyctl could not open a connection to the machine",
             "Retry in a minute; if it persists run `fly agent restart` and check `fly status`."),
        rule(r"unknown (shorthand )?flag|unknown command|flag needs an argument",
             "flyctl refused the command line opsbot built",
             "flyctl may be too old or too new for opsbot: check `fly version`."),
    ]


FLYCTL_ENV = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ",
    "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
})


class FlyTarget:
    """Runs every phase's sh script on one pinned, started machine of a Fly app."""

    def __init__(
        self,
        app: str,
        *,
        flyctl: str = "fly",
        api_token: str = "",
        machine: str = "",
        env: Mapping[str, str] | None = None,
        list_timeout: float = 30.0,
        logs_timeout: float = 20.0,
        restart_timeout: float = 120.0,
        sftp_timeout: float = 1800.0,
    ) -> None:
        self.app = app
        self.name = f"fly:{app}"
        self.flyctl = flyctl
        self.machine = machine
        self.list_timeout = list_timeout
        self.logs_timeout = logs_timeout
        self.restart_timeout = restart_timeout
        self.sftp_timeout = sftp_timeout
        self._token = api_token
        self._given_env = None if env is None else dict(env)
        self._pinned: Machine | None = None
        register_secret(api_token)

    # --- Target protocol --------------------------------------------------------------

    async def sh(self, script: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> ShResult:
        # -C is split with shell-words rules and run without a shell; the script itself goes on
        # stdin to `sh -s` (no command-line limit, nothing of it in the process list).
        machine = await self._machine()
        argv = self._cmd("ssh", "console", "--app", self.app, "--machine", machine.id,
                         "-q", "-C", REMOTE_SHELL)
        result = await self._run(
            argv, stdin=script_for_stdin(script), timeout=timeout,
            what=f"a shell step on {self.name}",
            hint="flyctl was stopped, but the command may still be running on the machine "
                 "(a killed `fly ssh console` does not stop it). Check the database state "
                 "before retrying.",
        )
        self._raise_local_failure(result, f"`fly ssh console` on {machine.id}")
        # A non-zero remote exit arrives as 1 whatever it was: returned as is (rule 7).
        return ShResult(_strip_noise(result.stdout), result.stderr, result.exit_code,
                        result.seconds)

    async def fetch(self, remote: str, local: Path, *, timeout: float | None = None) -> None:
        # `remote` is always a finished snapshot made by `.backup`, never the live database.
        if local.exists():
            raise OpsError(f"{local} already exists",
                           hint="flyctl never overwrites a local file: remove it or choose "
                                "another path.")
        if remote.startswith("-"):
            raise OpsError(f"remote path {remote!r} looks like a flag",
                           hint="Use an absolute path on the machine.")
        machine = await self._machine()
        local_arg = os.fspath(local)
        if local_arg.startswith("-"):
            local_arg = "./" + local_arg
        argv = self._cmd("ssh", "sftp", "get", remote, local_arg, "--app", self.app,
                         "--machine", machine.id)
        try:
            result = await self._run(
                argv, timeout=self.sftp_timeout if timeout is None else timeout,
                what=f"downloading {remote} from {machine.id}",
                hint="Nothing was kept locally; check the network and retry the download.",
            )
            self._raise_local_failure(result, "`fly ssh sftp get`")
            if not result.ok:
                raise OpsError(f"downloading {remote} failed: {_flyctl_error(result.stderr)}",
                               hint="Nothing was kept locally; check that the file exists on "
                                    "the machine and retry.")
        except BaseException:
            # A dropped or stopped transfer leaves a partial file: never let it pass as a backup.
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
            raise
        if not local.exists():
            raise OpsError(f"flyctl reported success but {local} is missing",
                           hint="Retry the download.")

    async def restart(self, *, timeout: float | None = None) -> str:
        # The app name is positional: `fly apps restart` refuses -a/--app.
        result = await self._run(
            self._cmd("apps", "restart", self.app),
            timeout=self.restart_timeout if timeout is None else timeout,
            what=f"restarting {self.app}",
            hint=f"Check `fly status --app {self.app}`; restart by hand with "
                 f"`fly apps restart {self.app}` if it is not running.",
        )
        self._raise_local_failure(result, "`fly apps restart`")
        if not result.ok:
            raise OpsError(f"restarting {self.app} failed: {_flyctl_error(result.stderr)}",
                           hint=f"Check `fly status --app {self.app}` and the app's logs.")
        return f"restarted with `fly apps restart {self.app}`"

    async def machines(self) -> list[Machine]:
        raw = await self._json("machine", "list", "--app", self.app, "--json",
                               what=f"listing the machines of {self.app}")
        if not isinstance(raw, list):
            raise OpsError("`fly machine list --json` did not return a list",
                           hint="Check `fly version`: opsbot expects a current flyctl.")
        return [
            Machine(id=str(m.get("id", "")), state=str(m.get("state", "")),
                    region=str(m.get("region", "")), name=str(m.get("name", "")))
            for m in raw if isinstance(m, dict)
        ]

    async def logs(self, lines: int, *, timeout: float | None = None) -> list[str]:
        # --no-tail still polls while there are no entries: read for a while, then stop it.
        argv = self._cmd("logs", "--app", self.app, "--no-tail", "--json")
        out, err, code = await _stream_argv(
            argv, env=self._env(), timeout=self.logs_timeout if timeout is None else timeout,
            what=f"reading the logs of {self.app}",
        )
        if code not in (0, None) and not out.strip():
            result = ShResult(out, err, code, 0.0)
            self._raise_local_failure(result, "`fly logs`")
            raise OpsError(f"reading the logs failed: {_flyctl_error(err)}",
                           hint=f"Try `fly logs --app {self.app} --no-tail` by hand.")
        return _parse_logs(out)[-lines:] if lines > 0 else []

    # --- Fly-only operations ---------------------------------------------------------------

    async def status(self) -> dict:
        raw = await self._json("status", "--app", self.app, "--json",
                               what=f"reading the status of {self.app}")
        if not isinstance(raw, dict):
            raise OpsError("`fly status --json` did not return an object",
                           hint="Check `fly version`: opsbot expects a current flyctl.")
        return raw

    async def stop_machines(self, ids: list[str] | None = None) -> list[str]:
        """Emergency stop: `fly machine stop`, which keeps the machines (never scale to 0)."""
        if ids is None:
            ids = [m.id for m in await self.machines() if m.state == "started"]
        if not self.machine:
            self._pinned = None  # the pinned machine may be among them: choose again later
        for machine_id in ids:
            await self._change_machine("stop", machine_id)
        return ids

    async def start_machines(self, ids: list[str] | None = None) -> list[str]:
        if ids is None:
            ids = [m.id for m in await self.machines() if m.state == "stopped"]
        for machine_id in ids:
            await self._change_machine("start", machine_id)
        return ids

    # --- helpers ---------------------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        return [self.flyctl, *args]

    def _env(self) -> dict[str, str]:
        """flyctl's environment: what it needs to run (PATH, HOME for its config and WireGuard
        state, locale, proxies, CA certificates, its own FLY_* settings) and nothing else, so the
        bot's other secrets (DISCORD_TOKEN, CODE_DEPLOY_KEY, …) never reach it."""
        source = os.environ if self._given_env is None else self._given_env
        env = {k: v for k, v in source.items() if k in FLYCTL_ENV or k.startswith("FLY_")}
        # FLY_REGION (set when the bot itself runs on Fly) would filter `fly logs` by region.
        env.pop("FLY_REGION", None)
        env["NO_COLOR"] = "1"
        if self._token:
            # The token goes through the environment only: argv is visible to every local user.
            env["FLY_API_TOKEN"] = self._token
        return env

    async def _run(self, argv: list[str], *, stdin: bytes | None = None, timeout: float,
                   what: str, hint: str) -> ShResult:
        log.debug("flyctl: %s", shlex.join(argv[1:]))
        return await run_argv(argv, stdin=stdin, timeout=timeout, env=self._env(), what=what,
                              hint=hint)

    async def _json(self, *args: str, what: str) -> object:
        result = await self._run(self._cmd(*args), timeout=self.list_timeout, what=what,
                                 hint="Check the network and `fly status`, then retry.")
        self._raise_local_failure(result, f"`fly {args[0]}`")
        if not result.ok:
            raise OpsError(f"{what} failed: {_flyctl_error(result.stderr)}",
                           hint=f"Try `fly {' '.join(args)}` by hand.")
        try:
            return json.loads(_ANSI.sub("", result.stdout))
        except json.JSONDecodeError as exc:
            raise OpsError(f"{what}: flyctl did not print JSON ({exc.msg})",
                           hint="Check `fly version`: opsbot expects a current flyctl.") from None

    async def _change_machine(self, verb: str, machine_id: str) -> None:
        result = await self._run(
            self._cmd("machine", verb, machine_id, "--app", self.app),
            timeout=self.restart_timeout, what=f"`fly machine {verb} {machine_id}`",
            hint=f"Check `fly machine list --app {self.app}` and run "
                 f"`fly machine {verb} {machine_id} --app {self.app}` by hand.",
        )
        self._raise_local_failure(result, f"`fly machine {verb}`")
        if not result.ok:
            raise OpsError(f"`fly machine {verb} {machine_id}` failed: "
                           f"{_flyctl_error(result.stderr)}",
                           hint=f"Run `fly machine {verb} {machine_id} --app {self.app}` by "
                                "hand and check `fly machine list`.")

    async def _machine(self) -> Machine:
        """The machine every call goes to, chosen once: flyctl's own pick may change."""
        if self._pinned is None:
            self._pinned = self._choose(await self.machines())
            log.info("%s: using machine %s (%s)", self.name, self._pinned.id,
                     self._pinned.region)
        return self._pinned

    def _choose(self, machines: list[Machine]) -> Machine:
        if self.machine:
            chosen = next((m for m in machines if m.id == self.machine), None)
            if chosen is None:
                raise OpsError(f"machine {self.machine} is not in app {self.app}",
                               hint=f"Pick an id from `fly machine list --app {self.app}`.")
            if chosen.state != "started":
                raise OpsError(f"machine {chosen.id} is {chosen.state}, not started",
                               hint=f"Start it with `fly machine start {chosen.id} --app "
                                    f"{self.app}`. {_SCALE_ZERO}")
            return chosen
        started = [m for m in machines if m.state == "started"]
        if not started:
            states = ", ".join(f"{m.id} {m.state}" for m in machines) or "no machines at all"
            raise OpsError(f"app {self.app} has no started machine ({states})",
                           hint=f"Start one with `fly machine start ID --app {self.app}`. "
                                f"{_SCALE_ZERO}")
        return started[0]

    def _raise_local_failure(self, result: ShResult, what: str) -> None:
        if result.ok or _REMOTE_RAN in result.stderr:
            return
        text = _ANSI.sub("", result.stderr)
        for failure in _failures(self.app):
            if failure.pattern.search(text):
                if failure.repin and not self.machine:
                    self._pinned = None
                raise OpsError(f"{what}: {failure.message} ({_flyctl_error(text)})",
                               hint=failure.hint)


def _flyctl_error(stderr: str) -> str:
    """flyctl's own `Error: ...` line, else the last line of stderr; short and redacted."""
    lines = [line.strip() for line in _ANSI.sub("", stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    text = (errors[-1] if errors else lines[-1] if lines else "no error text").removeprefix(
        "Error:").strip()
    return redact(text[:300])


def _strip_noise(stdout: str) -> str:
    """Drop flyctl's chatter ahead of the remote output; the remote output itself is kept."""
    lines = stdout.splitlines(keepends=True)
    while lines and _NOISE.match(_ANSI.sub("", lines[0])):
        lines.pop(0)
    return "".join(lines)


def _parse_logs(text: str) -> list[str]:
    """flyctl --json prints one indented JSON object per entry, back to back."""
    decoder = json.JSONDecoder()
    text = _ANSI.sub("", text)
    out: list[str] = []
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            # Not JSON (or cut off when flyctl was stopped): keep the line as text.
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            out.append(text[pos:end].rstrip())
            pos = end
            continue
        out.append(_format_entry(entry))
    return [redact(line) for line in out if line]


def _format_entry(entry: object) -> str:
    if not isinstance(entry, dict):
        return json.dumps(entry)
    parts = [str(entry.get("timestamp") or ""), f"[{entry['level']}]" if entry.get("level")
             else "", str(entry.get("message", ""))]
    return " ".join(p for p in parts if p)


async def _stream_argv(argv: list[str], *, env: dict[str, str], timeout: float,
                       what: str) -> tuple[str, str, int | None]:
    """Read a command that may never end for up to `timeout`, then stop its process group.

    Returns (stdout, stderr, exit code or None if it was stopped). Stopping it is not an error.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise OpsError(f"{what}: `{argv[0]}` was not found",
                       hint="Install flyctl or set FLYCTL to its path.") from exc
    assert proc.stdout is not None and proc.stderr is not None
    chunks: list[bytes] = []
    errs = asyncio.ensure_future(proc.stderr.read())

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            chunks.append(chunk)

    stopped = False
    try:
        await asyncio.wait_for(pump(), timeout)
        await asyncio.wait_for(proc.wait(), 5)
    except (TimeoutError, asyncio.CancelledError):
        stopped = True
        _kill_group(proc)
        await proc.wait()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            errs.cancel()
            raise
    err = await errs
    out = b"".join(chunks).decode("utf-8", "replace")
    code = None if stopped else proc.returncode
    return redact(out), redact(err.decode("utf-8", "replace")), code


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
