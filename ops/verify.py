"""Phase: the state of the live database, in one read transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ops import hostfs
from ops.backup import mmap_for
from ops.context import Engine, Phase, PhaseRun, Step
from ops.outcome import DONE, UNCHANGED
from ops.reporter import Reporter
from ops.schema import read_state

VERIFY = Phase("verify", takes_lock=False)  # reads the database, beside anything else


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    counts: dict[str, int]
    integrity: str
    check: str
    fk_violations: int
    user_version: int
    fingerprint: str
    journal_mode: str
    bytes: int
    seconds: float

    @property
    def error(self) -> str:
        return "" if self.ok else f"{self.check}: {self.integrity[:200]}"

    @property
    def outcome(self) -> str:
        return DONE if self.ok else UNCHANGED  # verify only reads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def run_verify(engine: Engine, *, quick: bool = False, reporter: Reporter | None = None,
                     actor: str = "cli") -> VerifyResult:
    check = "quick_check" if quick else "integrity_check"
    async with PhaseRun(engine, VERIFY, reporter, actor) as run:
        async with Step(run, "verify", f"counts, {check}, foreign_key_check") as step:
            # Read sequentially first, then check memory-mapped, when memory holds the file.
            mmap = await mmap_for(engine.target, engine.db_path)
            await hostfs.read_ahead(engine.target, engine.db_path, mmap)
            state = await read_state(engine.target, engine.db_path, integrity="quick" if quick else "full",
                                     busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s,
                                     mmap_bytes=mmap)
            step.detail = f"{check} {state.integrity}, {state.fk_violations} foreign-key violations"
            if state.integrity != "ok" or state.fk_violations:
                step.fail(step.detail)
        ok = state.integrity == "ok" and state.fk_violations == 0
        result = VerifyResult(ok, state.counts, state.integrity, check, state.fk_violations, state.user_version,
                              state.fingerprint, state.journal_mode, state.bytes, round(run.elapsed, 3))
        run.table("rows per table", ["table", "rows"], [[t, n] for t, n in sorted(state.counts.items())])
        await run.done(result)
        return result
