"""``create_app()``: the registry as an ASGI app.

The app holds no state besides its database connection pool, so several processes
can serve one PostgreSQL. Every error leaves as ``{"error": Name, "detail": message}``
(plus ``hint``); the access log records method, path, status, time and user name,
never headers or query strings (so never a token).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench import __version__
from workbench.core.errors import WorkbenchError
from workbench.registry.errors import (
    AuthenticationError,
    PayloadTooLargeError,
    error_body,
    status_for,
)
from workbench.registry.schemas import TEXT_RULE_ERROR, Health
from workbench.registry.server import langfuse_compat, routes, suite_routes, telemetry_routes
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database, open_database
from workbench.registry.server.service import RegistryService

access_log = logging.getLogger("workbench.registry.access")
log = logging.getLogger("workbench.registry")


class BodyLimitMiddleware:
    """413 for bodies over the limit, whether announced by Content-Length or streamed.

    A body without Content-Length (chunked) is read here first, up to the limit, and
    handed on whole: raising mid-read from inside the app's body parsing would be
    caught there and turned into a 400 "error parsing the body".
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send)
                    return
                # uvicorn holds the body to its declared length: nothing more can come.
                await self.app(scope, receive, send)
                return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        err = PayloadTooLargeError(
            f"the request body is over {self.max_bytes} bytes",
            hint="Send less at once (split the change).",
        )
        response = ErrorResponse(error_body(err), status_code=413)
        await response({"type": "http"}, _no_receive, send)


class ErrorResponse(JSONResponse):
    """An error body as ASCII JSON: a detail that quotes bad input (a lone surrogate, a
    control character) still encodes, so the error itself can never fail to be sent."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _server_error_body() -> dict[str, str]:
    return {
        "error": "RegistryServerError",
        "detail": "the registry failed on this request",
        "hint": "Retry later; the server log has the details.",
    }


class UnexpectedErrorMiddleware:
    """A 500 for an unexpected exception, answered here so the connection stays usable.

    Starlette's own last-resort handler re-raises after answering, and uvicorn then
    closes the connection: a client's next request on the same keep-alive connection
    failed too. Here the exception is logged and ends with the answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # half an answer is out: only closing the connection is honest
            log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
            response = ErrorResponse(_server_error_body(), status_code=500)
            await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class AccessLogMiddleware:
    """One line per request; deliberately blind to headers and the query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = 500

        async def recording_send(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            state = scope.get("state") or {}
            access_log.info(
                "%s %s %d %.1fms user=%s",
                scope["method"],
                scope["path"],
                status_code,
                (time.perf_counter() - start) * 1000,
                state.get("actor", "-"),
            )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        if not where and error.get("type") == TEXT_RULE_ERROR:
            parts.append(str(error.get("msg")))  # a whole-body check names the field itself
            continue
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is invalid"


def _install_error_handlers(app: FastAPI) -> None:
    async def on_workbench_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WorkbenchError)
        return ErrorResponse(error_body(exc), status_code=status_for(exc))

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        body = {
            "error": "InputError",
            "detail": _validation_message(exc),
            "hint": "Fix the request to match the API schema at /openapi.json.",
        }
        return ErrorResponse(body, status_code=422)

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (a JSON body whose bytes are not UTF-8
            # text): bad input like any other, answered as documented.
            unreadable = {
                "error": "InputError",
                "detail": f"the request body cannot be read as JSON ({exc.detail})",
                "hint": "Send a JSON body (UTF-8) with Content-Type: application/json.",
            }
            return ErrorResponse(unreadable, status_code=422)
        names = {
            401: AuthenticationError.__name__,
            404: "NotFoundError",
            413: "PayloadTooLargeError",
        }
        body: dict[str, Any] = {
            "error": names.get(exc.status_code, "InputError"),
            "detail": str(exc.detail),
        }
        return ErrorResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        return ErrorResponse(_server_error_body(), status_code=500)

    app.add_exception_handler(WorkbenchError, on_workbench_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _document_push_body(app: FastAPI) -> None:
    """The push route reads its body itself (auth first), so FastAPI does not see the
    model; add ``VersionPush`` and the models it uses to the schema's components."""
    from pydantic.json_schema import models_json_schema

    from workbench.registry.schemas import VersionPush

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = plain_openapi()
        _, defs = models_json_schema(
            [(VersionPush, "validation")], ref_template="#/components/schemas/{model}"
        )
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in defs.get("$defs", {}).items():
            components.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: RegistrySettings, *, database: Database | None = None) -> FastAPI:
    """Build the app; the database is opened (and migrated) at start-up unless given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or open_database(settings.db_url)
        log.info("%s", settings.describe_protection())
        if settings.unprotect_production:
            log.warning("'production' is not protected: it moves without review or a publisher")
        service = RegistryService(db, settings)
        app.state.service = service
        service.telemetry.start()
        try:
            yield
        finally:
            service.telemetry.stop()
            if database is None:
                db.dispose()

    app = FastAPI(
        title="Prompt Workbench registry",
        version=__version__,
        lifespan=lifespan,
        description="Versions are pushed, reviewed and published here.",
    )
    _install_error_handlers(app)
    app.include_router(telemetry_routes.router)  # before /prompts/{name:path} catches /stats
    app.include_router(suite_routes.router)  # before /prompts/{name:path} catches /suite
    app.include_router(routes.router)
    app.include_router(langfuse_compat.router)
    _document_push_body(app)

    @app.get("/healthz", tags=["ops"])
    def health() -> Health:
        return Health(status="ok")

    @app.get("/readyz", tags=["ops"])
    def ready(request: Request) -> Health:
        service: RegistryService = request.app.state.service
        service.ping()
        return Health(status="ok")

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(AccessLogMiddleware)
    return app
