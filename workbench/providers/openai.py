"""OpenAI Chat Completions, and every server that speaks it.

``base_url`` includes the version prefix (``https://api.openai.com/v1``), as
OpenAI-compatible servers (Azure OpenAI, Mistral, Groq, OpenRouter, Together,
DeepSeek, vLLM, LM Studio, llama.cpp) document theirs. Streaming asks for
``stream_options.include_usage`` so the last chunk (with an empty ``choices``
list) carries the token counts; servers that ignore it get estimated usage.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from workbench.providers.base import (
    ChatRequest,
    Finish,
    FinishReason,
    StreamEvent,
    TextDelta,
    Usage,
    estimated_usage,
)
from workbench.providers.client import HttpProviderClient, iter_sse, whole_answer
from workbench.providers.http import WireResponse

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


def finish_reason(raw: str) -> Finish:
    return Finish(_FINISH.get(raw, "other"), raw)


class OpenAIClient(HttpProviderClient):
    family = "openai"

    def __init__(self, *, max_tokens_field: str = "max_tokens", **kwargs: Any) -> None:
        """``max_tokens_field``: OpenAI's own newer models want ``max_completion_tokens``."""
        super().__init__(**kwargs)
        self.max_tokens_field = max_tokens_field

    def _chat_url(self, request: ChatRequest) -> str:
        return f"{self.base_url}/chat/completions"

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": request.stream,
        }
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.max_tokens is not None:
            body[self.max_tokens_field] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if request.response_format == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def _error_detail(self, body: Any) -> tuple[str, str]:
        error = body["error"]
        if isinstance(error, str):
            return error, ""
        kind = "authentication" if error.get("code") == "invalid_api_key" else ""
        return str(error.get("message", "")), kind

    def _usage(self, usage: dict[str, Any]) -> Usage:
        return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))

    def _whole_events(self, body: Any, request: ChatRequest) -> list[StreamEvent]:
        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices:
            raise self._protocol("the answer has no choices", request.model)
        choice = choices[0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = body.get("usage")
        finish = finish_reason(choice.get("finish_reason") or "")
        return whole_answer(request, text, self._usage(usage) if usage else None, finish)

    async def _stream_events(
        self, response: WireResponse, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        finish: Finish | None = None
        usage: Usage | None = None
        saw_choice = False
        produced: list[str] = []
        async with contextlib.aclosing(iter_sse(response)) as events:
            async for sse in events:
                if sse.data == "[DONE]":
                    break
                chunk = self._stream_json(sse.data, request.model)
                if not isinstance(chunk, dict):
                    raise self._protocol("a stream chunk is not a JSON object", request.model)
                if "error" in chunk:
                    message, _ = self._error_detail(chunk)
                    raise self._mid_stream_error(message, request.model)
                for choice in chunk.get("choices") or ():
                    if choice.get("index", 0) != 0:
                        continue
                    saw_choice = True
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        produced.append(text)
                        yield TextDelta(text)
                    if choice.get("finish_reason"):
                        finish = finish_reason(choice["finish_reason"])
                if chunk.get("usage"):
                    usage = self._usage(chunk["usage"])
        if finish is None:
            if not saw_choice:
                raise self._protocol("the stream had no choices", request.model)
            return  # the base class reports the unfinished stream
        yield usage or estimated_usage(request, "".join(produced))
        yield finish

    async def _list_models(self) -> list[str]:
        body = await self._get_json(f"{self.base_url}/models")
        try:
            return [str(m["id"]) for m in body["data"]]
        except (KeyError, TypeError):
            raise self._protocol("the model list has no data[].id", "") from None
