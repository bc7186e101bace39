"""schemathesis against the OpenAPI schema the running registry serves: no 500s.

Bounded: a fixed number of generated requests per operation, against one SQLite
registry under uvicorn, with an admin token (so requests get past authentication and
reach the rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.server.conftest import RunningRegistry, make_version, running_registry
from workbench.registry.server.config import RegistrySettings

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES_PER_OPERATION = 100


@pytest.fixture
def fuzz_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=f"sqlite:///{tmp_path / 'fuzz.sqlite3'}")) as reg:
        v = reg.client("alice").push_version(make_version()).version
        reg.client("bob").review(v.id, decision="approve", content_hash=v.content_hash)
        yield reg


def test_no_operation_answers_500(fuzz_registry: RunningRegistry) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_registry.url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzz_registry.tokens['root']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:
        _exercise(operation, fuzz_registry.url, headers, failures, statuses)
    assert failures == []
    assert len(statuses) > 10 * len(operations)  # it really sent requests
    assert {200, 404, 422} <= set(statuses)


def _exercise(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    failures: list[str],
    statuses: list[int],
) -> None:
    """Send generated requests for one operation; record every 5xx."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def exercise(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        statuses.append(response.status_code)
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:200]}"
            )

    exercise()
