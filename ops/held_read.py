"""A read of a database on this machine whose transaction is open before other work writes to it.

The preflight checks its copy before the rehearsal (integrity_check, counts) and after it. The check
before needs only the database *as it was*: in WAL mode a read transaction keeps that snapshot
while another connection writes and commits, so the check can run beside the rehearsal instead of
ahead of it, on the same file. What makes that safe is the order: the read transaction must hold
its snapshot before the rehearsal writes anything. ``held_read`` returns only once the sqlite3
session has read inside its transaction (it says so on stderr, which is not buffered), and refuses
when it could not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from ops.errors import OpsError
from ops.schema import DbState, state_from_events, state_sql
from ops.sqlite_cli import parse_events, session_script, tmp_name
from ops.targets.base import kill_group, script_for_stdin
from ops.targets.local import script_env

log = logging.getLogger(__name__)

OPEN_MARK = "opsbot-read-transaction-open"


def held_read_body(tmp: str, *, integrity: str, mmap_bytes: int, then: str = "") -> str:
    """``then``: SQL run in the transaction once it is open, before the state is read (a test makes
    the read slow with it, so that a writer surely commits in the middle of it)."""
    mmap = f"PRAGMA mmap_size={int(mmap_bytes)};\n" if mmap_bytes > 0 else ""
    # The first read inside BEGIN takes the snapshot; the mark goes to stderr through a file sqlite3
    # closes at once (so it is written now, not when stdout's buffer fills).
    return (mmap + "BEGIN;\nSELECT count(*) FROM sqlite_master;\n"
            f".output /dev/stderr\nSELECT '{OPEN_MARK}';\n.output stdout\n" + then
            + state_sql(tmp, integrity=integrity, counts=True, fk=False) + "ROLLBACK;\n")


@asynccontextmanager
async def held_read(db: Path, *, integrity: str, mmap_bytes: int, busy_timeout_ms: int, timeout: float,
                    then: str = "") -> AsyncIterator[Callable[[], Awaitable[DbState]]]:
    """Inside the block the database's state as it was on entry is being read; await the callable
    for it (schema, counts, integrity). Writers may run inside the block: the read does not see them."""
    tmp = tmp_name("held")
    script = session_script(str(db), held_read_body(tmp, integrity=integrity, mmap_bytes=mmap_bytes, then=then),
                            busy_timeout_ms=busy_timeout_ms, tmpfiles=(tmp,))
    proc = await asyncio.create_subprocess_exec(
        "sh", "-s", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=script_env(), start_new_session=True)
    assert proc.stdin is not None and proc.stderr is not None
    before_mark: list[bytes] = []

    async def until_open() -> bool:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(script_for_stdin(script))
        await proc.stdin.drain()
        proc.stdin.close()
        while line := await proc.stderr.readline():
            if line.strip() == OPEN_MARK.encode():
                return True
            before_mark.append(line)
        return False

    rest: asyncio.Task[tuple[bytes, bytes]] | None = None
    try:
        try:
            opened = await asyncio.wait_for(until_open(), timeout)
        except TimeoutError as exc:
            raise OpsError(f"reading {db} did not start within {timeout:g}s",
                           hint="Check that nothing else holds the file; then retry.") from exc
        rest = asyncio.create_task(proc.communicate())  # drains stdout (and the rest of stderr) from now on
        if not opened:
            await rest
            error = b"".join(before_mark).decode(errors="replace").strip()
            raise OpsError(f"could not read {db}: {error or f'sqlite3 exited {proc.returncode}'}",
                           hint="Check the copy and free space on this machine; then retry.")

        async def state() -> DbState:
            assert rest is not None
            try:
                out, err = await asyncio.wait_for(asyncio.shield(rest), timeout)
            except TimeoutError as exc:
                raise OpsError(f"reading {db} took longer than {timeout:g}s",
                               hint="Raise PHASE_TIMEOUT_S for a database this large.") from exc
            events = parse_events(out.decode(errors="replace"))
            if proc.returncode != 0 or not any(e["opsbot"] == "meta" for e in events):
                error = (b"".join(before_mark) + err).decode(errors="replace").strip()
                raise OpsError(f"could not read {db}: {error or 'no output'}",
                               hint="Check the copy and free space on this machine; then retry.")
            return state_from_events(events)

        yield state
        await state()  # the read finishes inside the block's lifetime, whoever awaited it
    finally:
        Path(tmp).unlink(missing_ok=True)  # on this machine; a killed session's shell cannot remove it
        if proc.returncode is None:
            kill_group(proc)
            if rest is not None:
                await asyncio.gather(rest, return_exceptions=True)
            else:
                await proc.wait()
