"""A local model-provider server for tests and benchmarks, speaking four wire formats.

Written from the providers' public API references:

- OpenAI Chat Completions: ``POST /v1/chat/completions`` (SSE chunks, the
  ``stream_options.include_usage`` usage chunk with empty ``choices``, ``[DONE]``),
  ``GET /v1/models``; key in ``Authorization: Bearer``.
- Anthropic Messages: ``POST /v1/messages`` (``message_start``,
  ``content_block_start``, ``ping``, ``content_block_delta``, ``content_block_stop``,
  ``message_delta`` with usage, ``message_stop``), ``GET /v1/models``; key in
  ``x-api-key``, ``anthropic-version`` required.
- Gemini: ``POST /v1beta/models/{model}:generateContent`` and
  ``:streamGenerateContent?alt=sse``, ``GET /v1beta/models``; key in
  ``x-goog-api-key``; a wrong key is a 400 with reason ``API_KEY_INVALID``, as
  Google answers it.
- Ollama: ``POST /api/chat`` (NDJSON), ``GET /api/tags``; no key needed, but a
  wrong ``Authorization: Bearer`` (an authenticating proxy) is a 401.

Each reply is deterministic: the last user message echoed back (or a scripted
text), split into ``chunks`` pieces, with scripted time to first token, delay
between chunks, usage and failures (see :class:`Script`). Errors come in each
family's own error body. A model whose name starts with ``nonexistent`` is
unknown (404). Every request is logged in :attr:`ProviderServer.requests`.

The server runs aiohttp on its own event loop in a background thread (or, for
benchmarks, in a subprocess: ``python -m tests.providerserver --ttft 0.2``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from aiohttp import web

Family = Literal["openai", "anthropic", "gemini", "ollama"]
Fault = Literal["hang", "stall", "cut", "garbled", "empty_choices"]

DEFAULT_KEY = "sk-test-0123456789abcdef"
DEFAULT_MODELS = ("test-model", "test-model-2")


@dataclass(frozen=True)
class Script:
    """How the server answers a model. Unset numbers are computed from the request.

    - ``text``: the reply; None echoes the last user message.
    - ``chunks``: how many pieces the streamed reply comes in.
    - ``ttft`` / ``chunk_delay``: seconds before the first piece / between pieces.
    - ``input_tokens`` / ``output_tokens``: reported usage; by default the number
      of whitespace-separated words in the prompt messages / in the reply.
    - ``finish_reason``: the family's raw word; None means a normal stop.
    - ``fail_times`` requests (-1: all) fail first with ``status`` (and
      ``Retry-After: retry_after`` / ``retry-after-ms: retry_after_ms`` when set;
      ``retry_after`` may be an HTTP date string).
    - ``fault`` on the first ``fault_times`` requests after those (-1: all):
      ``hang`` (no answer at all), ``stall`` (first piece, then nothing),
      ``cut`` (connection dropped halfway through the pieces), ``garbled`` (a
      line that is not JSON, before the second piece), ``empty_choices`` (no
      choices / candidates). ``stall``, ``cut`` and ``garbled`` need ``chunks >= 2``.
    """

    text: str | None = None
    chunks: int = 3
    ttft: float = 0.0
    chunk_delay: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    fail_times: int = 0
    status: int = 500
    retry_after: float | str | None = None
    retry_after_ms: float | None = None
    fault: Fault | None = None
    fault_times: int = -1
    answers: tuple[tuple[str, str], ...] = ()
    """(word, reply) pairs: a request whose last user message contains ``word`` gets
    ``reply`` instead of ``text`` (a realistic answer per question)."""


@dataclass(frozen=True)
class RecordedRequest:
    family: Family
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased header names."""
    body: Any
    model: str
    at: float
    """``time.monotonic()`` when the request arrived."""


@dataclass
class _ModelState:
    script: Script
    calls: int = 0


@dataclass
class _Reply:
    """What one request gets, decided under the lock when it arrives."""

    script: Script
    fail: bool
    fault: Fault | None


class ProviderServer:
    """Start with ``with ProviderServer() as server:``; ``server.url`` is the root URL."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        models: tuple[str, ...] = DEFAULT_MODELS,
        default: Script | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.host = host
        self._port = port
        self._default = default or Script()
        self._states: dict[str, _ModelState] = {}
        self._default_calls: dict[str, int] = {}
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- scripting -------------------------------------------------------------------

    def script(self, model: str | None = None, **settings: Any) -> Script:
        """Script replies for ``model`` (None: the default for unscripted models).

        Calling it again replaces that model's script and restarts its counters.
        """
        with self._lock:
            if model is None:
                self._default = replace(self._default, **settings)
                self._default_calls.clear()
                return self._default
            script = Script(**settings)
            self._states[model] = _ModelState(script)
            if model not in self.models:
                self.models.append(model)
            return script

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.model == model]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        if not self._ready.is_set():
            raise RuntimeError("the provider server is not running")
        return self._port

    def base_url(self, family: str) -> str:
        """The base URL a profile of that family should use."""
        return f"{self.url}/v1" if family == "openai" else self.url

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> ProviderServer:
        self._thread = threading.Thread(target=self._run, name="provider-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError("the provider server did not start") from self._startup_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        stopping = self._stopping
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        thread.join(10)
        self._thread = None

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_get("/v1/models", self._models_v1)
        app.router.add_post("/v1/messages", self._anthropic_messages)
        app.router.add_post("/v1beta/models/{call}", self._gemini_generate)
        app.router.add_get("/v1beta/models", self._gemini_models)
        app.router.add_post("/api/chat", self._ollama_chat)
        app.router.add_get("/api/tags", self._ollama_tags)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, backlog=1024)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # -- shared request handling -----------------------------------------------------

    async def _record(self, request: web.Request, family: Family, model: str) -> Any:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", errors="replace")
        if not model and isinstance(body, dict):
            model = str(body.get("model", ""))
        entry = RecordedRequest(
            family=family,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            model=model,
            at=time.monotonic(),
        )
        with self._lock:
            self._log.append(entry)
        return body

    def _decide(self, model: str) -> _Reply:
        with self._lock:
            state = self._states.get(model)
            if state is None:
                script = self._default
                calls = self._default_calls.get(model, 0) + 1
                self._default_calls[model] = calls
            else:
                script = state.script
                state.calls += 1
                calls = state.calls
        fail = script.fail_times < 0 or calls <= script.fail_times
        after_failures = calls - max(script.fail_times, 0)
        fault = None
        strikes = script.fault_times < 0 or after_failures <= script.fault_times
        if not fail and script.fault is not None and strikes:
            fault = script.fault
        return _Reply(script, fail, fault)

    async def _hang(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()

    def _failure_headers(self, script: Script) -> dict[str, str]:
        headers: dict[str, str] = {}
        if isinstance(script.retry_after, str):
            headers["Retry-After"] = script.retry_after
        elif script.retry_after is not None:
            headers["Retry-After"] = f"{script.retry_after:g}"
        if script.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{script.retry_after_ms:g}"
        return headers

    async def _answer(
        self,
        request: web.Request,
        family: Family,
        model: str,
        body: Any,
        *,
        auth_ok: bool,
        stream: bool,
        write_whole: Callable[[_Plan], web.Response],
        write_stream: Callable[[web.StreamResponse, _Plan], Awaitable[None]],
        content_type: str = "text/event-stream",
    ) -> web.StreamResponse:
        if not auth_ok:  # Google answers a wrong key with 400 API_KEY_INVALID
            status = 400 if family == "gemini" else 401
            return self._error(family, status, _auth_message(family, request))
        if model.startswith("nonexistent"):
            return self._error(family, 404, f"model '{model}' not found")
        reply = self._decide(model)
        script = reply.script
        if reply.fail:
            return self._error(
                family,
                script.status,
                f"scripted failure (HTTP {script.status})",
                self._failure_headers(script),
            )
        plan = _Plan.make(family, script, body, reply.fault)
        if reply.fault == "hang":
            await self._hang()
        if not stream:
            await asyncio.sleep(script.ttft)
            return write_whole(plan)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await write_stream(response, plan)
        return response

    async def _pace(self, index: int, plan: _Plan, response: web.StreamResponse) -> None:
        """Wait before piece ``index``; then apply stream faults that strike here."""
        await asyncio.sleep(plan.script.ttft if index == 0 else plan.script.chunk_delay)
        if index == 1 and plan.fault == "stall":
            await self._hang()
        if index == max(1, len(plan.pieces) // 2) and plan.fault == "cut":
            raise _Cut

    def _error(
        self, family: Family, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        body = _error_body(family, status, message)
        return web.json_response(body, status=status, headers=headers)

    # -- OpenAI ------------------------------------------------------------------------

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request, "openai", "")
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        auth_ok = request.headers.get("Authorization") == f"Bearer {self.api_key}"
        stream = bool(isinstance(body, dict) and body.get("stream"))
        include_usage = bool(
            isinstance(body, dict) and (body.get("stream_options") or {}).get("include_usage")
        )
        created = int(time.time())

        def chunk(choices: list[Any], usage: Any = None) -> bytes:
            data = {
                "id": "chatcmpl-local",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
            }
            if include_usage:
                data["usage"] = usage
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        def whole(plan: _Plan) -> web.Response:
            choices = (
                []
                if plan.fault == "empty_choices"
                else [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": plan.text},
                        "finish_reason": plan.finish or "stop",
                    }
                ]
            )
            return web.json_response(
                {
                    "id": "chatcmpl-local",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": choices,
                    "usage": plan.openai_usage(),
                }
            )

        async def streamed(response: web.StreamResponse, plan: _Plan) -> None:
            try:
                empty = plan.fault == "empty_choices"
                for i, piece in enumerate(plan.pieces):
                    await self._pace(i, plan, response)
                    if plan.fault == "garbled" and i == 1:
                        await response.write(b'data: {"id": "chatcmpl-local", "choi\n\n')
                    delta = {"content": piece} if i else {"role": "assistant", "content": piece}
                    choices = [] if empty else [{"index": 0, "delta": delta, "finish_reason": None}]
                    await response.write(chunk(choices))
                if not plan.pieces:
                    await asyncio.sleep(plan.script.ttft)
                if not empty:
                    stop = {"index": 0, "delta": {}, "finish_reason": plan.finish or "stop"}
                    await response.write(chunk([stop]))
                if include_usage:
                    await response.write(chunk([], plan.openai_usage()))
                await response.write(b"data: [DONE]\n\n")
            except _Cut:
                _abort(request)

        return await self._answer(
            request, "openai", model, body, auth_ok=auth_ok, stream=stream,
            write_whole=whole, write_stream=streamed,
        )  # fmt: skip

    async def _models_v1(self, request: web.Request) -> web.StreamResponse:
        """OpenAI's and Anthropic's ``GET /v1/models`` (told apart by their auth header)."""
        if "x-api-key" in request.headers or "anthropic-version" in request.headers:
            await self._record(request, "anthropic", "")
            if request.headers.get("x-api-key") != self.api_key:
                return self._error("anthropic", 401, _auth_message("anthropic", request))
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.models
            ]
            return web.json_response(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": self.models[0] if self.models else None,
                    "last_id": self.models[-1] if self.models else None,
                }
            )
        await self._record(request, "openai", "")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error("openai", 401, _auth_message("openai", request))
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "local"}
                    for m in self.models
                ],
            }
        )

    # -- Anthropic -----------------------------------------------------------------------

    async def _anthropic_messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request, "anthropic", "")
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        if "anthropic-version" not in request.headers:
            return self._error("anthropic", 400, "anthropic-version: header is required")
        auth_ok = request.headers.get("x-api-key") == self.api_key
        stream = bool(isinstance(body, dict) and body.get("stream"))

        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        def whole(plan: _Plan) -> web.Response:
            content = [] if plan.fault == "empty_choices" else [{"type": "text", "text": plan.text}]
            return web.json_response(
                {
                    "id": "msg_local",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": plan.finish or "end_turn",
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": plan.input_tokens,
                        "output_tokens": plan.output_tokens,
                    },
                }
            )

        async def streamed(response: web.StreamResponse, plan: _Plan) -> None:
            try:
                start: dict[str, Any] = {
                    "id": "msg_local",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": plan.input_tokens, "output_tokens": 1},
                }
                opening = {"type": "message_start", "message": start}
                await response.write(event("message_start", opening))
                block = {"type": "content_block_start", "index": 0,
                         "content_block": {"type": "text", "text": ""}}  # fmt: skip
                await response.write(event("content_block_start", block))
                await response.write(event("ping", {"type": "ping"}))
                for i, piece in enumerate(plan.pieces):
                    await self._pace(i, plan, response)
                    if plan.fault == "garbled" and i == 1:
                        garbled = b'event: content_block_delta\ndata: {"type": "cont\n\n'
                        await response.write(garbled)
                    delta = {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": piece}}  # fmt: skip
                    await response.write(event("content_block_delta", delta))
                if not plan.pieces:
                    await asyncio.sleep(plan.script.ttft)
                stop = {"type": "content_block_stop", "index": 0}
                await response.write(event("content_block_stop", stop))
                message_delta = {
                    "type": "message_delta",
                    "delta": {"stop_reason": plan.finish or "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": plan.output_tokens},
                }
                await response.write(event("message_delta", message_delta))
                await response.write(event("message_stop", {"type": "message_stop"}))
            except _Cut:
                _abort(request)

        return await self._answer(
            request, "anthropic", model, body, auth_ok=auth_ok, stream=stream,
            write_whole=whole, write_stream=streamed,
        )  # fmt: skip

    # -- Gemini ----------------------------------------------------------------------

    async def _gemini_generate(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["call"].partition(":")
        body = await self._record(request, "gemini", model)
        if method not in ("generateContent", "streamGenerateContent"):
            return self._error("gemini", 404, f"method {method!r} not found")
        auth_ok = request.headers.get("x-goog-api-key") == self.api_key
        stream = method == "streamGenerateContent"
        sse = request.query.get("alt") == "sse"

        def response_body(text: str | None, plan: _Plan, finish: bool) -> dict[str, Any]:
            data: dict[str, Any] = {"modelVersion": model, "responseId": "local"}
            if plan.fault == "empty_choices":
                data["candidates"] = []
            elif text is not None:
                candidate: dict[str, Any] = {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "index": 0,
                }
                if finish:
                    candidate["finishReason"] = plan.finish or "STOP"
                data["candidates"] = [candidate]
            data["usageMetadata"] = plan.gemini_usage(final=finish)
            return data

        def whole(plan: _Plan) -> web.Response:
            return web.json_response(response_body(plan.text, plan, True))

        async def streamed(response: web.StreamResponse, plan: _Plan) -> None:
            try:
                pieces = plan.pieces or [""]
                for i, piece in enumerate(pieces):
                    await self._pace(i, plan, response)
                    if plan.fault == "garbled" and i == 1:
                        await response.write(b'data: {"candidates": [{"cont\r\n\r\n')
                    data = json.dumps(response_body(piece, plan, i == len(pieces) - 1))
                    await response.write(f"data: {data}\r\n\r\n".encode())
            except _Cut:
                _abort(request)

        if stream and not sse:
            return self._error("gemini", 400, "this test server streams only with ?alt=sse")
        return await self._answer(
            request, "gemini", model, body, auth_ok=auth_ok, stream=stream,
            write_whole=whole, write_stream=streamed,
        )  # fmt: skip

    async def _gemini_models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request, "gemini", "")
        if request.headers.get("x-goog-api-key") != self.api_key:
            return self._error("gemini", 400, _auth_message("gemini", request))
        models = [
            {
                "name": f"models/{m}",
                "displayName": m,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for m in self.models
        ]
        return web.json_response({"models": models})

    # -- Ollama ------------------------------------------------------------------------

    async def _ollama_chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request, "ollama", "")
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        auth = request.headers.get("Authorization")
        auth_ok = auth is None or auth == f"Bearer {self.api_key}"
        stream = not (isinstance(body, dict) and body.get("stream") is False)

        def record(content: str, done: bool, plan: _Plan) -> dict[str, Any]:
            data: dict[str, Any] = {
                "model": model,
                "created_at": "2025-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": content},
                "done": done,
            }
            if done:
                data.update(
                    done_reason=plan.finish or "stop",
                    total_duration=1,
                    load_duration=1,
                    prompt_eval_count=plan.input_tokens,
                    prompt_eval_duration=1,
                    eval_count=plan.output_tokens,
                    eval_duration=1,
                )
            return data

        def whole(plan: _Plan) -> web.Response:
            return web.json_response(record(plan.text, True, plan))

        async def streamed(response: web.StreamResponse, plan: _Plan) -> None:
            try:
                for i, piece in enumerate(plan.pieces):
                    await self._pace(i, plan, response)
                    if plan.fault == "garbled" and i == 1:
                        await response.write(b'{"model": "x", "mess\n')
                    await response.write(json.dumps(record(piece, False, plan)).encode() + b"\n")
                if not plan.pieces:
                    await asyncio.sleep(plan.script.ttft)
                await response.write(json.dumps(record("", True, plan)).encode() + b"\n")
            except _Cut:
                _abort(request)

        return await self._answer(
            request, "ollama", model, body, auth_ok=auth_ok, stream=stream,
            write_whole=whole, write_stream=streamed, content_type="application/x-ndjson",
        )  # fmt: skip

    async def _ollama_tags(self, request: web.Request) -> web.StreamResponse:
        await self._record(request, "ollama", "")
        auth = request.headers.get("Authorization")
        if auth is not None and auth != f"Bearer {self.api_key}":
            return self._error("ollama", 401, "unauthorized")
        models = [
            {"name": m, "model": m, "modified_at": "2025-01-01T00:00:00Z", "size": 1, "digest": "0"}
            for m in self.models
        ]
        return web.json_response({"models": models})


class _Cut(Exception):
    """Raised inside a stream writer to drop the connection mid-answer."""


def _abort(request: web.Request) -> None:
    """Drop the connection without ending the chunked body: the client sees a broken stream."""
    if request.transport is not None:
        request.transport.abort()


@dataclass
class _Plan:
    """The reply to one request: text, pieces, usage, finish, fault."""

    script: Script
    text: str
    pieces: list[str]
    input_tokens: int
    output_tokens: int
    finish: str | None
    fault: Fault | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls, family: Family, script: Script, body: Any, fault: Fault | None) -> _Plan:
        prompts = _prompt_texts(family, body)
        users = [text for role, text in prompts if role == "user"]
        text = script.text if script.text is not None else (users[-1] if users else "")
        last = users[-1] if users else ""
        text = next((reply for word, reply in script.answers if word in last), text)
        return cls(
            script=script,
            text=text,
            pieces=split_text(text, script.chunks),
            input_tokens=(
                script.input_tokens
                if script.input_tokens is not None
                else sum(len(t.split()) for _, t in prompts)
            ),
            output_tokens=(
                script.output_tokens if script.output_tokens is not None else len(text.split())
            ),
            finish=script.finish_reason,
            fault=fault,
        )

    def openai_usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def gemini_usage(self, *, final: bool) -> dict[str, int]:
        output = self.output_tokens if final else 0
        return {
            "promptTokenCount": self.input_tokens,
            "candidatesTokenCount": output,
            "totalTokenCount": self.input_tokens + output,
        }


def split_text(text: str, chunks: int) -> list[str]:
    """``text`` in ``chunks`` contiguous pieces of near-equal length (fewer if it is short)."""
    if not text:
        return []
    count = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _prompt_texts(family: Family, body: Any) -> list[tuple[str, str]]:
    """(role, text) of every prompt message, system included, in order."""
    if not isinstance(body, dict):
        return []
    out: list[tuple[str, str]] = []
    if family == "gemini":
        system = body.get("systemInstruction") or {}
        out += [("system", str(p.get("text", ""))) for p in system.get("parts", [])]
        for content in body.get("contents", []):
            text = "".join(str(p.get("text", "")) for p in content.get("parts", []))
            out.append((str(content.get("role", "user")), text))
        return out
    if family == "anthropic" and isinstance(body.get("system"), str):
        out.append(("system", body["system"]))
    for message in body.get("messages", []):
        content = message.get("content", "")
        if isinstance(content, list):
            content = "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        out.append((str(message.get("role", "user")), str(content)))
    return out


_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
                 404: "invalid_request_error", 429: "requests"}  # fmt: skip
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                    429: "rate_limit_error", 529: "overloaded_error"}  # fmt: skip
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 409: "ABORTED",
                  429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                  504: "DEADLINE_EXCEEDED"}  # fmt: skip


def _error_body(family: Family, status: int, message: str) -> Any:
    if family == "openai":
        code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
        return {
            "error": {
                "message": message,
                "type": _OPENAI_TYPES.get(status, "server_error"),
                "param": None,
                "code": code.get(status),
            }
        }
    if family == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if family == "gemini":
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
        }
        if status == 400 and message.startswith("API key not valid"):
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ]
        return {"error": error}
    return {"error": message}


def _auth_message(family: Family, request: web.Request) -> str:
    """Each family's wording; OpenAI's echoes the key it got, so clients must redact."""
    if family == "openai":
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return f"Incorrect API key provided: {given}. You can find your API key in the dashboard."
    if family == "anthropic":
        return "invalid x-api-key"
    if family == "gemini":
        return "API key not valid. Please pass a valid API key."
    return "unauthorized"


@contextlib.contextmanager
def provider_server(**kwargs: Any) -> Iterator[ProviderServer]:
    """``with provider_server() as server:`` (keyword arguments as for :class:`ProviderServer`)."""
    server = ProviderServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
