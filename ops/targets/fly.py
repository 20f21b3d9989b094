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
- There is no non-interactive upload (`ssh sftp shell` prompts): `put` streams the file on stdin,
  which flyctl copies to the remote command and closes at EOF (ssh/io.go attachPipes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ops.errors import OpsError
from ops.redact import register_secret
from ops.sections import setting
from ops.targets.base import (
    DEFAULT_TIMEOUT_S,
    Finding,
    Machine,
    NoMachine,
    ShResult,
    TargetSpec,
    ToolRefused,
    absolute_db_path,
    failed,
    filtered_env,
    from_error,
    passed,
    run_argv,
    script_for_stdin,
)
from ops.targets.flyctl import (
    ANSI,
    SCALE_ZERO,
    flyctl_error,
    local_failure,
    parse_logs,
    remote_error,
    session_lost,
    stream_argv,
)
from ops.targets.flyctl import strip_noise as _strip_noise
from ops.targets.upload import Upload, put_file, stream_lost, stream_refused

if TYPE_CHECKING:
    from ops.sections import CoreSettings

log = logging.getLogger(__name__)

__all__ = ["FlyTarget", "SCALE_ZERO", "SPEC", "choose_machine", "_strip_noise"]

# Not `-C sh` (exactly `sh` forces a pseudo-terminal); `sh -s` reads the script from stdin.
REMOTE_SHELL = "sh -s"
DOCTOR_TIMEOUT_S = 20.0

FLYCTL_ENV = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ",
    "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
})


def choose_machine(app: str, pinned: str, machines: list[Machine]) -> Machine:
    """The machine every call goes to: FLY_MACHINE when set (it must be started), else the
    first started one. The one place this choice (and its refusals) is written."""
    if pinned:
        chosen = next((m for m in machines if m.id == pinned), None)
        if chosen is None:
            raise NoMachine(f"FLY_MACHINE={pinned} is not in app {app}",
                            hint=f"Pick an id from `fly machine list --app {app}`, or leave FLY_MACHINE empty.")
        if chosen.state != "started":
            raise NoMachine(f"machine {chosen.id} is {chosen.state}, not started",
                            hint=f"`fly machine start {chosen.id} --app {app}` starts it; {SCALE_ZERO}.")
        return chosen
    started = [m for m in machines if m.state == "started"]
    if not started:
        states = ", ".join(f"{m.id} {m.state}" for m in machines) or "no machines at all"
        first = machines[0].id if machines else "ID"
        raise NoMachine(f"{app} has no started machine ({states})",
                        hint=f"`fly machine start {first} --app {app}` starts one; {SCALE_ZERO}.")
    return started[0]


class FlyTarget:
    """Runs every phase's sh script on one pinned, started machine of a Fly app."""

    here = False

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
                        result.seconds, session_lost=session_lost(result))

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
                raise OpsError(f"downloading {remote} failed: {flyctl_error(result.stderr)}",
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

    async def put(self, local: Path, remote: str, *, timeout: float | None = None) -> None:
        """The file on stdin to `sh -c 'cat > "$1"' sh PARTIAL`, then an ordinary `sh -s` script
        verifies it and links it into place (ops.targets.upload)."""
        limit = self.sftp_timeout if timeout is None else timeout
        await put_file(self, local, remote, lambda upload: self._stream_in(upload, limit))

    async def _stream_in(self, upload: Upload, timeout: float) -> None:
        machine = await self._machine()
        # -C is one line that flyctl's server splits into the stream's own words; never --pty
        # (nor exactly `sh`), which would turn the file's \n into \r\n.
        argv = self._cmd("ssh", "console", "--app", self.app, "--machine", machine.id, "-q",
                         "-C", upload.stream_command())
        with open(upload.local, "rb") as data:
            result = await self._run(
                argv, stdin=data, timeout=timeout, what=f"uploading {upload.local} to {machine.id}",
                hint="flyctl was stopped and nothing was put in place; retry the upload.")
        self._raise_local_failure(result, f"`fly ssh console` on {machine.id}")
        if session_lost(result):
            raise stream_lost(self, upload, flyctl_error(result.stderr))
        if not result.ok:
            raise stream_refused(self, upload, remote_error(result.stderr))

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
            raise OpsError(f"restarting {self.app} failed: {flyctl_error(result.stderr)}",
                           hint=f"Check `fly status --app {self.app}` and the app's logs.")
        return f"restarted with `fly apps restart {self.app}`"

    async def stop(self, ids: list[str] | None = None) -> list[str]:
        """Emergency stop: `fly machine stop`, which keeps the machines (never scale to 0)."""
        if ids is None:
            ids = [m.id for m in await self.machines() if m.state == "started"]
        if not self.machine:
            self._pinned = None  # the pinned machine may be among them: choose again later
        for machine_id in ids:
            await self._change_machine("stop", machine_id)
        return ids

    async def start(self, ids: list[str] | None = None) -> list[str]:
        if ids is None:
            ids = [m.id for m in await self.machines() if m.state == "stopped"]
        for machine_id in ids:
            await self._change_machine("start", machine_id)
        return ids

    async def machines(self) -> list[Machine]:
        raw = await self._json("machine", "list", "--app", self.app, "--json",
                               what=f"listing the machines of {self.app}")
        if not isinstance(raw, list):
            raise ToolRefused("`fly machine list --json` did not return a list",
                              hint="Check `fly version`: opsbot expects a current flyctl.")
        return [
            Machine(id=str(m.get("id", "")), state=str(m.get("state", "")),
                    region=str(m.get("region", "")), name=str(m.get("name", "")))
            for m in raw if isinstance(m, dict)
        ]

    async def snapshot_volume(self) -> str:
        """`fly volumes snapshots create VOLUME_ID` for the volume attached to the machine in use,
        found with `fly volumes list --app APP --json` (flyctl prints "Scheduled to snapshot
        volume ID"; Fly keeps it for the volume's snapshot retention)."""
        machine = await self._machine()
        raw = await self._json("volumes", "list", "--app", self.app, "--json",
                               what=f"listing the volumes of {self.app}")
        volumes = [v for v in raw if isinstance(v, dict)] if isinstance(raw, list) else []
        attached = [v for v in volumes if v.get("attached_machine_id") == machine.id]
        if not attached:
            raise OpsError(f"no volume of {self.app} is attached to machine {machine.id}",
                           hint=f"Check `fly volumes list --app {self.app}`; or set VOLUME_SNAPSHOT=false.")
        volume = str(attached[0].get("id", ""))
        result = await self._run(self._cmd("volumes", "snapshots", "create", volume, "--app", self.app),
                                 timeout=self.list_timeout, what=f"`fly volumes snapshots create {volume}`",
                                 hint=f"Run `fly volumes snapshots create {volume} --app {self.app}` by hand.")
        self._raise_local_failure(result, "`fly volumes snapshots create`")
        if not result.ok:
            raise OpsError(f"`fly volumes snapshots create {volume}` failed: {flyctl_error(result.stderr)}",
                           hint=f"Run it by hand, or check `fly volumes snapshots list {volume} --app {self.app}`.")
        return f"snapshot of volume {volume} scheduled (`fly volumes snapshots list {volume}` shows it)"

    async def logs(self, lines: int, *, timeout: float | None = None) -> list[str]:
        # --no-tail still polls while there are no entries: read for a while, then stop it.
        argv = self._cmd("logs", "--app", self.app, "--no-tail", "--json")
        out, err, code = await stream_argv(
            argv, env=self._env(), timeout=self.logs_timeout if timeout is None else timeout,
            what=f"reading the logs of {self.app}",
        )
        if code not in (0, None) and not out.strip():
            self._raise_local_failure(ShResult(out, err, code, 0.0), "`fly logs`")
            raise OpsError(f"reading the logs failed: {flyctl_error(err)}",
                           hint=f"Try `fly logs --app {self.app} --no-tail` by hand.")
        return parse_logs(out)[-lines:] if lines > 0 else []

    # --- wording ---------------------------------------------------------------------------

    def describe(self) -> str:
        return self.app

    def undo_stop_text(self, stopped: Sequence[str]) -> str:
        if not stopped:
            return f"`fly machine start ID --app {self.app}` (ids: `fly machine list --app {self.app}`)"
        return " ; ".join(f"`fly machine start {m} --app {self.app}`" for m in stopped)

    def grow_volume_text(self) -> str:
        return "extend the volume (`fly volumes extend`)"

    def status_text(self) -> str:
        return f"`fly status --app {self.app}`, `fly volumes list --app {self.app}`, `fly logs --app {self.app}`"

    async def doctor(self) -> list[Finding]:
        """flyctl runs here and may read FLY_APP (the token is valid for it); then the machines."""
        found = await self._doctor_flyctl()
        if not all(f.ok for f in found):
            return found
        try:
            machines = await self.machines()
            chosen = choose_machine(self.app, self.machine, machines)
        except NoMachine as exc:
            return [*found, Finding(False, exc.message, exc.hint)]
        except OpsError as exc:
            return [*found, from_error(f"could not list the machines of {self.app}", exc)]
        if self.machine:
            return [*found, passed(f"{self.app}: the pinned machine {chosen.id} ({chosen.region}) is started")]
        started = sum(m.state == "started" for m in machines)
        more = f"; {started} started, opsbot uses the first" if started > 1 else ""
        return [*found, passed(f"{self.app} has a started machine: {chosen.id} ({chosen.region}){more}")]

    async def status(self) -> dict:
        raw = await self._json("status", "--app", self.app, "--json",
                               what=f"reading the status of {self.app}")
        if not isinstance(raw, dict):
            raise ToolRefused("`fly status --json` did not return an object",
                              hint="Check `fly version`: opsbot expects a current flyctl.")
        return raw

    # --- helpers ---------------------------------------------------------------------------

    async def _doctor_flyctl(self) -> list[Finding]:
        path = shutil.which(self.flyctl)
        if path is None:
            return [failed(f"flyctl not found (FLYCTL={self.flyctl})",
                           "install it (https://fly.io/docs/flyctl/install/) or set FLYCTL to its path; "
                           "the Docker image has it at /usr/local/bin/fly")]
        try:
            out = await run_argv([path, "version"], timeout=DOCTOR_TIMEOUT_S, env=self._env(),
                                 what="`fly version`", hint="Reinstall flyctl.")
        except OpsError as exc:
            return [from_error(f"flyctl at {path} does not run", exc)]
        if not out.ok:
            return [failed(f"flyctl at {path} does not run: {out.stderr.strip()[:200]}", "reinstall flyctl")]
        version = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
        found = [passed(f"flyctl {version} at {path}")]
        try:
            await self.status()
        except OpsError as exc:
            return [*found, from_error(f"flyctl cannot read the app {self.app}", exc)]
        return [*found, passed(f"flyctl is authenticated for {self.app}")]

    def _cmd(self, *args: str) -> list[str]:
        return [self.flyctl, *args]

    def _env(self) -> dict[str, str]:
        """flyctl's environment: what it needs to run (PATH, HOME for its config and WireGuard
        state, locale, proxies, CA certificates, its own FLY_* settings) and nothing else, so the
        bot's other secrets (DISCORD_TOKEN, CODE_DEPLOY_KEY, …) never reach it."""
        env = filtered_env(self._given_env, FLYCTL_ENV, ("FLY_",))
        # FLY_REGION (set when the bot itself runs on Fly) would filter `fly logs` by region.
        env.pop("FLY_REGION", None)
        env["NO_COLOR"] = "1"
        if self._token:
            # The token goes through the environment only: argv is visible to every local user.
            env["FLY_API_TOKEN"] = self._token
        return env

    async def _run(self, argv: list[str], *, stdin: bytes | BinaryIO | None = None, timeout: float,
                   what: str, hint: str) -> ShResult:
        log.debug("flyctl: %s", shlex.join(argv[1:]))
        return await run_argv(argv, stdin=stdin, timeout=timeout, env=self._env(), what=what,
                              hint=hint)

    async def _json(self, *args: str, what: str) -> object:
        result = await self._run(self._cmd(*args), timeout=self.list_timeout, what=what,
                                 hint="Check the network and `fly status`, then retry.")
        self._raise_local_failure(result, f"`fly {args[0]}`")
        if not result.ok:
            raise OpsError(f"{what} failed: {flyctl_error(result.stderr)}",
                           hint=f"Try `fly {' '.join(args)}` by hand.")
        try:
            return json.loads(ANSI.sub("", result.stdout))
        except json.JSONDecodeError as exc:
            raise ToolRefused(f"{what}: flyctl did not print JSON ({exc.msg})",
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
                           f"{flyctl_error(result.stderr)}",
                           hint=f"Run `fly machine {verb} {machine_id} --app {self.app}` by "
                                "hand and check `fly machine list`.")

    async def _machine(self) -> Machine:
        """The machine every call goes to, chosen once: flyctl's own pick may change."""
        if self._pinned is None:
            self._pinned = choose_machine(self.app, self.machine, await self.machines())
            log.info("%s: using machine %s (%s)", self.name, self._pinned.id,
                     self._pinned.region)
        return self._pinned

    def _raise_local_failure(self, result: ShResult, what: str) -> None:
        found = local_failure(result, self.app, what)
        if found is None:
            return
        error, repin = found
        if repin and not self.machine:
            self._pinned = None
        raise error


@dataclass(frozen=True)
class FlySettings:
    app: str = setting("FLY_APP", "timelogger-staging", keep_empty=True)
    flyctl: str = setting("FLYCTL", "fly")
    api_token: str = setting("FLY_API_TOKEN", "")
    machine: str = setting("FLY_MACHINE", "")

    def __repr__(self) -> str:  # never print the token
        return f"FlySettings(app={self.app!r}, flyctl={self.flyctl!r}, machine={self.machine!r})"


def build(settings: CoreSettings) -> FlyTarget:
    fly: FlySettings = settings.fly
    return FlyTarget(fly.app, flyctl=fly.flyctl, api_token=fly.api_token, machine=fly.machine)


def problems(settings: CoreSettings) -> list[str]:
    found = absolute_db_path(settings)
    if not settings.fly.app:
        found.append("FLY_APP is empty: name the Fly app to operate on, e.g. timelogger-staging")
    return found


SPEC = TargetSpec(name="fly", build=build, problems=problems, settings=FlySettings,
                  secrets=("FLY_API_TOKEN", "FLY_ACCESS_TOKEN"),  # flyctl reads either
                  refused_pauses=(("scale-to-zero", SCALE_ZERO),), app_setting="FLY_APP", machine_setting="FLY_MACHINE")
