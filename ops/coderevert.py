"""Runbook 3.2, code rollback: `git revert HEAD` on the deploy branch and push it, safely.

opsbot keeps its own clone under the state directory. A revert is bound to the commit id that
was shown and approved: if the branch moved in between, nothing is reverted. A merge commit at
HEAD, a conflict, or a rejected push is reported with what to do, and the clone is left clean.
The push never forces. A deploy key (a secret) is written to a 0600 file for git's ssh only.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ops.approvals import Approval, Approvals
from ops.context import Engine, Phase, PhaseRun
from ops.errors import OpsError, UsageError
from ops.redact import register_secret
from ops.requests import RequestGate, ensure_can_request
from ops.targets.base import ShResult, run_argv
from ops.units import short_hash

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 120.0
SEP = "\x1f"


KIND = "code-revert"  # the approval kind of a code rollback
CODE_REVERT = Phase(KIND, takes_lock=True)  # one push to the branch at a time


class BranchMoved(OpsError):
    """The branch's HEAD is no longer the commit that was approved: nothing was reverted."""


@dataclass(frozen=True)
class Commit:
    id: str
    short: str
    author: str
    date: str
    subject: str


@dataclass(frozen=True)
class RevertPreview:
    branch: str
    head: Commit
    recent: tuple[Commit, ...]
    files: tuple[tuple[str, int, int], ...]  # path, lines added, lines removed by the revert
    is_merge: bool

    @property
    def added(self) -> int:
        return sum(f[1] for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f[2] for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RevertResult:
    ok: bool
    branch: str
    reverted: str
    new_commit: str
    subject: str
    files: tuple[tuple[str, int, int], ...]

    @property
    def error(self) -> str:
        return ""  # a revert that fails raises: a result is always a pushed revert

    @property
    def outcome(self) -> str:
        return ""  # the app's database is not touched; the run decides from ok

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CodeRepo:
    url: str
    branch: str
    clone_dir: Path
    name: str = "opsbot"
    email: str = "opsbot@localhost"
    deploy_key: str = ""

    @property
    def target(self) -> str:
        return f"git:{self.branch}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME=self.name, GIT_AUTHOR_EMAIL=self.email,
                   GIT_COMMITTER_NAME=self.name, GIT_COMMITTER_EMAIL=self.email, LC_ALL="C")
        if self.deploy_key:
            key = self._key_file()
            env["GIT_SSH_COMMAND"] = (f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
                                      "-o StrictHostKeyChecking=accept-new")
        return env

    def _key_file(self) -> Path:
        register_secret(self.deploy_key)
        path = self.clone_dir.parent / "deploy_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != self.deploy_key.strip() + "\n":
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.deploy_key.strip() + "\n")
        return path

    async def git(self, *args: str, check: bool = True, cwd: bool = True) -> ShResult:
        argv = ["git", *(["-C", str(self.clone_dir)] if cwd else []), *args]
        result = await run_argv(argv, timeout=GIT_TIMEOUT_S, env=self.env(), what=f"git {args[0]}",
                                hint="Check CODE_REPO is reachable and the deploy key has access.")
        if check and not result.ok:
            raise OpsError(f"git {args[0]} failed: {(result.stderr or result.stdout).strip()[:400]}",
                           hint="Check CODE_REPO, CODE_BRANCH and the deploy key, then retry.")
        return result

    async def sync(self) -> None:
        """Clone once, then fetch; the working tree always equals origin/BRANCH afterwards."""
        if not (self.clone_dir / ".git").is_dir():
            self.clone_dir.parent.mkdir(parents=True, exist_ok=True)
            await self.git("clone", "--quiet", "--branch", self.branch, "--", self.url, str(self.clone_dir),
                           cwd=False)
        else:
            await self.git("fetch", "--quiet", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}")
        await self.clean()

    async def clean(self) -> None:
        await self.git("revert", "--abort", check=False)
        await self.git("checkout", "--quiet", "-B", self.branch, f"origin/{self.branch}")
        await self.git("reset", "--quiet", "--hard", f"origin/{self.branch}")
        await self.git("clean", "-fdxq")

    async def log(self, n: int = 5) -> tuple[Commit, ...]:
        out = await self.git("log", f"-n{n}", f"--format=%H{SEP}%an{SEP}%ad{SEP}%s", "--date=iso-strict",
                             f"origin/{self.branch}")
        commits = []
        for line in out.stdout.splitlines():
            if line.count(SEP) >= 3:
                full, author, date, subject = line.split(SEP, 3)
                commits.append(Commit(full, short_hash(full), author, date, subject))
        return tuple(commits)

    async def preview(self) -> RevertPreview:
        await self.sync()
        recent = await self.log(5)
        if not recent:
            raise OpsError(f"the branch {self.branch} has no commits", hint="Check CODE_BRANCH.")
        parents = (await self.git("rev-list", "--parents", "-n1", "HEAD")).stdout.split()
        numstat = await self.git("show", "--numstat", "--format=", "HEAD")
        files = []
        for line in numstat.stdout.splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                added, removed = (int(p) if p.isdigit() else 0 for p in parts[:2])
                files.append((parts[2], removed, added))  # a revert adds back what the commit removed
        return RevertPreview(self.branch, recent[0], recent, tuple(files), len(parents) > 2)

    async def revert(self, expected_head: str) -> RevertResult:
        """Revert HEAD and push, only if HEAD is still the approved commit (else BranchMoved)."""
        if not re.fullmatch(r"[0-9a-f]{40}", expected_head or ""):
            raise UsageError("the approved commit id is malformed", hint="Ask for a new /deploy revert.")
        preview = await self.preview()
        head = preview.head
        if head.id != expected_head:
            raise BranchMoved(f"{self.branch} moved since the revert was approved: HEAD is now {head.short} "
                           f"({head.subject[:80]}), not {short_hash(expected_head)}",
                           hint="Nothing was reverted. Run /deploy revert again to review the new HEAD.")
        if preview.is_merge:
            raise OpsError(f"HEAD {head.short} is a merge commit; `git revert HEAD` needs to know which parent "
                           "to keep", hint="Revert it by hand with `git revert -m 1 <id>` after checking the "
                           "parents, or revert the merged commits one by one.")
        result = await self.git("revert", "--no-edit", "HEAD", check=False)
        if not result.ok:
            await self.clean()
            raise OpsError(f"`git revert` of {head.short} failed (a conflict, or nothing to revert): "
                           f"{(result.stdout + result.stderr).strip()[:300]}",
                           hint="Nothing was pushed and the clone is clean. Revert it by hand and push.")
        new = (await self.git("rev-parse", "HEAD")).stdout.strip()
        push = await self.git("push", "--porcelain", "origin", f"HEAD:refs/heads/{self.branch}", check=False)
        if not push.ok:
            await self.clean()
            raise OpsError(f"the push to {self.branch} was rejected: {(push.stderr or push.stdout).strip()[:300]}",
                           hint="Nothing changed on the remote and the clone is clean. If the branch moved, run "
                           "/deploy revert again; if it is protected, give the deploy key push access.")
        return RevertResult(True, self.branch, head.id, new, f"Revert \"{head.subject}\"", preview.files)


async def request_revert(engine: Engine, approvals: Approvals, code: CodeRepo, *, requester_id: int,
                         requester: str, timeout_s: float,
                         gate: RequestGate | None = None) -> tuple[Approval, RevertPreview]:
    """Ask to revert the branch's HEAD: refused while a revert of it runs or another request waits;
    the request is bound to the commit shown (if the branch moves first, nothing is reverted).
    ``gate``: one request in preparation at a time, so two cannot both pass the checks."""
    async with (gate or RequestGate()).hold(code.target, requester, what="revert the branch"):
        await ensure_can_request(engine, approvals, code.target, kind=KIND, what="revert")
        preview = await code.preview()
        approval_id = await approvals.create(
            target=code.target, subject=code.branch, sha256=preview.head.id, fingerprint="",
            requester_id=requester_id, requester=requester, timeout_s=timeout_s, preflight_run_id=None, kind=KIND)
    approval = await approvals.get(approval_id)
    assert approval is not None
    return approval, preview


@dataclass(frozen=True)
class ApprovedRevert:
    """What an approved code-revert request did: ``result`` or ``error``; ``state`` is what the
    request becomes (``stale`` when the branch moved, so the approval no longer applies)."""

    result: RevertResult | None
    error: OpsError | None
    run_id: int | None
    state: str


async def run_approved_revert(engine: Engine, approvals: Approvals, code: CodeRepo, a: Approval,
                              approver: str) -> ApprovedRevert:
    """Revert the approved commit, journaled as a run; the request is marked by the outcome."""
    try:
        # Locked on the branch, where the request was checked (one push to it at a time).
        async with PhaseRun(engine, CODE_REVERT, None, f"{a.requester} ({a.requester_id}) + {approver}",
                            migration=code.branch, sha256=a.sha256, target_name=code.target) as run:
            result = await code.revert(a.sha256)
            await run.done(result)
    except OpsError as exc:
        state = "stale" if isinstance(exc, BranchMoved) else "executed"
        await approvals.executed(a.id, None, state=state)
        return ApprovedRevert(None, exc, None, state)
    await approvals.executed(a.id, run.run_id)
    return ApprovedRevert(result, None, run.run_id, "executed")
