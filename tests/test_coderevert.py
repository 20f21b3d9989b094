"""Code rollback against a real bare git repository on this machine as the remote."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ops.coderevert import CodeRepo
from ops.context import Engine
from ops.errors import OpsError

KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAsecret-deploy-key-material\n"
       "-----END OPENSSH PRIVATE KEY-----")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@x", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@x"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote with `develop`, and a developer's clone that pushes to it."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=develop", str(bare))
    dev = tmp_path / "dev"
    git(tmp_path, "clone", "--quiet", str(bare), str(dev))
    git(dev, "checkout", "--quiet", "-b", "develop")
    (dev / "app.py").write_text("SUSPEND = True\n")
    git(dev, "add", "app.py")
    git(dev, "commit", "--quiet", "-m", "add suspend")
    (dev / "app.py").write_text("SUSPEND = False\nREMOVED = 'suspend'\n")
    git(dev, "commit", "--quiet", "-am", "remove suspend feature")
    git(dev, "push", "--quiet", "origin", "develop")
    return bare, dev


def repo(tmp_path: Path, bare: Path) -> CodeRepo:
    return CodeRepo(url=str(bare), branch="develop", clone_dir=tmp_path / "state" / "code", name="opsbot",
                    email="opsbot@example.org", deploy_key=KEY)


async def test_preview_then_revert_and_push(tmp_path: Path, remote: tuple[Path, Path]) -> None:
    bare, dev = remote
    code = repo(tmp_path, bare)
    preview = await code.preview()
    assert preview.head.subject == "remove suspend feature" and len(preview.recent) == 2
    assert preview.files == (("app.py", 1, 2),) and not preview.is_merge
    result = await code.revert(preview.head.id)
    assert result.ok and result.reverted == preview.head.id
    remote_head = git(bare, "rev-parse", "develop")
    assert remote_head == result.new_commit
    assert git(bare, "rev-parse", "develop~1") == preview.head.id, "a new commit on top: no force push"
    assert git(bare, "show", "develop:app.py") == "SUSPEND = True"
    assert git(bare, "log", "-1", "--format=%an <%ae>", "develop") == "opsbot <opsbot@example.org>"
    key = tmp_path / "state" / "deploy_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "secret-deploy-key-material" not in repr(result) + repr(preview)


async def test_branch_moved_since_approval(tmp_path: Path, remote: tuple[Path, Path]) -> None:
    bare, dev = remote
    code = repo(tmp_path, bare)
    preview = await code.preview()
    (dev / "other.txt").write_text("x\n")
    git(dev, "add", "other.txt")
    git(dev, "commit", "--quiet", "-m", "someone else's change")
    git(dev, "push", "--quiet", "origin", "develop")
    moved = git(bare, "rev-parse", "develop")
    with pytest.raises(OpsError, match="moved since the revert was approved") as info:
        await code.revert(preview.head.id)
    assert "again" in info.value.hint and git(bare, "rev-parse", "develop") == moved


async def test_merge_commit_is_refused(tmp_path: Path, remote: tuple[Path, Path]) -> None:
    bare, dev = remote
    git(dev, "checkout", "--quiet", "-b", "feature")
    (dev / "f.txt").write_text("f\n")
    git(dev, "add", "f.txt")
    git(dev, "commit", "--quiet", "-m", "feature")
    git(dev, "checkout", "--quiet", "develop")
    (dev / "g.txt").write_text("g\n")
    git(dev, "add", "g.txt")
    git(dev, "commit", "--quiet", "-m", "mainline")
    git(dev, "merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")
    git(dev, "push", "--quiet", "origin", "develop")
    code = repo(tmp_path, bare)
    preview = await code.preview()
    assert preview.is_merge
    before = git(bare, "rev-parse", "develop")
    with pytest.raises(OpsError, match="merge commit") as info:
        await code.revert(preview.head.id)
    assert "-m 1" in info.value.hint and git(bare, "rev-parse", "develop") == before


async def test_failing_revert_leaves_the_clone_clean(tmp_path: Path, remote: tuple[Path, Path]) -> None:
    """Reverting HEAD of a clean clone cannot conflict; an empty commit is how git revert fails here."""
    bare, dev = remote
    git(dev, "commit", "--quiet", "--allow-empty", "-m", "empty")
    git(dev, "push", "--quiet", "origin", "develop")
    code = repo(tmp_path, bare)
    preview = await code.preview()
    before = git(bare, "rev-parse", "develop")
    with pytest.raises(OpsError, match="git revert") as info:
        await code.revert(preview.head.id)
    assert "Nothing was pushed" in info.value.hint
    assert git(bare, "rev-parse", "develop") == before
    assert git(code.clone_dir, "status", "--porcelain") == "" and git(code.clone_dir, "rev-parse", "HEAD") == before


async def test_rejected_push_is_reported_and_cleaned(tmp_path: Path, remote: tuple[Path, Path]) -> None:
    bare, dev = remote
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'develop is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    code = repo(tmp_path, bare)
    preview = await code.preview()
    before = git(bare, "rev-parse", "develop")
    with pytest.raises(OpsError, match="rejected") as info:
        await code.revert(preview.head.id)
    assert "protected" in info.value.message and "push access" in info.value.hint
    assert git(bare, "rev-parse", "develop") == before
    assert git(code.clone_dir, "rev-parse", "HEAD") == before and git(code.clone_dir, "status", "--porcelain") == ""
    assert "secret-deploy-key-material" not in info.value.message + info.value.hint


async def test_two_revert_requests_at_once_make_one_request(tmp_path: Path, remote: tuple[Path, Path],
                                                            engine: Engine) -> None:
    """Control: without the gate both passed the checks while the other was previewing the branch."""
    import asyncio

    from ops.approvals import Approvals
    from ops.coderevert import request_revert
    from ops.errors import OpsError
    from ops.requests import RequestGate

    _, bare = remote
    code = repo(tmp_path, bare)
    approvals, gate = Approvals(engine.journal), RequestGate()
    results = await asyncio.gather(
        request_revert(engine, approvals, code, requester_id=1, requester="alice", timeout_s=600, gate=gate),
        request_revert(engine, approvals, code, requester_id=2, requester="bob", timeout_s=600, gate=gate),
        return_exceptions=True)
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, OpsError)]
    assert len(made) == 1 and len(refused) == 1, results
    assert "already asked to revert the branch" in refused[0].message
    assert len(await approvals.pending(code.target)) == 1
