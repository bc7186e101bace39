"""The registry's rules, exercised over real HTTP by clients that sometimes lie."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import RunningRegistry, make_version
from workbench.core.errors import (
    DuplicateError,
    HashMismatchError,
    InputError,
    NotFoundError,
    StaleLabelError,
    UsageError,
)
from workbench.core.models import PromptVersion
from workbench.registry.errors import AuthenticationError, PermissionDeniedError
from workbench.registry.schemas import Canary, Change, EvalEvidence, LabelTarget


def _raw(reg: RunningRegistry, user: str) -> httpx.Client:
    return httpx.Client(base_url=reg.url, headers={"Authorization": f"Bearer {reg.tokens[user]}"})


def _push_body(version: object, **overrides: object) -> dict[str, object]:
    from workbench.core.models import PromptVersion

    assert isinstance(version, PromptVersion)
    body: dict[str, object] = {
        "id": str(version.id),
        "prompt": version.prompt,
        "content": version.content.model_dump(mode="json"),
        "content_hash": version.content_hash,
        "message": version.message,
        "created_at": version.created_at.isoformat(),
        "parent_ids": [str(p) for p in version.parent_ids],
    }
    body.update(overrides)
    return body


def test_push_numbers_versions_and_is_idempotent(registry: RunningRegistry) -> None:
    alice = registry.client("alice")
    v1 = make_version(text="one")
    v2 = make_version(text="two", parents=(v1,))
    first = alice.push_version(v1)
    assert first.created
    assert first.version.number == 1
    assert first.version.author == "alice"
    again = alice.push_version(v1)
    assert not again.created
    assert again.version.number == 1
    second = alice.push_version(v2)
    assert second.version.number == 2
    assert second.version.parent_ids == (v1.id,)
    assert [v.number for v in alice.versions("support/reply")] == [1, 2]
    assert registry.service.prompt_info("support/reply").versions == 2


def test_same_id_with_other_content_is_refused(registry: RunningRegistry) -> None:
    alice = registry.client("alice")
    v1 = make_version(text="one")
    alice.push_version(v1)
    other = make_version(text="changed").model_copy(update={"id": v1.id})
    with pytest.raises(DuplicateError, match="immutable"):
        alice.push_version(other)
    assert alice.version(v1.id).content_hash == v1.content_hash


def test_hash_mismatch_and_unknown_parent_store_nothing(registry: RunningRegistry) -> None:
    alice = registry.client("alice")
    v1 = make_version(text="one")
    forged = v1.model_copy(update={"content_hash": "0" * 64})
    with pytest.raises(HashMismatchError, match="does not match"):
        alice.push_version(forged)
    orphan = make_version(text="two").model_copy(update={"parent_ids": (uuid.uuid4(),)})
    with pytest.raises(NotFoundError, match="unknown parent"):
        alice.push_version(orphan)
    assert alice.changes().changes == ()
    with pytest.raises(NotFoundError):
        alice.prompt("support/reply")


def test_forged_author_is_refused(registry: RunningRegistry) -> None:
    v1 = make_version()
    with _raw(registry, "alice") as http:
        response = http.post("/api/v1/versions", json=_push_body(v1, author="carol"))
    assert response.status_code == 403
    assert response.json()["error"] == "PermissionDeniedError"
    assert "token belongs to 'alice'" in response.json()["detail"]
    assert registry.client("alice").changes().changes == ()


def test_forged_reviewer_and_self_approval_are_refused(registry: RunningRegistry) -> None:
    bob = registry.client("bob")
    own = bob.push_version(make_version()).version
    with pytest.raises(PermissionDeniedError, match="cannot approve"):
        bob.review(own.id, decision="approve", content_hash=own.content_hash)
    body = {"decision": "approve", "content_hash": own.content_hash, "reviewer": "carol"}
    with _raw(registry, "bob") as http:
        response = http.post(f"/api/v1/versions/{own.id}/reviews", json=body)
    assert response.status_code == 403
    assert "token belongs to 'bob'" in response.json()["detail"]
    assert bob.reviews(own.id) == []


def test_authors_cannot_review_and_reviews_are_bound_to_the_hash(
    registry: RunningRegistry,
) -> None:
    v = registry.client("alice").push_version(make_version()).version
    with pytest.raises(PermissionDeniedError, match="'reviewer' role"):
        registry.client("alice").review(v.id, decision="approve", content_hash=v.content_hash)
    with pytest.raises(HashMismatchError):
        registry.client("bob").review(v.id, decision="approve", content_hash="a" * 64)
    review = registry.client("bob").review(
        v.id,
        decision="approve",
        content_hash=v.content_hash,
        comment="clear",
        evidence=EvalEvidence(
            passed=10, failed=0, p95_latency_ms=820.0, cost_usd=0.02,
            content_hash=v.content_hash, finished=True, models=("echo:echo",), cases_run=1,
        ),
    )  # fmt: skip
    assert review.reviewer == "bob"
    assert review.evidence is not None
    assert review.evidence.passing


def test_publishing_needs_an_independent_approval(registry: RunningRegistry) -> None:
    alice, bob, carol = (registry.client(u) for u in ("alice", "bob", "carol"))
    v1 = alice.push_version(make_version(text="one")).version
    target = LabelTarget(version_id=v1.id)
    with pytest.raises(PermissionDeniedError, match="'publisher' role"):
        alice.move_label(
            "support/reply", "production", target=target, expected=None, reason="release"
        )
    with pytest.raises(PermissionDeniedError, match="not approved"):
        carol.move_label(
            "support/reply", "production", target=target, expected=None, reason="release"
        )
    bob.review(v1.id, decision="request_changes", content_hash=v1.content_hash, comment="tone")
    with pytest.raises(PermissionDeniedError, match="not approved"):
        carol.move_label(
            "support/reply", "production", target=target, expected=None, reason="release"
        )
    bob.review(v1.id, decision="approve", content_hash=v1.content_hash)
    state = carol.move_label(
        "support/reply", "production", target=target, expected=None, reason="launch"
    )
    assert state.target == target
    assert state.protected
    assert state.updated_by == "carol"
    # unprotected labels are free for authors
    staging = alice.move_label(
        "support/reply", "staging", target=target, expected=None, reason="release"
    )
    assert not staging.protected


def test_a_publisher_cannot_publish_what_they_approved_for_themselves(
    registry: RunningRegistry,
) -> None:
    carol = registry.client("carol")
    v = carol.push_version(make_version()).version
    with pytest.raises(PermissionDeniedError, match="cannot approve"):
        carol.review(v.id, decision="approve", content_hash=v.content_hash)
    with pytest.raises(PermissionDeniedError, match="not approved"):
        carol.move_label(
            "support/reply",
            "production",
            target=LabelTarget(version_id=v.id),
            expected=None,
            reason="release",
        )


def _publishable(reg: RunningRegistry, n: int) -> list[uuid.UUID]:
    alice, bob = reg.client("alice"), reg.client("bob")
    ids: list[uuid.UUID] = []
    parent: tuple[PromptVersion, ...] = ()
    for i in range(n):
        version = make_version(text=f"text {i}", parents=parent)
        pushed = alice.push_version(version).version
        bob.review(pushed.id, decision="approve", content_hash=pushed.content_hash)
        ids.append(pushed.id)
        parent = (version,)
    return ids


def test_stale_compare_and_swap_gets_409_with_the_actual_target(
    registry: RunningRegistry,
) -> None:
    v1, v2, v3 = _publishable(registry, 3)
    carol = registry.client("carol")
    t1, t2, t3 = (LabelTarget(version_id=v) for v in (v1, v2, v3))
    carol.move_label("support/reply", "production", target=t1, expected=None, reason="release")
    carol.move_label("support/reply", "production", target=t2, expected=t1, reason="release")
    with pytest.raises(StaleLabelError) as info:
        carol.move_label("support/reply", "production", target=t3, expected=t1, reason="release")
    assert info.value.actual == str(v2)
    assert info.value.expected == str(v1)
    with _raw(registry, "carol") as http:
        response = http.put(
            "/api/v1/prompts/support/reply/labels/production",
            json={"expected": None, "target": {"version_id": str(v3)}, "reason": "release"},
        )
    assert response.status_code == 409
    assert response.json()["actual"] == str(v2)
    assert carol.label("support/reply", "production").target == t2
    # rollback is a move back to an earlier version
    rolled = carol.move_label(
        "support/reply", "production", target=t1, expected=t2, reason="release"
    )
    assert rolled.target == t1
    resolved, _ = carol.resolve("support/reply")
    assert resolved is not None
    assert resolved.version.id == v1


def test_a_label_moves_only_with_a_reason(registry: RunningRegistry, tmp_path: Path) -> None:
    """The registry refuses a move without a reason (none, empty, blank) with a 422 that
    says what to do, in the words the app uses when it refuses first; nothing moves and
    nothing is audited."""
    (v1,) = _publishable(registry, 1)
    carol = registry.client("carol")
    audited = len(carol.audit().entries)
    path = "/api/v1/prompts/support/reply/labels/staging"
    target = {"version_id": str(v1)}
    with _raw(registry, "carol") as http:
        for body in (
            {"expected": None, "target": target},
            {"expected": None, "target": target, "reason": ""},
            {"expected": None, "target": target, "reason": " \t\n"},
        ):
            response = http.put(path, json=body)
            assert response.status_code == 422, body
            refusal = response.json()
            assert refusal["error"] == "InputError"
            assert refusal["detail"] == (
                "say why you move 'staging' of support/reply: the reason is empty"
            )
            assert refusal["hint"] == "Write a reason; it goes into the audit log."
    with pytest.raises(InputError, match="the reason is empty") as info:
        carol.move_label(
            "support/reply", "staging", target=LabelTarget(version_id=v1), expected=None, reason=" "
        )
    assert info.value.hint == "Write a reason; it goes into the audit log."
    with pytest.raises(NotFoundError):
        carol.label("support/reply", "staging")
    assert len(carol.audit().entries) == audited
    # The app refuses before asking the registry, with the same hint.
    from workbench.app.publishing import publish_version
    from workbench.vault import Vault

    with Vault.open(tmp_path / "vault.sqlite3", create=True) as vault:
        version = carol.versions("support/reply")[0]
        with pytest.raises(UsageError, match="say why you publish") as app_info:
            publish_version(vault, carol, version, "staging", expected=None, reason="  ")
    assert app_info.value.hint == info.value.hint
    moved = carol.move_label(
        "support/reply", "staging", target=LabelTarget(version_id=v1), expected=None, reason="qa"
    )
    assert moved.target == LabelTarget(version_id=v1)
    assert carol.audit().entries[-1].detail["reason"] == "qa"


def test_canary_split_is_stable_per_key_and_needs_approval(registry: RunningRegistry) -> None:
    v1, v2 = _publishable(registry, 2)
    alice, carol = registry.client("alice"), registry.client("carol")
    unapproved = alice.push_version(make_version(text="unreviewed")).version
    base = LabelTarget(version_id=v1)
    carol.move_label("support/reply", "production", target=base, expected=None, reason="release")
    bad = LabelTarget(version_id=v1, canary=Canary(version_id=unapproved.id, percent=10))
    with pytest.raises(PermissionDeniedError, match="not approved"):
        carol.move_label("support/reply", "production", target=bad, expected=base, reason="release")
    split = LabelTarget(version_id=v1, canary=Canary(version_id=v2, percent=30))
    carol.move_label("support/reply", "production", target=split, expected=base, reason="release")
    served: dict[str, uuid.UUID] = {}
    for i in range(200):
        resolved, _ = alice.resolve("support/reply", key=f"user-{i}")
        assert resolved is not None
        assert (resolved.served == "canary") == (resolved.version.id == v2)
        served[f"user-{i}"] = resolved.version.id
    share = sum(1 for v in served.values() if v == v2) / len(served)
    assert 0.15 < share < 0.45
    for key in ("user-3", "user-77", "user-150"):
        again, _ = alice.resolve("support/reply", key=key)
        assert again is not None
        assert again.version.id == served[key]
    ended = carol.move_label(
        "support/reply", "production", target=base, expected=split, reason="release"
    )
    assert ended.target.canary is None


def test_resolve_etag_answers_304_until_the_label_moves(registry: RunningRegistry) -> None:
    v1, v2 = _publishable(registry, 2)
    carol = registry.client("carol")
    carol.move_label(
        "support/reply",
        "production",
        target=LabelTarget(version_id=v1),
        expected=None,
        reason="release",
    )
    first, etag = carol.resolve("support/reply")
    assert first is not None
    assert etag
    unchanged, same_etag = carol.resolve("support/reply", etag=etag)
    assert unchanged is None
    assert same_etag == etag
    carol.move_label(
        "support/reply",
        "production",
        target=LabelTarget(version_id=v2),
        expected=LabelTarget(version_id=v1),
        reason="release",
    )
    moved, new_etag = carol.resolve("support/reply", etag=etag)
    assert moved is not None
    assert moved.version.id == v2
    assert new_etag != etag


def test_change_feed_is_ordered_and_paged(registry: RunningRegistry) -> None:
    alice = registry.client("alice")
    ids = [
        alice.push_version(make_version(prompt=f"p{i}", text=f"t{i}")).version.id for i in range(7)
    ]
    seen: list[Change] = []
    cursor = 0
    pages = 0
    while True:
        page = alice.changes(cursor, limit=3)
        pages += 1
        seen.extend(page.changes)
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert pages == 3
    assert [c.version.id for c in seen if c.version] == ids
    assert [c.seq for c in seen] == sorted(c.seq for c in seen)
    assert alice.changes(cursor).changes == ()
    assert alice.changes(cursor).next_cursor == cursor
    v = alice.push_version(make_version(prompt="p0", text="new", parents=())).version
    tail = alice.changes(cursor)
    assert [c.version.id for c in tail.changes if c.version] == [v.id]


def test_bad_tokens_are_refused(registry: RunningRegistry) -> None:
    from datetime import timedelta

    from workbench.registry.client import RegistryClient

    with (
        RegistryClient(registry.url, "wbr_not-a-real-token") as stranger,
        pytest.raises(AuthenticationError, match="not valid"),
    ):
        stranger.whoami()
    with httpx.Client(base_url=registry.url) as anonymous:
        response = anonymous.get("/api/v1/changes")
    assert response.status_code == 401
    assert response.json()["error"] == "AuthenticationError"
    registry.service.disable_user("alice")
    with pytest.raises(AuthenticationError, match="disabled"):
        registry.client("alice").whoami()
    token = registry.service.rotate_token("bob", expires_in=timedelta(seconds=-1))
    with (
        RegistryClient(registry.url, token) as expired,
        pytest.raises(AuthenticationError, match="expired"),
    ):
        expired.whoami()
    assert registry.client("carol").whoami().role == "publisher"


def test_bad_input_gets_a_clear_4xx_and_stores_nothing(registry: RunningRegistry) -> None:
    v = make_version()
    with _raw(registry, "alice") as http:
        malformed = http.post(
            "/api/v1/versions", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 422
        assert malformed.json()["error"] == "InputError"
        bad_name = http.post("/api/v1/versions", json=_push_body(v, prompt="bad name!"))
        assert bad_name.status_code == 422
        assert "invalid prompt name" in bad_name.json()["detail"]
        huge = http.post("/api/v1/versions", json=_push_body(v, message="x" * 2_000_000))
        assert huge.status_code == 413
        assert huge.json()["error"] == "PayloadTooLargeError"
        bad_label = http.get("/api/v1/prompts/support/reply/resolve", params={"label": "Prod!"})
        assert bad_label.status_code == 422
    with pytest.raises(InputError, match="invalid label"):
        registry.client("carol").move_label(
            "support/reply",
            "Bad Label",
            target=LabelTarget(version_id=v.id),
            expected=None,
            reason="release",
        )
    assert registry.client("alice").changes().changes == ()


def test_every_change_is_audited_and_the_chain_verifies(registry: RunningRegistry) -> None:
    (v1,) = _publishable(registry, 1)
    registry.client("carol").move_label(
        "support/reply",
        "production",
        target=LabelTarget(version_id=v1),
        expected=None,
        reason="ship it",
    )
    page = registry.client("alice").audit(subject="prompt:support/reply")
    actions = [e.action for e in page.entries]
    assert actions == ["version.push", "review.approve", "label.move"]
    assert page.entries[-1].detail["reason"] == "ship it"
    with pytest.raises(PermissionDeniedError):
        registry.client("carol").verify_audit()
    report = registry.client("root").verify_audit()
    assert report.ok, report.problems
    assert report.entries == len(registry.service.audit(0, 1000).entries)
