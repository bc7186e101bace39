"""The common shape of every provider client: one request type, one event stream.

A client turns a :class:`ChatRequest` into an async stream of events:

- :class:`TextDelta` for each piece of answer text, as it arrives;
- :class:`RetryNotice` each time the retry policy waits and tries again (before
  any text, since a half-delivered answer is never silently restarted);
- :class:`Usage` once, with provider-reported or estimated token counts;
- :class:`Finish` last, with the normalised finish reason.

A failure raises a :class:`~workbench.providers.errors.ProviderError`. The
engine measures time to first token on the first ``TextDelta``.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.core.templating import RenderedMessage, estimate_tokens

Family = Literal["openai", "anthropic", "gemini", "ollama", "echo"]
FinishReason = Literal["stop", "length", "content_filter", "tool_calls", "other"]


ChatMessage = RenderedMessage
"""One rendered chat message (templates already filled in): the renderer's own type,
so what ``render_messages`` returns is what a provider is sent, with no copy between."""


class ChatRequest(BaseModel):
    """What to ask a model; the same for every family."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1)
    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: tuple[str, ...] = ()
    response_format: Literal["text", "json_object"] | None = None
    stream: bool = True
    """False asks for one whole answer; the client still yields the same events."""

    def system_text(self) -> str:
        """All system messages joined, for families that take the system prompt apart."""
        return "\n\n".join(m.content for m in self.messages if m.role == "system")

    def chat_messages(self) -> list[ChatMessage]:
        """The non-system messages, in order."""
        return [m for m in self.messages if m.role != "system"]


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    estimated: bool = False
    """True when the provider did not report usage and the numbers are estimates."""


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason
    raw: str = ""
    """The provider's own word for it (``end_turn``, ``STOP``, ``length``, ...)."""


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """The policy is about to wait ``wait`` seconds and make attempt ``attempt + 1``."""

    attempt: int
    reason: str
    wait: float
    error: Exception | None = None
    """The failure being retried (a ProviderError), for the engine's circuit breaker."""


StreamEvent = TextDelta | Usage | Finish | RetryNotice


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A whole answer, collected from a stream (see :func:`collect`)."""

    text: str
    usage: Usage | None
    finish: Finish | None
    retries: tuple[RetryNotice, ...]


async def collect(events: AsyncIterator[StreamEvent]) -> ChatResult:
    """Drain a stream into one result: handy for tests, ``provider test`` and scripts."""
    parts: list[str] = []
    usage: Usage | None = None
    finish: Finish | None = None
    retries: list[RetryNotice] = []
    async for event in events:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Finish):
            finish = event
        else:
            retries.append(event)
    return ChatResult("".join(parts), usage, finish, tuple(retries))


def estimate_input_tokens(messages: Sequence[ChatMessage]) -> int:
    return sum(estimate_tokens(m.content) + 4 for m in messages)


def estimated_usage(request: ChatRequest, output: str) -> Usage:
    """Usage guessed from the request and the answer's text, marked as estimated."""
    return Usage(estimate_input_tokens(request.messages), estimate_tokens(output), estimated=True)


class ProviderClient(abc.ABC):
    """What the engine calls. One instance per profile; safe for concurrent calls."""

    family: Family
    name: str

    @abc.abstractmethod
    def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Ask the model; yield events as they arrive (see the module docstring)."""

    @abc.abstractmethod
    async def list_models(self) -> list[str]:
        """The model names the provider offers, sorted."""

    async def chat(self, request: ChatRequest) -> ChatResult:
        """Ask and wait for the whole answer."""
        return await collect(self.stream_chat(request))
