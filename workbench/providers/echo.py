"""The echo provider: answers with the rendered prompt itself. No network, no key, no cost.

It is the zero-set-up default, so a new user can run a comparison before
adding any provider. Its numbers measure this machine, not a model: usage is
estimated (``Usage.estimated``) and every readout must label it as echo
(:data:`LABEL`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.providers.base import (
    ChatRequest,
    Finish,
    ProviderClient,
    StreamEvent,
    TextDelta,
    estimated_usage,
)

LABEL = "echo (no model: shows the rendered prompt; tokens estimated, cost 0)"
MODELS = ["echo"]


def render_transcript(request: ChatRequest) -> str:
    """The messages as one text, each under its role."""
    return "\n\n".join(f"[{m.role}]\n{m.content}" for m in request.messages)


class EchoClient(ProviderClient):
    family = "echo"
    label = LABEL

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        text = render_transcript(request)
        if request.max_tokens is not None:
            text = text[: request.max_tokens * 4]
        yield TextDelta(text)
        yield estimated_usage(request, text)
        truncated = text != render_transcript(request)
        yield Finish("length" if truncated else "stop", "echo")

    async def list_models(self) -> list[str]:
        return list(MODELS)
