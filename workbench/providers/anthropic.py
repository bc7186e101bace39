"""Anthropic Messages API (``POST /v1/messages``).

The system prompt travels apart from the messages; ``max_tokens`` is required
by the API, so a request without one gets :data:`DEFAULT_MAX_TOKENS`. The
stream is typed SSE events: ``message_start`` (input tokens), text in
``content_block_delta``, ``message_delta`` (stop reason, output tokens so far),
``message_stop``; an ``error`` event can arrive mid-stream. Anthropic has no
JSON mode, so ``response_format`` is not sent: the prompt must ask for JSON.
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
from workbench.providers.errors import error_for_status, without_key
from workbench.providers.http import WireResponse

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Anthropic names the failure in the body; for errors inside a 200 stream the
# type is all there is, so it picks the status the mapping would have seen.
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def finish_reason(raw: str) -> Finish:
    return Finish(_FINISH.get(raw, "other"), raw)


class AnthropicClient(HttpProviderClient):
    family = "anthropic"

    def _chat_url(self, request: ChatRequest) -> str:
        return f"{self.base_url}/v1/messages"

    def _auth_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [{"role": m.role, "content": m.content} for m in request.chat_messages()],
            "stream": request.stream,
        }
        system = request.system_text()
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        return body

    def _error_detail(self, body: Any) -> tuple[str, str]:
        error = body["error"]
        kind = "authentication" if error.get("type") == "authentication_error" else ""
        return str(error.get("message", "")), kind

    @staticmethod
    def _input_tokens(usage: dict[str, Any]) -> int:
        return sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )

    def _whole_events(self, body: Any, request: ChatRequest) -> list[StreamEvent]:
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise self._protocol("the answer has no content list", request.model)
        text = "".join(b.get("text", "") for b in body["content"] if b.get("type") == "text")
        usage = body.get("usage")
        return whole_answer(
            request,
            text,
            Usage(self._input_tokens(usage), int(usage.get("output_tokens") or 0))
            if usage
            else None,
            finish_reason(body.get("stop_reason") or ""),
        )

    async def _stream_events(
        self, response: WireResponse, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        input_tokens: int | None = None
        output_tokens: int | None = None
        finish: Finish | None = None
        produced: list[str] = []
        async with contextlib.aclosing(iter_sse(response)) as events:
            async for sse in events:
                data = self._stream_json(sse.data, request.model)
                if not isinstance(data, dict):
                    raise self._protocol("a stream event is not a JSON object", request.model)
                kind = data.get("type", sse.event)
                if kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        produced.append(delta["text"])
                        yield TextDelta(delta["text"])
                elif kind == "message_start":
                    usage = (data.get("message") or {}).get("usage") or {}
                    input_tokens = self._input_tokens(usage)
                    output_tokens = usage.get("output_tokens")
                elif kind == "message_delta":
                    stop = (data.get("delta") or {}).get("stop_reason")
                    if stop:
                        finish = finish_reason(stop)
                    usage = data.get("usage") or {}
                    if usage.get("output_tokens") is not None:
                        output_tokens = int(usage["output_tokens"])
                    if usage.get("input_tokens"):
                        input_tokens = self._input_tokens(usage)
                elif kind == "message_stop":
                    break
                elif kind == "error":
                    error = data.get("error") or {}
                    raise error_for_status(
                        _STATUS_BY_TYPE.get(str(error.get("type")), 500),
                        without_key(f"error mid-stream: {error.get('message', '')}", self._api_key),
                        provider=self.name,
                        model=request.model,
                    )
        if finish is None:
            return  # the base class reports the unfinished stream
        if input_tokens is None or output_tokens is None:
            yield estimated_usage(request, "".join(produced))
        else:
            yield Usage(input_tokens, int(output_tokens))
        yield finish

    async def _list_models(self) -> list[str]:
        names: list[str] = []
        params: dict[str, str] = {"limit": "1000"}
        while True:
            body = await self._get_json(f"{self.base_url}/v1/models", params)
            try:
                names.extend(str(m["id"]) for m in body["data"])
            except (KeyError, TypeError):
                raise self._protocol("the model list has no data[].id", "") from None
            if not body.get("has_more") or not body.get("last_id"):
                return names
            params = {"limit": "1000", "after_id": str(body["last_id"])}
