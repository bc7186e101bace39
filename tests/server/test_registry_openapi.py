"""The OpenAPI document is the contract (issue 12, item 8): schemathesis sends
generated requests to every operation of a running registry and checks each answer
against the document: its status is one the operation documents, its body matches
the documented schema (the one error-body shape included), its content type is the
documented one, and no answer is a server error. On SQLite and PostgreSQL.

Bounded: a fixed number of derandomized examples per operation, so the run is the
same every time and takes seconds, not minutes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.server.conftest import RunningRegistry, make_version, running_registry
from workbench.core.models import LABEL_NAME_RE, PROMPT_NAME_RE
from workbench.registry.server.config import RegistrySettings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup  # noqa: E402

POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
EXAMPLES_PER_OPERATION = 30
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture
def contract_registry(db_url: str) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=db_url)) as reg:
        v = reg.client("alice").push_version(make_version()).version
        reg.client("bob").review(v.id, decision="approve", content_hash=v.content_hash)
        yield reg


def _document(reg: RunningRegistry) -> dict[str, Any]:
    import httpx

    document: dict[str, Any] = httpx.get(f"{reg.url}/openapi.json", timeout=10).json()
    return document


def test_every_answer_conforms_to_the_document(contract_registry: RunningRegistry) -> None:
    reg = contract_registry
    schema = schemathesis.openapi.from_url(f"{reg.url}/openapi.json")
    failures: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    # As a caller with every right (requests reach the rules), with valid and with
    # invalid input, and as one with no rights at all.
    admin = {"Authorization": f"Bearer {reg.tokens['root']}"}
    nobody = {"Authorization": "Bearer not-a-token"}
    for headers, mode in ((admin, POSITIVE), (admin, NEGATIVE), (nobody, POSITIVE)):
        for operation in operations:
            strategy = operation.as_strategy(mode)
            try:
                _exercise(strategy, operation.path, reg.url, headers, failures, statuses)
            except Unsatisfiable:  # nothing in it can be made invalid (no parameters)
                assert mode is NEGATIVE, operation.path
    print(f"{len(statuses)} requests; statuses {sorted(Counter(statuses).items())}")
    assert failures == [], "\n".join(sorted(set(failures))[:20])
    assert len(statuses) > 10 * len(operations)  # it really sent requests
    assert {200, 401, 404, 422} <= set(statuses)


def test_the_document_names_every_error_and_the_name_rules(
    contract_registry: RunningRegistry,
) -> None:
    doc = _document(contract_registry)
    error = doc["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"error", "detail"}
    assert {"error", "detail", "hint", "expected", "actual"} <= set(error["properties"])
    paths = doc["paths"]
    move = paths["/api/v1/prompts/{name}/labels/{label}"]["put"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(move["responses"])
    for code in ("401", "403", "404", "409", "413", "422"):
        ref = move["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorBody"
    assert "HTTPValidationError" not in str(doc)  # 422 bodies are ErrorBody, as sent
    params = {p["name"]: p["schema"] for p in move["parameters"]}
    name_re, label_re = (
        re.compile(params["name"]["pattern"]),
        re.compile(params["label"]["pattern"]),
    )
    for good in ("support/reply", "a.b/c-d_e", "x", ".hidden/..x"):
        assert name_re.fullmatch(good) and PROMPT_NAME_RE.fullmatch(good), good
    for bad in ("", "a//b", "a/./b", "../etc", "a/..", "/a", "a b"):
        assert not name_re.fullmatch(bad), bad
    assert params["name"]["maxLength"] == 200
    for good in ("production", "staging-2", "v1.0"):
        assert label_re.fullmatch(good) and LABEL_NAME_RE.fullmatch(good), good
    for bad in ("Production", ".", "..", "a/b", ""):
        assert not label_re.fullmatch(bad), bad


def _exercise(
    strategy: Any,
    path: str,
    base_url: str,
    headers: dict[str, str],
    failures: list[str],
    statuses: list[int],
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:  # every check that failed on this answer
            for failure in group.exceptions:
                title = getattr(failure, "title", type(failure).__name__)
                failures.append(f"{case.method} {path} -> {response.status_code}: {title}")

    exercise()


def test_a_body_that_is_not_json_text_is_422_as_documented(
    contract_registry: RunningRegistry,
) -> None:
    """Found by the negative cases: a JSON body whose bytes are not UTF-8 got FastAPI's
    undocumented 400 "error parsing the body"."""
    import httpx

    reg = contract_registry
    version = reg.client("root").versions("support/reply")[0]
    response = httpx.post(
        f"{reg.url}/api/v1/versions/{version.id}/reviews",
        content=b"9\x9bN(\xa3D",
        headers={
            "Authorization": f"Bearer {reg.tokens['bob']}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InputError" and "cannot be read as JSON" in body["detail"]
    assert "Content-Type: application/json" in body["hint"]
    assert len(reg.client("root").reviews(version.id)) == 1  # only the approval from before
