"""The real Langfuse SDK reads published prompts from the registry unchanged.

Credentials: any public key (here the user name) and the registry token as the
secret key. Tracing is disabled, and the host is 127.0.0.1, so nothing leaves the box.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import RunningRegistry
from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.registry.schemas import LabelTarget

langfuse = pytest.importorskip("langfuse")


def _version(
    prompt: str, messages: tuple[Message, ...], parents: tuple[uuid.UUID, ...] = ()
) -> PromptVersion:
    content = PromptContent(messages=messages, tags=("support",))
    return PromptVersion(
        prompt=prompt,
        content=content,
        content_hash=content.content_hash(),
        message="first cut",
        parent_ids=parents,
    )


@pytest.fixture
def published(registry: RunningRegistry) -> RunningRegistry:
    """support/reply: v1 (chat) on production, v2 (text) on staging."""
    alice, bob, carol = (registry.client(u) for u in ("alice", "bob", "carol"))
    chat = _version(
        "support/reply",
        (
            Message(role="system", template="You are kind."),
            Message(role="user", template="Greet {{ name }}."),
        ),
    )
    text = _version("support/reply", (Message(role="user", template="Hi {{name}}!"),), (chat.id,))
    for v in (chat, text):
        pushed = alice.push_version(v).version
        bob.review(pushed.id, decision="approve", content_hash=pushed.content_hash)
    carol.move_label(
        "support/reply",
        "production",
        target=LabelTarget(version_id=chat.id),
        expected=None,
        reason="release",
    )
    carol.move_label(
        "support/reply",
        "staging",
        target=LabelTarget(version_id=text.id),
        expected=None,
        reason="release",
    )
    return registry


@pytest.fixture
def sdk(published: RunningRegistry) -> Iterator[Any]:
    # The SDK keeps one shared resource manager per public key, bound to the first
    # host it saw; a key per registry keeps each test on its own server.
    client = langfuse.Langfuse(
        public_key=f"carol-{published.url.rsplit(':', 1)[1]}",  # no ':' in Basic user names
        secret_key=published.tokens["carol"],
        host=published.url,
        tracing_enabled=False,
    )
    yield client
    client.shutdown()


def test_get_prompt_defaults_to_production(sdk: Any) -> None:
    prompt = sdk.get_prompt("support/reply", type="chat", cache_ttl_seconds=0)
    assert prompt.version == 1
    assert prompt.compile(name="Ada") == [
        {"role": "system", "content": "You are kind."},
        {"role": "user", "content": "Greet Ada."},
    ]
    assert "production" in prompt.labels


def test_get_prompt_by_label_and_version(sdk: Any) -> None:
    staging = sdk.get_prompt("support/reply", label="staging", cache_ttl_seconds=0)
    assert staging.version == 2
    assert staging.compile(name="Ada") == "Hi Ada!"
    assert staging.tags == ["support"]
    assert staging.commit_message == "first cut"
    by_number = sdk.get_prompt("support/reply", version=1, type="chat", cache_ttl_seconds=0)
    assert by_number.version == 1


def test_unknown_prompt_and_bad_secret(sdk: Any, published: RunningRegistry) -> None:
    with pytest.raises(Exception, match=r"404|not found|no prompt"):
        sdk.get_prompt("nope", cache_ttl_seconds=0, max_retries=0)
    with httpx.Client(base_url=published.url, auth=("pk", "wrong")) as bad:
        response = bad.get("/api/public/v2/prompts/support/reply")
    assert response.status_code == 401
    assert response.json()["error"] == "AuthenticationError"


def test_list_endpoint(published: RunningRegistry) -> None:
    with httpx.Client(base_url=published.url, auth=("pk", published.tokens["alice"])) as http:
        body = http.get("/api/public/v2/prompts").json()
    assert body["meta"]["totalItems"] == 1
    (meta,) = body["data"]
    assert meta["name"] == "support/reply"
    assert meta["versions"] == [1, 2]
    assert meta["labels"] == ["production", "staging"]
