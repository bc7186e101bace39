"""Issue 12, items 10 and 13, over real HTTP to the registry under uvicorn, on SQLite
and PostgreSQL: a parent must be a version of the same prompt; ``created_at`` must be
within a sane window of the server's clock (its receive time is stored beside it);
and a push authenticates before it looks at the body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.server.conftest import RunningRegistry, make_version
from tests.server.test_registry_rules import _push_body
from workbench.registry.server.tables import VersionRow


def _post(reg: RunningRegistry, token: str | None, content: str) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=reg.url) as http:
        return http.post("/api/v1/versions", content=content, headers=headers)


def _version_count(reg: RunningRegistry) -> int:
    with reg.db.reading() as session:
        return len(session.execute(select(VersionRow.id)).all())


# ---- 10. parents of the same prompt; created_at in a sane window -------------------


def test_a_parent_from_another_prompt_is_refused(registry: RunningRegistry) -> None:
    alice = registry.client("alice")
    other = alice.push_version(make_version(prompt="other/prompt", text="x")).version
    child = make_version(prompt="support/reply", text="y", parents=(other,))
    r = _post(registry, registry.tokens["alice"], json.dumps(_push_body(child)))
    assert r.status_code == 422, r.text
    assert "another prompt" in r.json()["detail"]
    assert r.json()["hint"]
    assert _version_count(registry) == 1
    same = make_version(prompt="other/prompt", text="z", parents=(other,))
    assert alice.push_version(same).version.parent_ids == (other.id,)


@pytest.mark.parametrize(
    "created_at",
    ["2999-01-01T00:00:00+00:00", "1970-01-01T00:00:00+00:00"],
    ids=["year-2999", "year-1970"],
)
def test_implausible_created_at_is_refused(registry: RunningRegistry, created_at: str) -> None:
    body = _push_body(make_version(), created_at=created_at)
    r = _post(registry, registry.tokens["alice"], json.dumps(body))
    assert r.status_code == 422, r.text
    assert "created_at" in r.json()["detail"]
    assert "clock" in r.json()["hint"]
    assert _version_count(registry) == 0


def test_receive_time_is_stored_beside_created_at(registry: RunningRegistry) -> None:
    claimed = datetime.now(UTC) - timedelta(days=30)
    version = make_version().model_copy(update={"created_at": claimed})
    before = datetime.now(UTC)
    pushed = registry.client("alice").push_version(version).version
    after = datetime.now(UTC)
    assert pushed.created_at == claimed
    with registry.db.reading() as session:
        row = session.get(VersionRow, pushed.id)
        assert row is not None
        assert before - timedelta(seconds=1) <= row.pushed_at <= after + timedelta(seconds=1)
        assert row.created_at == claimed


# ---- 13. authentication before body validation ----------------------------------


BAD_BODIES = {
    "not-json": "{not json",
    "wrong-shape": json.dumps({"id": "nope", "prompt": ""}),
}


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_body_without_or_with_a_revoked_token_is_401(
    registry: RunningRegistry, body: str
) -> None:
    assert _post(registry, None, body).status_code == 401
    assert _post(registry, "wb_not_a_real_token", body).status_code == 401
    old = registry.tokens["alice"]
    registry.service.rotate_token("alice")
    r = _post(registry, old, body)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "AuthenticationError"


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_body_with_a_good_token_is_still_422(registry: RunningRegistry, body: str) -> None:
    r = _post(registry, registry.tokens["alice"], body)
    assert r.status_code == 422, r.text
    assert r.json()["hint"]


def test_the_push_body_is_still_documented(registry: RunningRegistry) -> None:
    with httpx.Client(base_url=registry.url) as http:
        doc = http.get("/openapi.json").json()
    post = doc["paths"]["/api/v1/versions"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/VersionPush"
    schema = doc["components"]["schemas"]["VersionPush"]
    assert {"id", "prompt", "content", "content_hash", "created_at"} <= set(schema["required"])
    assert "422" in post["responses"]
    for name in ("PromptContent", "Message"):
        assert name in doc["components"]["schemas"]
