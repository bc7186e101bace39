"""Issue 12, item 4 (and the ``latest`` half of 14): the Langfuse-compatible API serves
only what the real Langfuse SDK compiles the way the workbench renders it, on SQLite
and PostgreSQL. A Jinja-only template is a clear 409, never raw Jinja; ``latest`` is
the newest version, as in Langfuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import RunningRegistry
from workbench.core.langfuse import langfuse_problem, template_problem
from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.core.templating import render_messages
from workbench.registry.review import langfuse_warning
from workbench.registry.schemas import LabelTarget

langfuse = pytest.importorskip("langfuse")

PLAIN = (
    Message(role="system", template="You help with {{ product }}.\n"),
    Message(role="user", template="{{question}} (asked by {{ name }})"),
)
JINJA = (
    Message(role="system", template="You help with {{ product | upper }}."),
    Message(role="user", template="{% if vip %}Dear {% endif %}{{ name }}"),
)


def _version(
    messages: tuple[Message, ...], parents: tuple[PromptVersion, ...] = ()
) -> PromptVersion:
    content = PromptContent(messages=messages)
    return PromptVersion(
        prompt="support/reply",
        content=content,
        content_hash=content.content_hash(),
        parent_ids=tuple(p.id for p in parents),
    )


def _publish(reg: RunningRegistry, version: PromptVersion, label: str) -> None:
    pushed = reg.client("alice").push_version(version).version
    reg.client("bob").review(pushed.id, decision="approve", content_hash=pushed.content_hash)
    carol = reg.client("carol")
    current = carol.label(version.prompt, label) if label in _labels(reg) else None
    carol.move_label(
        version.prompt,
        label,
        target=LabelTarget(version_id=version.id),
        expected=current.target if current is not None else None,
        reason="release",
    )


def _labels(reg: RunningRegistry) -> set[str]:
    return {lab.name for lab in reg.client("carol").prompt("support/reply").labels}


@pytest.fixture
def two_versions(registry: RunningRegistry) -> RunningRegistry:
    """v1 plain on production, v2 Jinja-only on staging (and newest)."""
    plain = _version(PLAIN)
    _publish(registry, plain, "production")
    _publish(registry, _version(JINJA, (plain,)), "staging")
    return registry


@pytest.fixture
def sdk(two_versions: RunningRegistry) -> Iterator[Any]:
    client = langfuse.Langfuse(
        public_key=f"carol-honest-{two_versions.url.rsplit(':', 1)[1]}",
        secret_key=two_versions.tokens["carol"],
        host=two_versions.url,
        tracing_enabled=False,
    )
    yield client
    client.shutdown()


def test_plain_template_compiles_identically_in_the_sdk(sdk: Any) -> None:
    values = {"product": "Acme", "question": "Where is it?", "name": "Ada"}
    prompt = sdk.get_prompt("support/reply", type="chat", cache_ttl_seconds=0)
    assert prompt.version == 1
    ours = [{"role": m.role, "content": m.content} for m in render_messages(
        PromptContent(messages=PLAIN), values
    )]  # fmt: skip
    assert prompt.compile(**values) == ours
    assert ours[0]["content"] == "You help with Acme.\n"


def test_jinja_only_template_is_a_clear_error_not_raw_text(
    sdk: Any, two_versions: RunningRegistry
) -> None:
    from langfuse.api.core.api_error import ApiError

    with pytest.raises(ApiError) as info:
        sdk.get_prompt("support/reply", label="staging", cache_ttl_seconds=0, max_retries=0)
    assert info.value.status_code == 409
    text = str(info.value)
    assert "cannot be served to the Langfuse SDK" in text and "filter" in text
    assert "{% if" not in text and "upper" not in text
    with httpx.Client(base_url=two_versions.url, auth=("pk", two_versions.tokens["carol"])) as h:
        for query in ({"label": "staging"}, {"version": 2}, {"label": "latest"}):
            r = h.get("/api/public/v2/prompts/support/reply", params=query)
            assert r.status_code == 409, (query, r.text)
            body = r.json()
            assert body["error"] == "LangfuseIncompatibleError"
            assert "filter" in body["detail"] and "message 1 (system)" in body["detail"]
            assert "{{ name }}" in body["hint"]
            assert "upper" not in r.text  # the template itself is never echoed
        # the native API still serves it to workbench clients
        native = h.get(
            "/api/v1/prompts/support/reply/resolve",
            params={"label": "staging"},
            headers={"Authorization": f"Bearer {two_versions.tokens['carol']}"},
        )
        assert native.status_code == 200


def test_latest_is_the_newest_version_as_in_langfuse(registry: RunningRegistry) -> None:
    plain = _version(PLAIN)
    _publish(registry, plain, "production")
    newer = _version((Message(role="user", template="Hi {{ name }}"),), (plain,))
    registry.client("alice").push_version(newer)
    client = langfuse.Langfuse(
        public_key=f"carol-latest-{registry.url.rsplit(':', 1)[1]}",
        secret_key=registry.tokens["carol"],
        host=registry.url,
        tracing_enabled=False,
    )
    try:
        latest = client.get_prompt("support/reply", label="latest", cache_ttl_seconds=0)
        assert latest.version == 2
        assert "latest" in latest.labels
        assert latest.compile(name="Ada") == "Hi Ada"
        production = client.get_prompt("support/reply", type="chat", cache_ttl_seconds=0)
        assert production.version == 1
        assert "latest" not in production.labels
    finally:
        client.shutdown()


def test_latest_cannot_be_moved(registry: RunningRegistry) -> None:
    v = registry.client("alice").push_version(_version(PLAIN)).version
    with httpx.Client(
        base_url=registry.url, headers={"Authorization": f"Bearer {registry.tokens['carol']}"}
    ) as h:
        r = h.put(
            "/api/v1/prompts/support/reply/labels/latest",
            json={"target": {"version_id": str(v.id)}, "expected": None},
        )
    assert r.status_code == 422
    assert "reserved" in r.json()["detail"]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("Hi {{ name }}!", None),
        ("Hi {{name}}\n\n", None),
        ("no placeholders at all", None),
        ("{{ name | upper }}", "filter"),
        ("{% if x %}a{% endif %}", "block"),
        ("{# note #}a", "comment"),
        ("{{- name }}", "whitespace control"),
        ("{{ user.name }}", "attribute"),
        ("{{ a + b }}", "expression"),
        ("{{ none }}", "expression"),
        ("{{ f() }}", "call"),
    ],
)
def test_the_compatibility_rule(template: str, problem: str | None) -> None:
    found = template_problem(template)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_the_publish_warning_the_cli_and_app_share() -> None:
    assert langfuse_warning(_version(PLAIN)) is None
    jinja = _version(JINJA)
    warning = langfuse_warning(jinja)
    assert warning is not None
    assert "not Langfuse-compatible" in warning and "{{ name }}" in warning
    problem = langfuse_problem(jinja.content)
    assert problem is not None and problem in warning
