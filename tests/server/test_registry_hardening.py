"""Issue 12 regressions, over real HTTP to the registry under uvicorn, on SQLite and
PostgreSQL: the protected set, the text rule (NUL, lone surrogates), the prompt-name
grammar, and "request changes needs a comment"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import RunningRegistry, make_version, running_registry
from tests.server.test_registry_rules import _push_body
from workbench.cli.main import build_parser
from workbench.cli.registry_cmds import settings_from_args, startup_banner
from workbench.core.errors import InputError, NotFoundError, UsageError
from workbench.core.models import Message, PromptContent, PromptVersion, Variable
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import LabelTarget
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.service import RegistryService
from workbench.registry.sync import Syncer
from workbench.vault import Vault


def _raw(reg: RunningRegistry, user: str) -> httpx.Client:
    return httpx.Client(base_url=reg.url, headers={"Authorization": f"Bearer {reg.tokens[user]}"})


def _post_json(http: httpx.Client, path: str, body: object) -> httpx.Response:
    """POST ``body`` as JSON text; ``json.dumps`` writes a lone surrogate as ``\\ud800``,
    which is exactly what a buggy client sends on the wire."""
    return http.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def _approved(reg: RunningRegistry, text: str = "Hello {{ name }}") -> PromptVersion:
    v = reg.client("alice").push_version(make_version(text=text)).version
    reg.client("bob").review(v.id, decision="approve", content_hash=v.content_hash)
    return v


# ---- 1. the protected set: production plus what the flags add ------------------------


def _serve_args(*flags: str, db_url: str) -> Any:
    return build_parser().parse_args(["registry", "serve", "--db", db_url, *flags])


@pytest.fixture
def staging_registry(db_url: str) -> Iterator[RunningRegistry]:
    """A registry started the way ``registry serve --protected staging`` starts one."""
    settings = settings_from_args(_serve_args("--protected", "staging", db_url=db_url))
    with running_registry(settings) as reg:
        yield reg


def test_protected_flag_adds_to_production(staging_registry: RunningRegistry) -> None:
    reg = staging_registry
    assert reg.settings.protected_labels == {"production", "staging"}
    unreviewed = reg.client("alice").push_version(make_version(text="unreviewed")).version
    alice = reg.client("alice")
    for label in ("production", "staging"):
        with pytest.raises(PermissionDeniedError, match="protected label"):
            alice.move_label(
                "support/reply",
                label,
                target=LabelTarget(version_id=unreviewed.id),
                expected=None,
                reason="release",
            )
        # a publisher cannot put the unreviewed version there either
        with pytest.raises(PermissionDeniedError, match="not approved"):
            reg.client("carol").move_label(
                "support/reply",
                label,
                target=LabelTarget(version_id=unreviewed.id),
                expected=None,
                reason="release",
            )
    # an unprotected label still moves freely
    dev = alice.move_label(
        "support/reply",
        "dev",
        target=LabelTarget(version_id=unreviewed.id),
        expected=None,
        reason="release",
    )
    assert not dev.protected
    approved = _approved(reg, "reviewed")
    state = reg.client("carol").move_label(
        "support/reply",
        "production",
        target=LabelTarget(version_id=approved.id),
        expected=None,
        reason="release",
    )
    assert state.protected
    assert reg.service.label("support/reply", "production").target.version_id == approved.id


def test_startup_banner_prints_the_effective_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    args = _serve_args("--protected", "staging", "--protected", "qa", db_url=url)
    banner = startup_banner(args, settings_from_args(args))
    assert "protected labels: production, qa, staging" in banner
    assert "WARNING" not in banner
    default = _serve_args(db_url=url)
    assert "protected labels: production\n" not in startup_banner(
        default, settings_from_args(default)
    )
    assert startup_banner(default, settings_from_args(default)).endswith(
        "protected labels: production"
    )
    strict = _serve_args("--require-evidence", db_url=url)
    assert "eval evidence on the prompt's current suite" in startup_banner(
        strict, settings_from_args(strict)
    )


def test_only_the_dangerous_flag_unprotects_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    args = _serve_args("--dangerously-unprotect-production", "--protected", "staging", db_url=url)
    settings = settings_from_args(args)
    assert settings.protected_labels == {"staging"}
    assert "WARNING: 'production' is NOT protected" in startup_banner(args, settings)
    # settings built in code keep production too, unless told otherwise
    assert RegistrySettings(db_url=url, protected_labels=frozenset({"live"})).protected_labels == {
        "production",
        "live",
    }
    with pytest.raises(UsageError, match="invalid label"):
        settings_from_args(_serve_args("--protected", "Not A Label", db_url=url))


def test_unprotected_production_is_what_it_says(tmp_path: Path) -> None:
    settings = RegistrySettings(
        db_url=f"sqlite:///{tmp_path / 'r.sqlite3'}", unprotect_production=True
    )
    with running_registry(settings) as reg:
        v = reg.client("alice").push_version(make_version()).version
        state = reg.client("alice").move_label(
            "support/reply",
            "production",
            target=LabelTarget(version_id=v.id),
            expected=None,
            reason="release",
        )
        assert not state.protected


# ---- 2. NUL anywhere: 422 on both databases, nothing stored --------------------------


def _refused_by_text_rule(response: httpx.Response, field: str, what: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "InputError"
    assert field in body["detail"]
    assert what in body["detail"]


def test_nul_in_commit_message_is_422(registry: RunningRegistry) -> None:
    with _raw(registry, "alice") as http:
        r = _post_json(http, "/api/v1/versions", _push_body(make_version(), message="fix\x00"))
        _refused_by_text_rule(r, "message", "NUL")
        # the same connection keeps working, and nothing was stored
        assert http.get("/api/v1/prompts").json() == []
    assert registry.service.prompt_count() == 0


def test_nul_nested_in_content_is_422(registry: RunningRegistry) -> None:
    content = PromptContent(
        messages=(Message(role="user", template="Hi {{ x }}\x00"),),
        variables=(Variable(name="x", default={"deep": ["ok", "b\x00d"]}),),
    )
    v = PromptVersion(prompt="support/nul", content=content, content_hash=content.content_hash())
    with _raw(registry, "alice") as http:
        r = _post_json(http, "/api/v1/versions", _push_body(v))
        _refused_by_text_rule(r, "content.messages.0.template", "NUL")
        body = _push_body(v)
        body["content"]["messages"][0]["template"] = "Hi {{ x }}"  # type: ignore[index]
        r = _post_json(http, "/api/v1/versions", body)
        _refused_by_text_rule(r, "content.variables.0.default.deep.1", "NUL")
    assert registry.service.prompt_count() == 0


def test_nul_in_review_comment_and_label_reason_is_422(registry: RunningRegistry) -> None:
    v = registry.client("alice").push_version(make_version()).version
    with _raw(registry, "bob") as http:
        r = _post_json(
            http,
            f"/api/v1/versions/{v.id}/reviews",
            {"decision": "request_changes", "content_hash": v.content_hash, "comment": "no\x00"},
        )
        _refused_by_text_rule(r, "comment", "NUL")
        r = _post_json(
            http,
            f"/api/v1/versions/{v.id}/reviews",
            {
                "decision": "approve",
                "content_hash": v.content_hash,
                "evidence": {"passed": 1, "failed": 0, "run_id": "r\x00"},
            },
        )
        _refused_by_text_rule(r, "evidence.run_id", "NUL")
        r = http.put(
            "/api/v1/prompts/support/reply/labels/dev",
            json={"expected": None, "target": {"version_id": str(v.id)}, "reason": "\x00"},
        )
        _refused_by_text_rule(r, "reason", "NUL")
    assert registry.service.reviews(v.id) == []


def test_nul_in_audit_subject_is_422(registry: RunningRegistry) -> None:
    with _raw(registry, "root") as http:
        r = http.get("/api/v1/audit", params={"subject": "prompt:support/reply\x00"})
        _refused_by_text_rule(r, "subject", "NUL")
        assert http.get("/api/v1/audit", params={"subject": "user:alice"}).status_code == 200


def test_client_refuses_a_nul_version_naming_it(registry: RunningRegistry) -> None:
    """What sync sees: an InputError (a refusal it reports and moves past), never a
    request that fails the same way on every retry."""
    v = make_version(message="bad\x00message")
    with pytest.raises(InputError, match=rf"{v.id.hex[:6]}.* of support/reply.*message.*NUL"):
        registry.client("alice").push_version(v)
    pushed = registry.client("alice").push_version(make_version()).version
    with pytest.raises(InputError, match=r"comment.*NUL"):
        registry.client("bob").review(
            pushed.id, decision="approve", content_hash=pushed.content_hash, comment="\x00"
        )


# ---- 3. lone surrogates at any depth: 422, and the connection stays usable -----------


@pytest.mark.parametrize(
    ("where", "edit"),
    [
        (
            "content.messages.0.template",
            lambda b: b["content"]["messages"][0].update(template="\ud800"),
        ),
        (
            "content.variables.0.default",
            lambda b: b["content"].update(variables=[{"name": "x", "default": "\udfff"}]),
        ),
        (
            "(a key)",
            lambda b: b["content"].update(variables=[{"name": "x", "default": {"\ud800": 1}}]),
        ),
        ("content.tags.0", lambda b: b["content"].update(tags=["\ud800"])),
        ("message", lambda b: b.update(message="\ud800")),
    ],
)
def test_lone_surrogate_anywhere_is_422_and_keeps_the_connection(
    registry: RunningRegistry, where: str, edit: Any
) -> None:
    body = _push_body(make_version())
    edit(body)
    opened: list[str] = []

    def count_connections(event: str, _info: object) -> None:
        if event == "connection.connect_tcp.complete":
            opened.append(event)

    trace = {"trace": count_connections}
    with _raw(registry, "alice") as http:
        r = http.post(
            "/api/v1/versions",
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
            extensions=trace,
        )
        _refused_by_text_rule(r, where, "surrogate")
        # the next request goes over the same keep-alive connection and works
        assert http.get("/api/v1/whoami", extensions=trace).json()["name"] == "alice"
        assert opened == ["connection.connect_tcp.complete"]
    assert registry.service.prompt_count() == 0


# ---- 5. one prompt-name grammar ------------------------------------------------------

BAD_NAMES = [
    "support/../reply",
    "./reply",
    "support/.",
    "..",
    "support/reply/versions",
    "support/reply/resolve",
    "support/reply/labels/production",
    "labels",
    "a//b",
    "/leading",
    "trailing/",
    "support/reply\n",
    "x" * 201,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_prompt_names_are_422_naming_the_rule(registry: RunningRegistry, name: str) -> None:
    with _raw(registry, "alice") as http:
        r = _post_json(http, "/api/v1/versions", _push_body(make_version(), prompt=name))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "invalid prompt name" in detail or "prompt: String should have at most 200" in detail
    assert registry.service.prompt_count() == 0


def test_the_client_and_the_vault_use_the_same_rule(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    from workbench.vault.repository import Vault

    with pytest.raises(InputError, match="reserved"):
        registry.client("alice").push_version(make_version(prompt="support/versions"))
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as vault:
        with pytest.raises(UsageError, match=r"'\.' or '\.\.'"):
            vault.create_prompt("support/..")
        with pytest.raises(UsageError, match="reserved"):
            vault.create_prompt("support/reply/resolve")
        assert vault.create_prompt("support/reply.v2").name == "support/reply.v2"


def test_good_names_with_dots_still_work(registry: RunningRegistry) -> None:
    for name in ("support/reply.v2", "a.b/c-d_e", "x/...", "versions-old/labels_2"):
        result = registry.client("alice").push_version(make_version(prompt=name))
        assert result.version.prompt == name
        assert registry.client("alice").prompt(name).versions == 1


# ---- issue 10: request changes needs a comment, on the server ------------------------


@pytest.mark.parametrize("comment", ["", "   \n"])
def test_request_changes_without_comment_is_422(registry: RunningRegistry, comment: str) -> None:
    v = registry.client("alice").push_version(make_version()).version
    with _raw(registry, "bob") as http:
        r = http.post(
            f"/api/v1/versions/{v.id}/reviews",
            json={
                "decision": "request_changes",
                "content_hash": v.content_hash,
                "comment": comment,
            },
        )
    assert r.status_code == 422, r.text
    assert "needs a comment" in r.json()["detail"]
    assert registry.service.reviews(v.id) == []
    made = registry.client("bob").review(
        v.id, decision="request_changes", content_hash=v.content_hash, comment="say hi first"
    )
    assert made.comment == "say hi first"


def test_service_refuses_request_changes_without_comment(registry: RunningRegistry) -> None:
    from workbench.registry.schemas import ReviewIn
    from workbench.registry.server.auth import Actor

    v = registry.client("alice").push_version(make_version()).version
    service: RegistryService = registry.service
    with pytest.raises(InputError, match="needs a comment"):
        service.review(
            Actor(name="bob", role="reviewer"),
            v.id,
            ReviewIn(decision="request_changes", content_hash=v.content_hash),
        )


def test_a_vault_holding_a_nul_version_still_syncs(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """The vault (SQLite) accepts NUL; the registry cannot store it on PostgreSQL. Sync
    reports that one version as refused, naming it, and everything else still flows."""
    from workbench.registry.sync import Syncer
    from workbench.vault import Vault

    def content(text: str) -> PromptContent:
        return PromptContent(messages=(Message(role="user", template=text),))

    registry.client("carol").push_version(make_version(prompt="team/other"))
    with Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice") as vault:
        bad = vault.commit("support/nul", content("Hello"), "fix\x00typo")
        good = vault.commit("support/fine", content("Hi"), "first")
        syncer = Syncer(vault, registry.client("alice"))
        for _round in range(2):  # a refusal, not a failure that repeats every round
            report = syncer.sync()
            assert report.pushed_versions == (1 if _round == 0 else 0)
            assert len(report.rejected) == 1
            assert bad.id.hex[:6] in report.rejected[0]
            assert "support/nul" in report.rejected[0]
            assert "NUL" in report.rejected[0]
        assert vault.version_by_id(good.id).number == 1
        assert [v.prompt for v in vault.history("team/other")] == ["team/other"]
    assert registry.service.versions("support/fine")[0].id == good.id
    with pytest.raises(NotFoundError, match="no prompt named 'support/nul'"):
        registry.service.versions("support/nul")


def test_the_client_refuses_bad_names_before_sending(registry: RunningRegistry) -> None:
    """``GET /prompts/a/../b`` would be collapsed to ``/prompts/b`` by the HTTP client."""
    registry.client("alice").push_version(make_version(prompt="b"))
    alice = registry.client("alice")
    for call in (
        lambda: alice.prompt("a/../b"),
        lambda: alice.versions("a/.."),
        lambda: alice.resolve("x/.."),
        lambda: alice.label("b", ".."),
    ):
        with pytest.raises(InputError, match=r"'\.' or '\.\.'"):
            call()
    assert alice.prompt("b").versions == 1


def test_serve_settings_reach_every_worker_unchanged(tmp_path: Path) -> None:
    from workbench.registry.server.serving import settings_from_json, settings_json

    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    for settings in (
        RegistrySettings(db_url=url, protected_labels=frozenset({"staging"})),
        RegistrySettings(db_url=url, unprotect_production=True),
    ):
        back, _log = settings_from_json(settings_json(settings, access_log=False))
        assert back == settings


def test_an_unexpected_error_is_a_500_and_keeps_the_connection(tmp_path: Path) -> None:
    from tests.server.conftest import serve_app
    from workbench.registry.server.app import create_app
    from workbench.registry.server.db import open_database

    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    db = open_database(settings.db_url)
    app = create_app(settings, database=db)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    opened: list[str] = []

    def count_connections(event: str, _info: object) -> None:
        if event == "connection.connect_tcp.complete":
            opened.append(event)

    try:
        with serve_app(app) as url, httpx.Client(base_url=url) as http:
            r = http.get("/boom", extensions={"trace": count_connections})
            assert r.status_code == 500
            assert r.json()["error"] == "RegistryServerError"
            assert http.get("/healthz", extensions={"trace": count_connections}).status_code == 200
            assert len(opened) == 1
    finally:
        db.dispose()


def test_a_queued_review_with_nul_is_refused_once_not_retried(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    from workbench.registry.sync import Syncer
    from workbench.vault import Vault
    from workbench.vault.sync_store import SyncStore

    pushed = registry.client("alice").push_version(make_version()).version
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as vault:
        syncer = Syncer(vault, registry.client("bob"))
        syncer.sync()
        syncer.queue_review(vault.version_by_id(pushed.id), "request_changes", "no\x00")
        report = syncer.sync()
        assert len(report.rejected) == 1
        assert "comment" in report.rejected[0]
        assert "NUL" in report.rejected[0]
        assert syncer.sync().rejected == []  # marked rejected, not sent again
        errors = [e.error or "" for e in SyncStore(vault).outbox(include_rejected=True)]
        assert len(errors) == 1
        assert "NUL" in errors[0]
    assert registry.service.reviews(pushed.id) == []


# ---- issue 12 item 9: a chunked body over the limit is a 413 too ---------------------


def _chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_body_over_the_limit_is_413(registry: RunningRegistry) -> None:
    huge = json.dumps(_push_body(make_version(), message="x" * 2_000_000)).encode()
    with _raw(registry, "alice") as http:
        r = http.post(
            "/api/v1/versions",
            content=_chunked(huge),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "PayloadTooLargeError"
    with _raw(registry, "alice") as http:
        small = json.dumps(_push_body(make_version(text="chunked"))).encode()
        r = http.post(
            "/api/v1/versions",
            content=_chunked(small, 100),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 201, r.text
    assert registry.service.prompt_info("support/reply").versions == 1


@pytest.mark.parametrize(
    "template",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{{ 'x'|center(2000000000) }}",
        "{% if %}",
    ],
)
def test_a_template_every_vault_would_refuse_is_refused_at_push(
    registry: RunningRegistry, template: str, tmp_path: Path
) -> None:
    """Issue 15, item 1: the registry stored what no vault may pull (pull runs the
    commit's template check), so every teammate's sync would stop at that version.
    A client that skips its own check gets a 422; the registry stays clean and a
    teammate's sync goes on."""
    v = make_version("bombs/one", template)
    with _raw(registry, "alice") as http:
        r = _post_json(http, "/api/v1/versions", _push_body(v))
    assert r.status_code == 422, r.text
    assert r.json()["error"] in ("InputError", "TemplateError", "LimitExceededError")
    assert "The version was not stored." in r.json()["hint"]
    assert registry.service.prompt_count() == 0
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        report = Syncer(bob, registry.client("bob")).sync()  # and no error
        assert report.pushed_versions == 0 and bob.prompt_names() == []
