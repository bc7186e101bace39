"""The retry policy's arithmetic, the status mapping, profiles and Ollama detection."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError

from tests.providerserver import ProviderServer
from workbench.core.errors import UsageError, WorkbenchError
from workbench.providers.anthropic import AnthropicClient
from workbench.providers.echo import EchoClient
from workbench.providers.errors import (
    BadRequestError,
    KeyRejectedError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    error_for_status,
    without_key,
)
from workbench.providers.http import make_http_client
from workbench.providers.openai import OpenAIClient
from workbench.providers.policy import RetryPolicy, parse_retry_after
from workbench.providers.profiles import ProviderProfile, detect_ollama, make_client


@pytest.mark.parametrize(
    ("status", "kind", "cls"),
    [
        (401, "", KeyRejectedError),
        (403, "", KeyRejectedError),
        (400, "authentication", KeyRejectedError),
        (400, "", BadRequestError),
        (422, "", BadRequestError),
        (404, "", ModelNotFoundError),
        (429, "", RateLimitError),
        (408, "", ServerError),
        (409, "", ServerError),
        (500, "", ServerError),
        (503, "", ServerError),
        (529, "", ServerError),
    ],
)
def test_one_status_mapping(status: int, kind: str, cls: type[ProviderError]) -> None:
    err = error_for_status(status, "went wrong", provider="p", model="m", kind=kind)
    assert type(err) is cls
    assert isinstance(err, WorkbenchError)
    assert err.retryable == (status in (408, 409, 429) or status >= 500)
    assert str(err) == f"p model 'm': HTTP {status}: went wrong"
    assert err.hint


def test_redact_removes_only_the_secret() -> None:
    assert without_key("bad key sk-abc123 given", "sk-abc123") == "bad key [redacted] given"
    assert without_key("nothing here", None) == "nothing here"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        ({"Retry-After": "-3"}, 0.0),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now=now.timestamp()) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, now=now.timestamp()) == 0.0


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=4, max_total=1000)
    err = ServerError("x")
    assert [policy.next_wait(err, n, 0, rand=lambda: 1.0) for n in range(1, 6)] == [
        0.5, 1.0, 2.0, 4.0, 4.0,
    ]  # fmt: skip
    assert policy.next_wait(err, 3, 0, rand=lambda: 0.25) == 0.5


def test_policy_bounds() -> None:
    policy = RetryPolicy(max_attempts=3, max_total=10, max_retry_after=5)
    assert policy.next_wait(BadRequestError("x"), 1, 0) is None  # not retryable
    assert policy.next_wait(ServerError("x"), 3, 0) is None  # out of attempts
    assert policy.next_wait(RateLimitError("x", retry_after=6), 1, 0) is None  # asks too much
    assert policy.next_wait(RateLimitError("x", retry_after=3), 1, 0) == 3
    assert policy.next_wait(RateLimitError("x", retry_after=3), 1, 8) is None  # over total


def test_profile_defaults_and_validation() -> None:
    profile = ProviderProfile(name="claude", family="anthropic", key_name="anthropic-main")
    assert profile.base_url == "https://api.anthropic.com"
    assert profile.needs_key
    local = ProviderProfile(name="vllm", family="openai", base_url="http://127.0.0.1:8000/v1/")
    assert local.base_url == "http://127.0.0.1:8000/v1"
    with pytest.raises(ValidationError, match="must not carry credentials"):
        ProviderProfile(name="x", family="openai", base_url="https://u:sk-secret@host/v1")
    with pytest.raises(ValidationError, match="must not carry credentials"):
        ProviderProfile(name="x", family="gemini", base_url="https://host?key=abc")
    with pytest.raises(ValidationError, match="must look like"):
        ProviderProfile(name="x", family="openai", base_url="ftp://host")
    with pytest.raises(ValidationError):
        ProviderProfile(name="has space", family="echo")
    with pytest.raises(ValidationError):
        ProviderProfile(name="x", family="openai", key_env="not-an-env-name")


def test_make_client_picks_the_family_and_needs_its_key() -> None:
    async def scenario() -> None:
        async with make_http_client() as http:
            official = ProviderProfile(name="oa", family="openai", key_name="openai")
            client = make_client(official, "sk-1", http)
            assert isinstance(client, OpenAIClient)
            assert client.max_tokens_field == "max_completion_tokens"
            assert "sk-1" not in repr(client)
            claude = ProviderProfile(name="c", family="anthropic", key_name="anthropic")
            assert isinstance(make_client(claude, "k", http), AnthropicClient)
            with pytest.raises(UsageError) as caught:
                make_client(claude, None, http)
            assert "workbench key set anthropic" in caught.value.hint

    asyncio.run(scenario())
    assert isinstance(make_client(ProviderProfile(name="e", family="echo"), None, None), EchoClient)


def test_detect_ollama(server: ProviderServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    assert asyncio.run(detect_ollama(server.url))
    assert not asyncio.run(detect_ollama(f"http://127.0.0.1:{closed_port}"))
    assert not asyncio.run(detect_ollama(f"{server.url}/nothing-here"))
