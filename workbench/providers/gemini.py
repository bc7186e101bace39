"""Google Gemini ``generateContent`` (the Generative Language API, ``v1beta``).

The key goes in the ``x-goog-api-key`` header, never in the URL (URLs end up in
logs). Streaming uses ``:streamGenerateContent?alt=sse``: each SSE event is a
whole ``GenerateContentResponse`` whose ``usageMetadata`` is cumulative, so the
last one counts. Roles are ``user`` and ``model``; the system prompt travels as
``systemInstruction``. A wrong key is a 400 with reason ``API_KEY_INVALID``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote

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
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
_ROLES = {"user": "user", "assistant": "model"}


def finish_reason(raw: str) -> Finish:
    return Finish(_FINISH.get(raw, "other"), raw)


class GeminiClient(HttpProviderClient):
    family = "gemini"

    def _chat_url(self, request: ChatRequest) -> str:
        model = quote(request.model.removeprefix("models/"), safe="-._")
        if request.stream:
            return f"{self.base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse"
        return f"{self.base_url}/v1beta/models/{model}:generateContent"

    def _auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key} if self._api_key else {}

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "contents": [
                {"role": _ROLES[m.role], "parts": [{"text": m.content}]}
                for m in request.chat_messages()
            ]
        }
        system = request.system_text()
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.top_p is not None:
            config["topP"] = request.top_p
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.stop:
            config["stopSequences"] = list(request.stop)
        if request.response_format == "json_object":
            config["responseMimeType"] = "application/json"
        if config:
            body["generationConfig"] = config
        return body

    def _error_detail(self, body: Any) -> tuple[str, str]:
        error = body["error"]
        reasons = {d.get("reason") for d in error.get("details") or () if isinstance(d, dict)}
        auth = error.get("status") == "UNAUTHENTICATED" or "API_KEY_INVALID" in reasons
        return str(error.get("message", "")), "authentication" if auth else ""

    @staticmethod
    def _usage(meta: dict[str, Any]) -> Usage:
        # Thinking tokens are billed as output.
        output = int(meta.get("candidatesTokenCount") or 0)
        output += int(meta.get("thoughtsTokenCount") or 0)
        return Usage(int(meta.get("promptTokenCount") or 0), output)

    def _read(self, body: Any, request: ChatRequest) -> tuple[str, Finish | None, Usage | None]:
        """Text, finish and usage of one ``GenerateContentResponse``."""
        if not isinstance(body, dict):
            raise self._protocol("an answer is not a JSON object", request.model)
        usage = self._usage(body["usageMetadata"]) if body.get("usageMetadata") else None
        candidates = body.get("candidates")
        if not candidates:
            block = (body.get("promptFeedback") or {}).get("blockReason")
            if block:
                return "", Finish("content_filter", str(block)), usage
            if usage is not None and "candidates" not in body:
                return "", None, usage  # a usage-only chunk
            raise self._protocol("the answer has no candidates", request.model)
        candidate = candidates[0]
        parts = (candidate.get("content") or {}).get("parts") or ()
        text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
        raw = candidate.get("finishReason")
        return text, finish_reason(raw) if raw else None, usage

    def _whole_events(self, body: Any, request: ChatRequest) -> list[StreamEvent]:
        text, finish, usage = self._read(body, request)
        return whole_answer(request, text, usage, finish or Finish("other", ""))

    async def _stream_events(
        self, response: WireResponse, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        finish: Finish | None = None
        usage: Usage | None = None
        produced: list[str] = []
        async with contextlib.aclosing(iter_sse(response)) as events:
            async for sse in events:
                body = self._stream_json(sse.data, request.model)
                text, chunk_finish, chunk_usage = self._read(body, request)
                if text:
                    produced.append(text)
                    yield TextDelta(text)
                finish = chunk_finish or finish
                usage = chunk_usage or usage
        if finish is None:
            return  # the base class reports the unfinished stream
        yield usage or estimated_usage(request, "".join(produced))
        yield finish

    async def _list_models(self) -> list[str]:
        names: list[str] = []
        params: dict[str, str] = {"pageSize": "1000"}
        while True:
            body = await self._get_json(f"{self.base_url}/v1beta/models", params)
            try:
                for model in body.get("models", []):
                    methods = model.get("supportedGenerationMethods")
                    if methods is None or "generateContent" in methods:
                        names.append(str(model["name"]).removeprefix("models/"))
            except (KeyError, TypeError, AttributeError):
                raise self._protocol("the model list has no models[].name", "") from None
            token = body.get("nextPageToken")
            if not token:
                return names
            params = {"pageSize": "1000", "pageToken": str(token)}
