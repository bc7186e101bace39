"""Each API family against the local server: streaming and whole answers, usage,
finish reasons, where the key goes, what the request body says, model listing."""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

import pytest

from tests.providerserver import DEFAULT_KEY, ProviderServer
from tests.unit.providers.conftest import FAMILIES, chat, request_for, with_client
from workbench.providers.base import (
    ChatMessage,
    ChatRequest,
    ProviderClient,
    StreamEvent,
    TextDelta,
)
from workbench.providers.echo import LABEL, EchoClient
from workbench.providers.errors import KeyRejectedError
from workbench.providers.http import Transport

KEY_HEADER = {
    "openai": ("authorization", f"Bearer {DEFAULT_KEY}"),
    "anthropic": ("x-api-key", DEFAULT_KEY),
    "gemini": ("x-goog-api-key", DEFAULT_KEY),
    "ollama": ("authorization", f"Bearer {DEFAULT_KEY}"),
}
FINISH_RAW = {"openai": "stop", "anthropic": "end_turn", "gemini": "STOP", "ollama": "stop"}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_answer_usage_and_finish(
    server: ProviderServer, family: str, stream: bool, transport: Transport
) -> None:
    model = f"answer-{family}-{stream}-{transport}"
    server.script(model, chunks=4, input_tokens=31, output_tokens=7)
    text = "Grüße, 世界! a multi-byte reply ✓"

    result = chat(server, family, request_for(model, text, stream=stream), transport=transport)

    assert result.text == text
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (31, 7)
    assert not result.usage.estimated
    assert result.finish is not None
    assert result.finish.reason == "stop"
    assert result.finish.raw == FINISH_RAW[family]
    assert result.retries == ()
    [seen] = server.requests_for(model)
    name, value = KEY_HEADER[family]
    assert seen.headers[name] == value


@pytest.mark.parametrize("family", FAMILIES)
def test_stream_yields_each_piece_in_order(server: ProviderServer, family: str) -> None:
    model = f"pieces-{family}"
    server.script(model, text="abcdefghij", chunks=5)

    async def use(client: ProviderClient) -> list[StreamEvent]:
        return [event async for event in client.stream_chat(request_for(model))]

    events = with_client(server, family, use)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["ab", "cd", "ef", "gh", "ij"]
    assert type(events[-1]).__name__ == "Finish"
    assert type(events[-2]).__name__ == "Usage"


@pytest.mark.parametrize(
    ("family", "raw", "normalised"),
    [
        ("openai", "length", "length"),
        ("anthropic", "max_tokens", "length"),
        ("gemini", "MAX_TOKENS", "length"),
        ("ollama", "length", "length"),
        ("gemini", "SAFETY", "content_filter"),
        ("anthropic", "pause_turn", "other"),
    ],
)
def test_finish_reasons_are_normalised(
    server: ProviderServer, family: str, raw: str, normalised: str
) -> None:
    model = f"finish-{family}-{raw}"
    server.script(model, finish_reason=raw)
    result = chat(server, family, request_for(model))
    assert result.finish is not None
    assert (result.finish.reason, result.finish.raw) == (normalised, raw)


def test_openai_body_asks_for_usage_and_carries_settings(server: ProviderServer) -> None:
    request = request_for(
        "body-openai", temperature=0.3, max_tokens=50, top_p=0.9, stop=("END",),
        response_format="json_object",
    )  # fmt: skip
    chat(server, "openai", request)
    [seen] = server.requests_for("body-openai")
    assert seen.body["stream_options"] == {"include_usage": True}
    assert seen.body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert seen.body["max_tokens"] == 50
    assert seen.body["stop"] == ["END"]
    assert seen.body["response_format"] == {"type": "json_object"}


def test_anthropic_body_has_system_apart_and_a_max_tokens(server: ProviderServer) -> None:
    chat(server, "anthropic", request_for("body-anthropic", stop=("END",)))
    [seen] = server.requests_for("body-anthropic")
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.body["system"] == "You are terse."
    assert [m["role"] for m in seen.body["messages"]] == ["user"]
    assert seen.body["max_tokens"] > 0
    assert seen.body["stop_sequences"] == ["END"]


def test_gemini_body_uses_model_role_and_system_instruction(server: ProviderServer) -> None:
    request = ChatRequest(
        model="body-gemini",
        messages=(
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="hi"),
            ChatMessage(role="assistant", content="hello"),
            ChatMessage(role="user", content="again"),
        ),
        max_tokens=20,
        response_format="json_object",
    )
    result = chat(server, "gemini", request)
    assert result.text == "again"
    [seen] = server.requests_for("body-gemini")
    assert seen.query == {"alt": "sse"}
    assert "key" not in seen.query  # the key travels in a header, never in the URL
    assert [c["role"] for c in seen.body["contents"]] == ["user", "model", "user"]
    assert seen.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert seen.body["generationConfig"] == {
        "maxOutputTokens": 20,
        "responseMimeType": "application/json",
    }


def test_ollama_needs_no_key_and_sends_options(server: ProviderServer) -> None:
    result = chat(server, "ollama", request_for("body-ollama", temperature=0.5), key=None)
    assert result.text == "hello there"
    [seen] = server.requests_for("body-ollama")
    assert "authorization" not in seen.headers
    assert seen.body["options"] == {"temperature": 0.5}


@pytest.mark.parametrize("family", FAMILIES)
def test_wrong_key_is_an_authentication_error(
    server: ProviderServer, family: str, transport: Transport
) -> None:
    wrong = "sk-wrong-key-1234567890"
    with pytest.raises(KeyRejectedError) as caught:
        chat(server, family, request_for(f"auth-{family}"), key=wrong, transport=transport)
    assert caught.value.status in (400, 401)
    assert wrong not in str(caught.value)
    assert wrong not in caught.value.describe()
    assert caught.value.hint


@pytest.mark.parametrize("family", FAMILIES)
def test_list_models(server: ProviderServer, family: str) -> None:
    server.script(f"listed-{family}")

    async def use(client: ProviderClient) -> list[str]:
        return await client.list_models()

    models = with_client(server, family, use)
    assert "test-model" in models
    assert f"listed-{family}" in models
    assert models == sorted(models)


def test_echo_answers_with_the_rendered_prompt_and_says_so() -> None:
    client = EchoClient()
    result = asyncio.run(client.chat(request_for("echo", "What is 2+2?")))
    assert result.text == "[system]\nYou are terse.\n\n[user]\nWhat is 2+2?"
    assert result.usage is not None
    assert result.usage.estimated
    assert result.finish is not None
    assert result.finish.reason == "stop"
    assert "echo" in LABEL
    assert asyncio.run(client.list_models()) == ["echo"]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_call_leaves_no_generator_for_the_garbage_collector(
    server: ProviderServer, family: str, transport: Transport
) -> None:
    """Every async generator a call uses is closed by the call. One left open is closed
    later by a task asyncio schedules through its self-pipe (a write system call): two
    per streamed call, ~2% of a 1,200-call run's event loop before they were closed."""
    model = f"closed-{family}-{transport}"
    server.script(model, text="one two three four", chunks=4)

    async def use(client: ProviderClient) -> list[str]:
        hooks = sys.get_asyncgen_hooks()
        left: list[str] = []

        def finalizer(agen: Any) -> None:
            # Ours only: httpx's own transport leaves its inner generators (aiter_raw and
            # friends) to the collector when a stream is closed early; aiohttp has none.
            if "/workbench/" in agen.ag_code.co_filename or transport == "aiohttp":
                left.append(agen.__qualname__)
            if hooks.finalizer is not None:
                hooks.finalizer(agen)

        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)
        try:
            for _ in range(3):
                result = await client.chat(request_for(model))
                assert result.text == "one two three four"
            gc.collect()
            await asyncio.sleep(0)
        finally:
            sys.set_asyncgen_hooks(*hooks)
        return left

    assert with_client(server, family, use, transport=transport) == []
