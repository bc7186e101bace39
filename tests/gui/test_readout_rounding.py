"""A time that fails its limit never reads the same as the limit (the fresh-eyes
review saw "total 1.00 s" beside a failed "at most 1.00 s: was 1,000.05 ms"; now "1.00005 s")."""

from __future__ import annotations

import uuid

from workbench.core.assertions import Assertion, CheckResult
from workbench.core.runs import CellKey, CellResult, ModelRef
from workbench.ui.readouts import readout_lines


def _cell(latency_ms: float, limit: float) -> CellResult:
    check = Assertion(type="max_latency_ms", value=limit)
    return CellResult(
        key=CellKey(version_id=uuid.uuid4(), model=ModelRef.parse("x:y"), case_index=0, repeat=0),
        output="ok",
        ttft_ms=300.0,
        latency_ms=latency_ms,
        checks=(CheckResult(assertion=check, passed=latency_ms <= limit),),
    )


def test_a_failing_time_gets_the_digits_that_tell_it_from_its_limit() -> None:
    assert "total 1.00005 s" in readout_lines(_cell(1000.05, 1000.0))[1]
    assert "total 1.003 s" in readout_lines(_cell(1003.2, 1000.0))[1]
    assert "total 1.20 s" in readout_lines(_cell(1200.0, 1000.0))[1]  # plainly different
    assert "total 990 ms" in readout_lines(_cell(990.0, 1000.0))[1]
