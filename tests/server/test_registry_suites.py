"""Suites and evidence in the registry, over real HTTP, on SQLite and PostgreSQL.

Suites are content-addressed and made current by compare-and-swap; they reach other
clients through the change feed; a review names (content_hash, suite_hash) and the
server checks the evidence it attaches; a registry that requires evidence refuses a
publish whose approval is below the policy, over its budgets or for an older suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.server.conftest import RunningRegistry, make_version, running_registry
from workbench.core.assertions import Assertion
from workbench.core.errors import ConflictError, InputError, NotFoundError
from workbench.core.models import PromptVersion
from workbench.core.runs import TestCase
from workbench.core.suites import suite_hash
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import EvalEvidence, FolderPolicy, LabelTarget
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.service import RegistryService

PROMPT = "support/reply"
CASES = (
    TestCase(
        name="a", values={"name": "Ada"}, assertions=(Assertion(type="contains", value="Ada"),)
    ),
    TestCase(name="b", values={"name": "Bo"}),
)
CASES_2 = (*CASES, TestCase(name="c", values={"name": "Cy"}))


@pytest.fixture
def strict(db_url: str) -> Iterator[RunningRegistry]:
    settings = RegistrySettings(db_url=db_url, require_eval_evidence=True)
    with running_registry(settings) as reg:
        yield reg


def evidence(v: PromptVersion, cases: tuple[TestCase, ...], **over: Any) -> EvalEvidence:
    data: dict[str, Any] = {
        "passed": len(cases), "failed": 0, "p95_latency_ms": 120.0, "cost_usd": 0.01,
        "run_id": "0f" * 16, "content_hash": v.content_hash, "suite_hash": suite_hash(cases),
        "finished": True, "models": ("echo:echo",), "cases_run": len(cases),
    }  # fmt: skip
    data.update(over)
    return EvalEvidence(**data)


def test_suites_are_content_addressed_and_move_by_compare_and_swap(
    registry: RunningRegistry,
) -> None:
    alice, bob = registry.client("alice"), registry.client("bob")
    with pytest.raises(NotFoundError, match="no prompt named") as caught:
        alice.push_suite(PROMPT, CASES, parent_hash=None)
    assert "Push a version of it first" in caught.value.hint
    alice.push_version(make_version())
    first = alice.push_suite(PROMPT, CASES, parent_hash=None)
    assert first.suite_hash == suite_hash(CASES)
    assert [c.name for c in first.cases] == ["a", "b"]
    assert alice.push_suite(PROMPT, CASES, parent_hash=None) == first  # a retry: no change
    # Another author who started from no suite does not overwrite it.
    with pytest.raises(ConflictError, match="changed in the registry"):
        bob.push_suite(PROMPT, CASES_2, parent_hash=None)
    second = alice.push_suite(PROMPT, CASES_2, parent_hash=first.suite_hash)
    assert bob.suite(PROMPT).suite_hash == second.suite_hash
    assert bob.suite(PROMPT, first.suite_hash).cases == first.cases  # old suites stay
    feed = [c for c in bob.changes(0).changes if c.kind == "suite"]
    assert [c.suite.suite_hash for c in feed if c.suite] == [first.suite_hash, second.suite_hash]
    with httpx.Client(base_url=registry.url) as http:
        body = {"suite_hash": "a" * 64, "cases": [{"name": "x", "values": {}}]}
        r = http.put(
            f"/api/v1/prompts/{PROMPT}/suite",
            json=body,
            headers={"Authorization": f"Bearer {registry.tokens['alice']}"},
        )
    assert r.status_code == 422
    assert "does not match the cases" in r.json()["detail"]


def test_a_review_names_its_suite_and_the_server_checks_the_evidence(
    registry: RunningRegistry,
) -> None:
    alice, bob = registry.client("alice"), registry.client("bob")
    v = alice.push_version(make_version()).version
    suite = alice.push_suite(PROMPT, CASES, parent_hash=None).suite_hash
    registry.service.suites.set_policy(
        FolderPolicy(folder="support", required_models=("echo:echo",))
    )

    def approve(ev: EvalEvidence | None, suite_hash: str | None = suite) -> Any:
        return bob.review(
            v.id, decision="approve", content_hash=v.content_hash, suite_hash=suite_hash,
            evidence=ev,
        )  # fmt: skip

    refusals = {
        "is partial": evidence(v, CASES, finished=False),
        "ran 1 of the suite's 2 cases": evidence(v, CASES, cases_run=1),
        "not the reviewed version's": evidence(v, CASES, content_hash="b" * 64),
        "not the reviewed suite": evidence(v, CASES, suite_hash=suite_hash(CASES_2)),
        "did not run on echo:echo": evidence(v, CASES, models=("oa:gpt",)),
        "does not say which version": EvalEvidence(passed=2, failed=0),
    }
    for reason, ev in refusals.items():
        with pytest.raises(InputError, match=reason) as caught:
            approve(ev)
        assert "workbench eval" in caught.value.message or "older workbench" in reason
    with pytest.raises(NotFoundError, match="does not have"):
        approve(None, suite_hash="c" * 64)
    other = alice.push_version(make_version(prompt="billing/refund")).version
    alice.push_suite("billing/refund", CASES_2, parent_hash=None)
    with pytest.raises(NotFoundError, match="does not have for support/reply"):
        approve(None, suite_hash=suite_hash(CASES_2))  # another prompt's suite
    assert other.number == 1
    assert bob.reviews(v.id) == []  # nothing half-written
    review = approve(evidence(v, CASES))
    assert review.suite_hash == suite
    old_style = bob.review(v.id, decision="approve", content_hash=v.content_hash)
    assert old_style.suite_hash is None  # "approved without a suite"


def _approved(
    reg: RunningRegistry, cases: tuple[TestCase, ...], **over: Any
) -> tuple[PromptVersion, str]:
    alice, bob = reg.client("alice"), reg.client("bob")
    v = alice.push_version(make_version()).version
    suite = alice.push_suite(PROMPT, cases, parent_hash=None).suite_hash
    bob.review(
        v.id, decision="approve", content_hash=v.content_hash, suite_hash=suite,
        evidence=evidence(v, cases, **over),
    )  # fmt: skip
    return v, suite


def _publish(reg: RunningRegistry, v: PromptVersion) -> Any:
    return reg.client("carol").move_label(
        PROMPT, "production", target=LabelTarget(version_id=v.id), expected=None, reason="release"
    )


def test_require_evidence_refuses_an_approval_on_an_older_suite(strict: RunningRegistry) -> None:
    v, suite = _approved(strict, CASES)
    strict.client("alice").push_suite(PROMPT, CASES_2, parent_hash=suite)  # a case added
    with pytest.raises(PermissionDeniedError, match="older than the prompt's current suite"):
        _publish(strict, v)
    strict.client("bob").review(
        v.id, decision="approve", content_hash=v.content_hash, suite_hash=suite_hash(CASES_2),
        evidence=evidence(v, CASES_2),
    )  # fmt: skip
    assert _publish(strict, v).target.version_id == v.id


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"passed": 1, "failed": 1}, "below the policy's 90%"),
        ({"p95_latency_ms": 900.0}, "over the budget 500 ms"),
        ({"cost_usd": 0.5}, "over the budget \\$0.1"),
        ({"cost_usd": None}, "cost unknown"),
    ],
)
def test_require_evidence_applies_the_folder_policy(
    strict: RunningRegistry, over: dict[str, Any], reason: str
) -> None:
    strict.service.suites.set_policy(
        FolderPolicy(min_pass_rate=0.9, max_p95_ms=500, max_cost_usd=0.1)
    )
    v, _ = _approved(strict, CASES, **over)
    with pytest.raises(PermissionDeniedError, match=reason):
        _publish(strict, v)
    with strict.db.reading() as s:  # the refused move left nothing behind
        assert s.execute(text("SELECT COUNT(*) FROM labels")).scalar_one() == 0


def test_require_evidence_refuses_an_approval_without_evidence(strict: RunningRegistry) -> None:
    v = strict.client("alice").push_version(make_version()).version
    strict.client("bob").review(v.id, decision="approve", content_hash=v.content_hash)
    with pytest.raises(PermissionDeniedError, match="carries no eval evidence") as caught:
        _publish(strict, v)
    assert "workbench eval support/reply" in caught.value.message


def test_the_policy_in_force_is_the_deepest_folders(registry: RunningRegistry) -> None:
    registry.service.suites.set_policy(FolderPolicy(min_pass_rate=0.5))
    registry.service.suites.set_policy(FolderPolicy(folder="support", min_pass_rate=0.99))
    bob = registry.client("bob")
    assert bob.policy("support/reply").min_pass_rate == 0.99
    assert bob.policy("billing/refund").min_pass_rate == 0.5
    assert registry.service.suites.clear_policy("support")
    assert bob.policy("support/reply").min_pass_rate == 0.5


def test_an_old_registry_upgrades_and_its_reviews_read_as_without_a_suite(db_url: str) -> None:
    """A registry at 0003 with reviews in it: migration 0004 adds the suites, and the
    existing reviews name no suite (approved without one)."""
    from alembic import command
    from alembic.config import Config

    from workbench.registry.schemas import ReviewIn, VersionPush
    from workbench.registry.server.auth import Actor
    from workbench.registry.server.db import MIGRATIONS_DIR, open_database
    from workbench.registry.server.service import RegistryService

    db = open_database(db_url)
    service = RegistryService(db, RegistrySettings(db_url=db_url))
    v = make_version()
    alice, bob = Actor("alice", "author"), Actor("bob", "reviewer")
    service.push_version(
        alice,
        VersionPush(
            id=v.id, prompt=v.prompt, content=v.content, content_hash=v.content_hash,
            created_at=v.created_at,
        ),
    )  # fmt: skip
    service.review(bob, v.id, ReviewIn(decision="approve", content_hash=v.content_hash))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    db.dispose()

    db = open_database(db_url)  # start-up migrates it to head
    try:
        service = RegistryService(db, RegistrySettings(db_url=db_url))
        [old] = service.reviews(v.id)
        assert old.suite_hash is None
        with db.reading() as s:
            assert s.execute(text("SELECT suite_hash FROM prompts")).scalars().all() == [None]
        from workbench.registry.schemas import SuitePush

        pushed, created = service.suites.push_suite(
            "alice", "author", PROMPT,
            SuitePush(suite_hash=suite_hash(CASES) or "", cases=CASES),
        )  # fmt: skip
        assert created and service.suites.suite(PROMPT).suite_hash == pushed.suite_hash
    finally:
        db.dispose()


def test_policy_commands_set_list_and_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli.main import main

    url = f"sqlite:///{tmp_path / 'reg.sqlite3'}"

    def cli(*argv: str) -> tuple[int, str, str]:
        code = main(["registry", "policy", *argv, "--db", url])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli(
        "set", "support", "--model", "echo:echo", "--min-pass-rate", "0.9", "--max-p95-ms", "500"
    )
    assert code == 0
    assert "support/: models echo:echo; pass rate >= 90%; p95 <= 500 ms" in out
    assert cli("set", "/", "--max-cost-usd", "1")[0] == 0
    code, out, _ = cli("list", "--json")
    assert [p["folder"] for p in json.loads(out)] == ["", "support"]
    code, _, err = cli("set", "support", "--min-pass-rate", "1.5")
    assert code == 2 and "min_pass_rate" in err and "Traceback" not in err
    code, _, err = cli("set", "../x", "--min-pass-rate", "0.5")
    assert code == 2 and "invalid policy" in err
    assert cli("clear", "support")[0] == 0
    code, _, err = cli("clear", "support")
    assert code == 2 and "workbench registry policy list" in err
    service = RegistryService(open_database(url), RegistrySettings(db_url=url))
    try:
        assert service.suites.policy("support/reply").max_cost_usd == 1
        assert service.verify_audit().ok
    finally:
        service.db.dispose()
