"""Every failure the issue names, through the real clients against the local server:
each becomes the right error in the tree, retried (and recorded) only when it should be,
and the key never shows up in an error or a log record."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.providerserver import DEFAULT_KEY, ProviderServer
from tests.unit.providers.conftest import FAMILIES, chat, request_for
from workbench.providers.errors import (
    BrokenStreamError,
    ConnectionFailed,
    ModelNotFoundError,
    ProtocolError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
    ServerError,
)
from workbench.providers.http import Transport
from workbench.providers.policy import NO_RETRY, RetryPolicy, Timeouts


@pytest.mark.parametrize("family", FAMILIES)
def test_429_waits_as_told_then_succeeds(
    server: ProviderServer, family: str, transport: Transport
) -> None:
    model = f"limited-{family}-{transport}"
    server.script(model, fail_times=2, status=429, retry_after=0.1)

    result = chat(server, family, request_for(model), transport=transport)

    assert result.text == "hello there"
    assert [(r.attempt, r.reason, r.wait) for r in result.retries] == [
        (1, "HTTP 429", 0.1),
        (2, "HTTP 429", 0.1),
    ]
    seen = server.requests_for(model)
    assert len(seen) == 3
    # The waits really happened: each retry arrived at least Retry-After later.
    assert all(b.at - a.at >= 0.1 - 0.005 for a, b in itertools.pairwise(seen))


def test_retry_after_ms_wins_over_retry_after(server: ProviderServer) -> None:
    server.script("limited-ms", fail_times=1, status=429, retry_after=30, retry_after_ms=20)
    result = chat(server, "openai", request_for("limited-ms"))
    assert [r.wait for r in result.retries] == [0.02]


def test_retry_after_as_http_date(server: ProviderServer) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    server.script("limited-date", fail_times=1, status=503, retry_after=soon)
    result = chat(server, "anthropic", request_for("limited-date"))
    [retry] = result.retries
    assert retry.reason == "HTTP 503"
    assert 0 <= retry.wait <= 1.0


def test_retry_after_beyond_the_budget_is_not_waited_for(server: ProviderServer) -> None:
    server.script("limited-long", fail_times=-1, status=429, retry_after=120)
    with pytest.raises(RateLimitError) as caught:
        chat(server, "openai", request_for("limited-long"))
    assert caught.value.retry_after == 120
    assert len(server.requests_for("limited-long")) == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_500_is_retried_then_reported(
    server: ProviderServer, family: str, transport: Transport
) -> None:
    model = f"broken-{family}-{transport}"
    server.script(model, fail_times=-1, status=500)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)

    with pytest.raises(ServerError) as caught:
        chat(server, family, request_for(model), retry=policy, transport=transport)

    assert caught.value.status == 500
    assert "scripted failure" in str(caught.value)
    assert len(server.requests_for(model)) == 3


@pytest.mark.parametrize("status", [400, 404, 401])
def test_client_errors_are_not_retried(server: ProviderServer, status: int) -> None:
    model = f"refused-{status}"
    server.script(model, fail_times=-1, status=status)
    with pytest.raises(ProviderError) as caught:
        chat(server, "gemini", request_for(model))
    assert caught.value.status == status
    assert not caught.value.retryable
    assert len(server.requests_for(model)) == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_nonexistent_model(server: ProviderServer, family: str) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        chat(server, family, request_for("nonexistent-model"))
    assert "nonexistent-model" in str(caught.value)
    assert "workbench provider test" in caught.value.hint


@pytest.mark.parametrize("family", FAMILIES)
def test_hang_times_out(server: ProviderServer, family: str, transport: Transport) -> None:
    model = f"hang-{family}-{transport}"
    server.script(model, fault="hang")
    with pytest.raises(ProviderTimeout) as caught:
        chat(
            server, family, request_for(model), transport=transport,
            retry=NO_RETRY, timeouts=Timeouts(connect=1, read=0.2),
        )  # fmt: skip
    assert "no answer within 0.2s" in str(caught.value)


def test_timeout_is_retried_and_then_succeeds(server: ProviderServer) -> None:
    server.script("hang-once", fault="hang", fault_times=1)
    result = chat(
        server, "openai", request_for("hang-once"), timeouts=Timeouts(connect=1, read=0.2)
    )
    assert result.text == "hello there"
    assert [r.reason for r in result.retries] == ["timeout"]


def test_stalled_stream_times_out_without_retry(server: ProviderServer) -> None:
    server.script("stall", fault="stall", chunks=4)
    with pytest.raises(ProviderTimeout) as caught:
        chat(server, "ollama", request_for("stall"), timeouts=Timeouts(connect=1, read=0.2))
    assert "stalled" in str(caught.value)
    assert len(server.requests_for("stall")) == 1  # text was already delivered


def test_the_stall_timeout_is_between_chunks_not_for_the_whole_answer(
    server: ProviderServer, transport: Transport
) -> None:
    """Each read moves the stall deadline: an answer that takes three times the read
    timeout in all, its chunks never further apart than half of it, is not a stall; a
    stall is seen once the read timeout has passed since the last chunk, not later."""
    steady, stalls = f"steady-{transport}", f"stalls-{transport}"
    server.script(steady, text="a b c d e f g", chunks=7, chunk_delay=0.1)
    timeouts = Timeouts(connect=1, read=0.25)
    result = chat(server, "openai", request_for(steady), timeouts=timeouts, transport=transport)
    assert result.text == "a b c d e f g"
    server.script(stalls, fault="stall", chunks=4)
    started = time.perf_counter()
    with pytest.raises(ProviderTimeout, match="stalled"):
        chat(server, "openai", request_for(stalls), timeouts=timeouts, transport=transport)
    assert time.perf_counter() - started < 0.25 + 1.0  # the timeout and some slack


def test_refused_connection(server: ProviderServer, transport: Transport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    policy = RetryPolicy(max_attempts=2, base_delay=0.01)
    with pytest.raises(ConnectionFailed) as caught:
        chat(
            server, "openai", request_for("refused"), transport=transport, retry=policy,
            base_url=f"http://127.0.0.1:{closed_port}/v1",
        )  # fmt: skip
    assert f"127.0.0.1:{closed_port}" in str(caught.value)
    assert "connection refused" in str(caught.value)
    assert "timeout" not in str(caught.value)  # a refusal is not a timeout
    assert "base URL" in caught.value.hint


def test_server_that_never_answers_hits_the_first_byte_timeout(
    server: ProviderServer, transport: Transport
) -> None:
    # A listening socket nobody accepts from: the kernel completes the handshake, then
    # nothing. The first-byte timeout (not the 5 s read timeout) ends the attempt.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        with pytest.raises(ProviderTimeout) as caught:
            chat(
                server, "openai", request_for("silent"), transport=transport,
                retry=RetryPolicy(max_attempts=1),
                timeouts=Timeouts(connect=2, read=5, first_byte=0.2),
                base_url=f"http://127.0.0.1:{port}/v1",
            )  # fmt: skip
    assert "first-byte timeout" in str(caught.value)


@pytest.mark.parametrize("family", FAMILIES)
def test_stream_cut_midway(server: ProviderServer, family: str, transport: Transport) -> None:
    model = f"cut-{family}-{transport}"
    server.script(model, fault="cut", chunks=6)
    with pytest.raises(BrokenStreamError):
        chat(server, family, request_for(model), transport=transport)
    assert len(server.requests_for(model)) == 1  # half an answer is never silently redone


@pytest.mark.parametrize("family", FAMILIES)
def test_garbled_line(server: ProviderServer, family: str) -> None:
    model = f"garbled-{family}"
    server.script(model, fault="garbled", chunks=3)
    with pytest.raises(ProtocolError) as caught:
        chat(server, family, request_for(model))
    assert "garbled" in str(caught.value)


@pytest.mark.parametrize("family", ["openai", "gemini"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_empty_choices(server: ProviderServer, family: str, stream: bool) -> None:
    model = f"empty-{family}-{stream}"
    server.script(model, fault="empty_choices")
    with pytest.raises(ProtocolError) as caught:
        chat(server, family, request_for(model, stream=stream))
    assert "no c" in str(caught.value)  # "no choices" / "no candidates"


@pytest.mark.parametrize("family", FAMILIES)
def test_key_never_in_errors_or_logs(
    server: ProviderServer, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = f"secret-{family}"
    server.script(model, fail_times=1, status=429, retry_after=0)
    errors: list[str] = []
    result = chat(server, family, request_for(model))
    assert result.retries
    for key in (DEFAULT_KEY, "sk-leaky-wrong-key-000"):
        try:
            chat(server, family, request_for(f"nonexistent-{family}"), key=key)
            chat(server, family, request_for(model), key=key)
        except ProviderError as err:
            errors += [str(err), err.describe(), repr(err)]
    assert errors
    texts = [*errors, *(r.getMessage() for r in caplog.records), caplog.text]
    assert not [t for t in texts if DEFAULT_KEY in t or "sk-leaky-wrong-key-000" in t]


@pytest.mark.parametrize("family", ["openai", "anthropic"])
def test_a_base_url_that_serves_a_web_page_says_so(
    server: ProviderServer, family: str, transport: Transport
) -> None:
    """Issue 15, item 15: a base URL answering with an HTML page (a website, a missing
    /v1, a login portal) gave "the stream had no choices"."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"<!doctype html><html><body>Welcome to our site</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{site.server_address[1]}"
        with pytest.raises(ProtocolError) as caught:
            chat(server, family, request_for("any"), base_url=url, transport=transport)
    finally:
        site.shutdown()
        site.server_close()
    assert "answered with a web page (text/html), not the API" in str(caught.value)
    assert "ends in /v1" in caught.value.hint
    assert DEFAULT_KEY not in str(caught.value)
