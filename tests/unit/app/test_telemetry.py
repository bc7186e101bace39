"""OpenTelemetry export: `workbench compare` with an OTLP/HTTP endpoint sends one GenAI
span per call to a real receiver on 127.0.0.1 (protobuf, decoded with the OTLP
protos), through the real OpenTelemetry SDK; nothing sensitive is in them; off by
default."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.unit.cli.home import make_home
from workbench.cli.main import main

SECRET_VALUE = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz0123"  # split: no key-shaped literal


class Receiver:
    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.resources: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.raw.append(body)
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    receiver.resources.append(
                        {a.key: a.value.string_value for a in rs.resource.attributes}
                    )
                    for ss in rs.scope_spans:
                        receiver.spans.extend(ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def attrs(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        v = a.value
        kind = v.WhichOneof("value")
        out[a.key] = list(x.string_value for x in v.array_value.values) if kind == "array_value" \
            else getattr(v, kind)  # fmt: skip
    return out


def test_each_call_is_one_genai_span_at_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    make_home(tmp_path, monkeypatch)
    assert main(["commit", "greet", "-f", "p.yaml", "-m", "first"]) == 0
    assert main(["compare", "greet", "--models", "echo:echo"]) == 0
    assert receiver.spans == []  # off by default

    monkeypatch.setenv("WORKBENCH_OTLP_ENDPOINT", receiver.url)
    capsys.readouterr()
    assert main(["compare", "greet", "--models", "echo:echo", "--repeat", "3"]) == 0
    assert len(receiver.spans) == 3
    span = receiver.spans[0]
    a = attrs(span)
    assert span.name == "chat echo"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "workbench.echo"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "echo"
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["workbench.prompt.name"] == a["langfuse.observation.prompt.name"] == "greet"
    assert a["workbench.prompt.version"].startswith("draft 1")
    assert span.end_time_unix_nano >= span.start_time_unix_nano > 0
    assert span.kind == span.SPAN_KIND_CLIENT
    assert receiver.resources[0]["service.name"] == "prompt-workbench"

    # A failed call is an error span naming its kind; no variable or answer is sent.
    receiver.spans.clear()
    monkeypatch.setenv("WORKBENCH_AUTHOR", "ada")
    code = main(["compare", "greet", "--models", "echo:echo", "--var", f"name={SECRET_VALUE}",
                 "--fail-model", "echo:echo"])  # fmt: skip
    assert code != 0
    assert len(receiver.spans) == 1
    failed = receiver.spans[0]
    assert attrs(failed)["error.type"] and failed.status.code == failed.status.STATUS_CODE_ERROR
    sent = b"".join(receiver.raw)
    assert SECRET_VALUE.encode() not in sent and b"Hello" not in sent


def test_an_unreachable_endpoint_never_stops_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_home(tmp_path, monkeypatch)
    monkeypatch.setenv("WORKBENCH_OTLP_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    assert main(["commit", "greet", "-f", "p.yaml", "-m", "first"]) == 0
    assert main(["compare", "greet", "--models", "echo:echo"]) == 0


def test_a_rubric_grading_call_is_its_own_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    make_home(tmp_path, monkeypatch)
    (tmp_path / "cases.yaml").write_text(
        "- {name: a, assert: [{type: rubric, value: polite, model: 'echo:echo'}]}\n"
    )
    assert main(["commit", "greet", "-f", "p.yaml", "-m", "first"]) == 0
    monkeypatch.setenv("WORKBENCH_OTLP_ENDPOINT", receiver.url)
    capsys.readouterr()
    main(["compare", "greet", "--models", "echo:echo", "--cases", "cases.yaml"])
    kinds = sorted(attrs(s)["workbench.call.kind"] for s in receiver.spans)
    assert kinds == ["call", "grader"]
    grader = next(s for s in receiver.spans if attrs(s)["workbench.call.kind"] == "grader")
    assert grader.name == "chat echo" and attrs(grader)["gen_ai.operation.name"] == "chat"
    assert b"polite" not in b"".join(receiver.raw)  # the rubric's text is not sent
