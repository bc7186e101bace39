"""Ollama's native chat API (``POST /api/chat``, NDJSON stream; ``GET /api/tags``).

Ollama needs no key; when a profile names one (Ollama behind an authenticating
proxy) it goes in ``Authorization: Bearer``. The last NDJSON record has
``done: true`` with ``done_reason`` and the counts ``prompt_eval_count`` and
``eval_count``; an ``{"error": ...}`` record can arrive mid-stream.
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
from workbench.providers.client import HttpProviderClient, text_events
from workbench.providers.errors import without_key
from workbench.providers.http import WireResponse
from workbench.providers.ndjson import NDJSONDecoder, NDJSONError

DEFAULT_BASE_URL = "http://127.0.0.1:11434"

_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length"}


def finish_reason(raw: str) -> Finish:
    return Finish(_FINISH.get(raw, "other"), raw)


class OllamaClient(HttpProviderClient):
    family = "ollama"

    def _chat_url(self, request: ChatRequest) -> str:
        return f"{self.base_url}/api/chat"

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": request.stream,
        }
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        if options:
            body["options"] = options
        if request.response_format == "json_object":
            body["format"] = "json"
        return body

    def _error_detail(self, body: Any) -> tuple[str, str]:
        return str(body["error"]), ""

    def _record(
        self, record: Any, request: ChatRequest, produced: list[str]
    ) -> tuple[str, list[StreamEvent]]:
        """Text of one record, plus the closing events if it is the last one."""
        if not isinstance(record, dict):
            raise self._protocol("a record is not a JSON object", request.model)
        if "error" in record:
            raise self._mid_stream_error(str(record["error"]), request.model)
        text = str((record.get("message") or {}).get("content") or "")
        if not record.get("done"):
            return text, []
        if "prompt_eval_count" in record or "eval_count" in record:
            usage = Usage(
                int(record.get("prompt_eval_count") or 0), int(record.get("eval_count") or 0)
            )
        else:
            usage = estimated_usage(request, "".join(produced) + text)
        return text, [usage, finish_reason(str(record.get("done_reason") or "stop"))]

    def _whole_events(self, body: Any, request: ChatRequest) -> list[StreamEvent]:
        text, closing = self._record(body, request, [])
        if not closing:
            raise self._protocol("the answer is not marked done", request.model)
        return [*text_events(text), *closing]

    async def _stream_events(
        self, response: WireResponse, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        decoder = NDJSONDecoder()
        produced: list[str] = []
        try:
            async with contextlib.aclosing(response.aiter_bytes()) as chunks:
                async for chunk in chunks:
                    for record in decoder.feed(chunk):
                        text, closing = self._record(record, request, produced)
                        if text:
                            produced.append(text)
                            yield TextDelta(text)
                        if closing:
                            for event in closing:
                                yield event
                            return
            for record in decoder.close():
                text, closing = self._record(record, request, produced)
                if text:
                    yield TextDelta(text)
                for event in closing:
                    yield event
        except NDJSONError as exc:
            raise self._protocol(
                f"garbled stream line: {without_key(exc.line, self._api_key)[:80]!r}", request.model
            ) from None

    async def _list_models(self) -> list[str]:
        body = await self._get_json(f"{self.base_url}/api/tags")
        try:
            return [str(m["name"]) for m in body["models"]]
        except (KeyError, TypeError):
            raise self._protocol("the model list has no models[].name", "") from None


async def detect_ollama(base_url: str = DEFAULT_BASE_URL, timeout: float = 0.3) -> bool:
    """True when an Ollama server answers ``GET /api/tags`` at ``base_url`` (fast, no retry)."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
            response = await http.get(f"{base_url.rstrip('/')}/api/tags")
            return response.status_code == 200 and isinstance(response.json().get("models"), list)
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
