"""Fixtures for the provider tests: the local provider server and a way to call it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.providerserver import DEFAULT_KEY, ProviderServer
from workbench.providers.base import ChatMessage, ChatRequest, ChatResult, ProviderClient
from workbench.providers.http import Transport, make_http_client
from workbench.providers.policy import RetryPolicy, Timeouts
from workbench.providers.profiles import ProviderProfile, make_client

T = TypeVar("T")
FAMILIES = ("openai", "anthropic", "gemini", "ollama")


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    """One server per module; tests script distinct model names so they never collide."""
    with ProviderServer() as running:
        yield running


@pytest.fixture(params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest) -> Transport:
    name: Transport = request.param
    return name


def request_for(
    model: str, text: str = "hello there", *, stream: bool = True, **kw: Any
) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role="user", content=text),
        ),
        stream=stream,
        **kw,
    )


def with_client(
    server: ProviderServer,
    family: str,
    use: Callable[[ProviderClient], Awaitable[T]],
    *,
    transport: Transport = "aiohttp",
    key: str | None = DEFAULT_KEY,
    base_url: str | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> T:
    """Run ``use(client)`` on a fresh event loop with a fresh HTTP client."""
    profile = ProviderProfile(
        name=f"local-{family}",
        family=family,
        base_url=base_url or server.base_url(family),
        retry=retry or RetryPolicy(base_delay=0.01, max_delay=0.05),
        timeouts=timeouts or Timeouts(connect=2, read=5),
    )

    async def scenario() -> T:
        async with make_http_client(transport=transport) as http:
            return await use(make_client(profile, key, http))

    return asyncio.run(scenario())


def chat(server: ProviderServer, family: str, request: ChatRequest, **kw: Any) -> ChatResult:
    async def use(client: ProviderClient) -> ChatResult:
        return await client.chat(request)

    return with_client(server, family, use, **kw)
