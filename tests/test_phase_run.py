"""PhaseRun: a phase finishes its journal run from its result (Run.done), or an exception fails it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import pytest

from ops.context import Engine, PhaseRun
from ops.errors import OpsError
from ops.verify import VERIFY, run_verify


@dataclass(frozen=True)
class Result:
    ok: bool
    error: str = ""
    outcome: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@pytest.mark.parametrize(("result", "state", "outcome"), [
    (Result(True), "succeeded", "done"),
    (Result(False, "a check failed"), "failed", "unknown"),  # no outcome of its own: what the run knew
    (Result(False, "restored, but", "changed"), "failed", "changed"),
])
async def test_done_records_ok_error_outcome_and_summary(engine: Engine, result: Result, state: str,
                                                         outcome: str) -> None:
    async with PhaseRun(engine, VERIFY, None, "test") as run:
        run.outcome_on_error = "unknown"
        await run.done(result)
    [row] = await engine.journal.runs(1)
    assert (row.state, row.outcome, row.error or "") == (state, outcome, result.error)
    assert row.summary == result.to_dict()


async def test_an_exception_fails_the_run_with_what_it_meant(engine: Engine) -> None:
    with pytest.raises(OpsError):
        async with PhaseRun(engine, VERIFY, None, "test") as run:
            run.outcome_on_error = "changed"
            raise OpsError("it broke", hint="look")
    [row] = await engine.journal.runs(1)
    assert (row.state, row.outcome, row.error) == ("failed", "changed", "it broke")


async def test_a_phase_result_finishes_its_own_run(engine: Engine) -> None:
    result = await run_verify(engine)
    [row] = await engine.journal.runs(1)
    assert result.ok and (row.state, row.outcome, row.error) == ("succeeded", "done", None)
    assert row.summary == json.loads(json.dumps(result.to_dict()))
