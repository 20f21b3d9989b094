"""Reading flyctl: its error text becomes typed errors here and nowhere else, its chatter is
dropped from the remote output, its `--json` logs become lines. Used by ops.targets.fly only."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

from ops.redact import redact
from ops.targets.base import (
    AuthRefused,
    HostUnreachable,
    NoMachine,
    ShResult,
    TargetError,
    ToolMissing,
    ToolRefused,
    UnknownApp,
    stop_group,
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# flyctl's own chatter that can precede the remote output on stdout (rule 10).
_NOISE = re.compile(r"^(No machine specified, using .*|Connecting to .*\.\.\.( complete)?)\s*$")
# Present when the remote command ran (or its session broke): the failure is the remote's.
_REMOTE_RAN = "ssh shell:"
# How flyctl reports a remote command that ended with an exit status (any status becomes 1).
_REMOTE_EXITED = "Process exited with status"

# Never use it to pause the app: the one text for the fly target's hints, `bot check` and the refusal
# of PAUSE_APP=scale-to-zero (the fly target's SPEC gives it to ops.config).
SCALE_ZERO = ("never `fly scale count 0`: it destroys the machines, leaving nothing to ssh into, and "
              "`scale count 1` afterwards makes a new machine with a new id")


@dataclass(frozen=True)
class _LocalFailure:
    """A flyctl failure that happened on this side, before any remote command ran."""

    pattern: re.Pattern[str]
    error: type[TargetError]
    message: str
    hint: str
    repin: bool = False  # the pinned machine went away: choose again on the next call


def _failures(app: str) -> list[_LocalFailure]:
    def rule(pattern: str, error: type[TargetError], message: str, hint: str, repin: bool = False) -> _LocalFailure:
        return _LocalFailure(re.compile(pattern, re.IGNORECASE), error, message, hint, repin)

    return [
        rule(r"no started VMs|has no VMs|no machines", NoMachine, f"app {app} has no started machine",
             f"Start one with `fly machine start ID --app {app}` (ids: `fly machine list "
             f"--app {app}`); {SCALE_ZERO}."),
        rule(r"--machine=.* not found/started|machine \S+ was not found", NoMachine,
             "the pinned machine is not started or no longer exists",
             f"Check `fly machine list --app {app}`; start the machine or set FLY_MACHINE to a "
             "started one.", repin=True),
        rule(r"no access token|not authorized|unauthorized|must be authenticated|"
             r"token (is )?(invalid|expired)", AuthRefused,
             "flyctl was refused: the Fly API token is missing, invalid or lacks access",
             f"Set FLY_API_TOKEN to a valid token for {app} (e.g. `fly tokens create deploy "
             f"--app {app}`)."),
        rule(r"could not find app|app not found|missing an app name", UnknownApp,
             f"flyctl cannot find the app {app}",
             "Check FLY_APP: `fly apps list` shows the apps this token can see."),
        rule(r"no active leader|tunnel unavailable|can't establish agent|host unavailable|"
             r"error connecting to SSH server|wireguard|dial: ", HostUnreachable,
             "flyctl could not open a connection to the machine",
             "Retry in a minute; if it persists run `fly agent restart` and check `fly status`."),
        rule(r"unknown (shorthand )?flag|unknown command|flag needs an argument", ToolRefused,
             "flyctl refused the command line opsbot built",
             "flyctl may be too old or too new for opsbot: check `fly version`."),
    ]


def local_failure(result: ShResult, app: str, what: str) -> tuple[TargetError, bool] | None:
    """The typed error for a flyctl failure on this side (and whether to choose a machine again),
    or None when the command ran remotely or succeeded."""
    if result.ok or _REMOTE_RAN in result.stderr:
        return None
    text = ANSI.sub("", result.stderr)
    for failure in _failures(app):
        if failure.pattern.search(text):
            return failure.error(f"{what}: {failure.message} ({flyctl_error(text)})", hint=failure.hint), failure.repin
    return None


def session_lost(result: ShResult) -> bool:
    """The ssh session broke (no exit status came back): the remote command's fate is unknown."""
    return not result.ok and _REMOTE_RAN in result.stderr and _REMOTE_EXITED not in result.stderr


def flyctl_error(stderr: str) -> str:
    """flyctl's own `Error: ...` line, else the last line of stderr; short and redacted."""
    lines = [line.strip() for line in ANSI.sub("", stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    text = (errors[-1] if errors else lines[-1] if lines else "no error text").removeprefix(
        "Error:").strip()
    return redact(text[:300])


def remote_error(stderr: str) -> str:
    """The remote command's own last line of stderr, without flyctl's `Error: ssh shell: …`."""
    lines = [line.strip() for line in ANSI.sub("", stderr).splitlines()
             if line.strip() and not line.strip().startswith("Error:")]
    return redact(lines[-1][:300]) if lines else ""


def strip_noise(stdout: str) -> str:
    """Drop flyctl's chatter ahead of the remote output; the remote output itself is kept."""
    lines = stdout.splitlines(keepends=True)
    while lines and _NOISE.match(ANSI.sub("", lines[0])):
        lines.pop(0)
    return "".join(lines)


def parse_logs(text: str) -> list[str]:
    """flyctl --json prints one indented JSON object per entry, back to back."""
    decoder = json.JSONDecoder()
    text = ANSI.sub("", text)
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


async def stream_argv(argv: list[str], *, env: dict[str, str], timeout: float,
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
        raise ToolMissing(f"{what}: `{argv[0]}` was not found",
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
        try:
            await stop_group(proc)
        except asyncio.CancelledError:
            errs.cancel()
            raise
    err = await errs
    out = b"".join(chunks).decode("utf-8", "replace")
    code = None if stopped else proc.returncode
    return redact(out), redact(err.decode("utf-8", "replace")), code
