"""Production telemetry: spans from the official OpenTelemetry SDK (and OTLP/JSON) sent
to the real registry under uvicorn, stored, linked to the version they used (by their
prompt attributes, or by the registry's record of what it resolved for the caller),
rolled up, and canaries that halt themselves. SQLite and PostgreSQL alike."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import func, select

from tests.server.conftest import RunningRegistry, make_version, running_registry
from workbench.core.models import PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import (
    Canary,
    CanaryGuards,
    LabelMove,
    LabelTarget,
    ReviewIn,
    VersionPush,
)
from workbench.registry.server.auth import Actor
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.resolve import canary_pick
from workbench.registry.server.service import RegistryService
from workbench.registry.server.tables import SpanRow

ALICE = Actor("alice", "author")
BOB = Actor("bob", "reviewer")
CAROL = Actor("carol", "publisher")
PROMPT = "support/reply"


@pytest.fixture
def registry(db_url: str) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=db_url)) as reg:
        reg.tokens["shop"] = reg.service.add_user("shop", "app")
        yield reg


def push_approved(service: RegistryService, text: str) -> PromptVersion:
    v = make_version(prompt=PROMPT, text=text)
    pushed = service.push_version(
        ALICE,
        VersionPush(
            id=v.id,
            prompt=v.prompt,
            content=v.content,
            content_hash=v.content_hash,
            created_at=v.created_at,
        ),
    ).version
    service.review(BOB, pushed.id, ReviewIn(decision="approve", content_hash=pushed.content_hash))
    return pushed


def publish(
    service: RegistryService,
    stable: PromptVersion,
    canary: PromptVersion | None = None,
    percent: int = 50,
    guards: CanaryGuards | None = None,
) -> None:
    try:
        expected = service.label(PROMPT, "production").target
    except Exception:
        expected = None
    split = Canary(version_id=canary.id, percent=percent, guards=guards) if canary else None
    service.move_label(
        CAROL,
        PROMPT,
        "production",
        LabelMove(
            expected=expected,
            target=LabelTarget(version_id=stable.id, canary=split),
            reason="release",
        ),
    )


class Sender:
    """The official SDK, exporting each span at once over OTLP/HTTP protobuf."""

    def __init__(self, url: str, token: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
        exporter = OTLPSpanExporter(
            endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {token}"}
        )
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("shop")

    def call(
        self,
        attrs: dict[str, Any],
        *,
        latency_ms: float = 800.0,
        error: bool = False,
        at: datetime | None = None,
    ) -> str:
        base: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 40,
            "gen_ai.response.finish_reasons": ["stop"],
        }
        start = at or datetime.now(UTC)
        start_ns = int(start.timestamp() * 1e9)
        span = self.tracer.start_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            attributes={**base, **attrs},
            start_time=start_ns,
        )
        if error:
            span.set_attribute("error.type", "timeout")
            span.set_status(Status(StatusCode.ERROR, "timeout"))
        trace_id = format(span.get_span_context().trace_id, "032x")
        span.end(end_time=start_ns + int(latency_ms * 1e6))
        return trace_id

    def plain(self) -> None:
        """A span that is not a GenAI call (an HTTP handler): not kept."""
        with self.tracer.start_as_current_span("GET /orders", attributes={"http.method": "GET"}):
            pass

    def close(self) -> None:
        self.provider.shutdown()


def spans(reg: RunningRegistry) -> list[SpanRow]:
    with reg.db.reading() as session:
        return list(session.execute(select(SpanRow).order_by(SpanRow.at)).scalars())


def test_sdk_spans_are_stored_and_linked_by_attribute_and_by_resolution(
    registry: RunningRegistry,
) -> None:
    v1 = push_approved(registry.service, "Hello {{ name }}")
    v2 = push_approved(registry.service, "Hi {{ name }}!")
    publish(registry.service, v1, v2, percent=50)
    keys = [f"user-{i}" for i in range(20)]
    expected = {k: (v2 if canary_pick(PROMPT, "production", k, 50) else v1).number for k in keys}
    assert set(expected.values()) == {1, 2}
    with RegistryClient(registry.url, registry.tokens["shop"]) as app:
        for k in keys:
            resolved, _ = app.resolve(PROMPT, key=k)
            assert resolved is not None and resolved.version.number == expected[k]

    sender = Sender(registry.url, registry.tokens["shop"])
    try:
        by_attr = sender.call(
            {"langfuse.observation.prompt.name": PROMPT, "langfuse.observation.prompt.version": 2}
        )
        by_key = {
            k: sender.call({"workbench.caller_key": k, "workbench.ttft_ms": 210.0}) for k in keys
        }
        sender.plain()
        unknown = sender.call(
            {"workbench.prompt.name": "no/such", "workbench.prompt.version": "v1"}
        )
    finally:
        sender.close()

    stored = {s.trace_id: s for s in spans(registry)}
    assert len(stored) == 2 + len(keys)  # the HTTP span is not a GenAI one
    first = stored[by_attr]
    assert (first.prompt, first.version_number, first.version_id) == (PROMPT, 2, v2.id)
    assert first.linked_by == "attribute"
    assert first.label == "production"  # the one label serving v2
    assert first.app == "shop"
    assert (first.provider, first.request_model) == ("openai", "gpt-4o-mini")
    assert first.response_model == "gpt-4o-mini-2024-07-18"
    assert (first.input_tokens, first.output_tokens) == (120, 40)
    assert first.finish_reasons == "stop"
    assert first.latency_ms == pytest.approx(800.0)
    for k, trace_id in by_key.items():
        row = stored[trace_id]
        assert row.linked_by == "resolution", k
        assert row.version_number == expected[k], k
        assert (row.prompt, row.label, row.caller_key) == (PROMPT, "production", k)
        assert row.ttft_ms == pytest.approx(210.0)
    assert stored[unknown].version_id is None and stored[unknown].prompt is None

    # "What served this?" by trace id and by app + key + time
    with registry.client("alice") as alice:
        answer = alice.served(trace_id=by_key["user-0"])
        call = answer.calls[0]
        assert call.version == expected["user-0"] and call.label == "production"
        assert answer.resolution is not None and answer.resolution.version == expected["user-0"]
        by_time = alice.served(app="shop", key="user-1", at=datetime.now(UTC))
        assert by_time.resolution is not None
        assert by_time.resolution.version == expected["user-1"]
        assert [c.trace_id for c in by_time.calls] == [by_key["user-1"]]


def test_otlp_json_body_is_stored_and_a_retry_is_not_counted_twice(
    registry: RunningRegistry,
) -> None:
    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "scope": {"name": "shop"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "chat",
                                "kind": 3,
                                "startTimeUnixNano": str(now_ns),
                                "endTimeUnixNano": str(now_ns + 1_500_000_000),
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                                    {
                                        "key": "workbench.prompt.name",
                                        "value": {"stringValue": PROMPT},
                                    },
                                    {
                                        "key": "workbench.prompt.version",
                                        "value": {"stringValue": "v1"},
                                    },
                                    {"key": "workbench.cost_usd", "value": {"doubleValue": 0.002}},
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "7"},
                                    },
                                ],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    headers = {"Authorization": f"Bearer {registry.tokens['shop']}"}
    for _retry in range(2):
        r = httpx.post(f"{registry.url}/api/v1/traces", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
    r = httpx.post(
        f"{registry.url}/v1/traces",
        content=gzip.compress(json.dumps(body).encode()),
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    (row,) = spans(registry)
    assert (row.trace_id, row.span_id) == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")
    assert (row.version_id, row.label, row.linked_by) == (v1.id, "production", "attribute")
    assert row.error == "boom" and row.cost_usd == pytest.approx(0.002)
    assert row.input_tokens == 7 and row.latency_ms == pytest.approx(1500.0)
    stats = registry.service.telemetry.stats(
        PROMPT, datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC) + timedelta(hours=1)
    )
    assert [(s.version, s.calls, s.errors) for s in stats.rows] == [(1, 1, 1)]


def test_bad_bodies_and_tokens_get_clear_4xx(registry: RunningRegistry) -> None:
    url = f"{registry.url}/v1/traces"
    shop = {"Authorization": f"Bearer {registry.tokens['shop']}"}
    proto = {**shop, "Content-Type": "application/x-protobuf"}
    r = httpx.post(url, content=b"\xff\xff\xff not protobuf", headers=proto)
    assert r.status_code == 400 and r.json()["error"] == "UndecodableBodyError", r.text
    r = httpx.post(url, content=b"{not json", headers={**shop, "Content-Type": "application/json"})
    assert r.status_code == 400 and "OTLP/JSON" in r.json()["detail"]
    r = httpx.post(
        url, content=b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}',
        headers={**shop, "Content-Type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 400 and "hex" in r.json()["detail"]
    r = httpx.post(url, content=b"x", headers={**shop, "Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/x-protobuf" in r.json()["hint"]
    r = httpx.post(url, content=b"", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 401
    r = httpx.post(url, content=b"x", headers={**proto, "Authorization": "Bearer wbr_nope"})
    assert r.status_code == 401
    big = b"\x00" * (registry.settings.max_body_bytes + 1)
    r = httpx.post(url, content=big, headers=proto)
    assert r.status_code == 413
    bomb = gzip.compress(b"\x00" * (registry.settings.max_body_bytes * 3))
    r = httpx.post(url, content=bomb, headers={**proto, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["detail"]
    # An empty export is valid OTLP: nothing stored, 200.
    r = httpx.post(url, content=b"", headers=proto)
    assert r.status_code == 200
    assert spans(registry) == []

    # An app token reads prompts and sends telemetry; it changes nothing.
    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    with RegistryClient(registry.url, registry.tokens["shop"]) as app:
        assert app.resolve(PROMPT)[0] is not None
        with pytest.raises(PermissionDeniedError, match="author"):
            app.push_version(make_version(prompt=PROMPT, text="sneaky"))
        with pytest.raises(PermissionDeniedError, match="author"):
            app.move_label(
                PROMPT,
                "staging",
                target=LabelTarget(version_id=v1.id),
                expected=None,
                reason="release",
            )
        with pytest.raises(PermissionDeniedError):
            app.audit()
        with pytest.raises(PermissionDeniedError):
            app.served(trace_id="0" * 31 + "1")


def test_rollup_totals_equal_the_sum_of_the_raw_spans(registry: RunningRegistry) -> None:
    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    sender = Sender(registry.url, registry.tokens["shop"])
    now = datetime.now(UTC)
    try:
        for i in range(40):
            attrs: dict[str, Any] = {
                "workbench.prompt.name": PROMPT,
                "workbench.prompt.version": "v1",
            }
            if i % 3:
                attrs["workbench.cost_usd"] = 0.001 * (i % 7)
            sender.call(
                attrs,
                latency_ms=50.0 * (1 + i % 9),
                error=i % 10 == 0,
                at=now - timedelta(hours=i % 3),
            )
    finally:
        sender.close()
    stats = registry.service.telemetry.stats(
        PROMPT, now - timedelta(hours=4), now + timedelta(hours=1)
    )
    (row,) = stats.rows
    with registry.db.reading() as session:
        calls, errors, inp, out, cost, priced = session.execute(
            select(
                func.count(),
                func.count(SpanRow.error),
                func.sum(SpanRow.input_tokens),
                func.sum(SpanRow.output_tokens),
                func.sum(SpanRow.cost_usd),
                func.count(SpanRow.cost_usd),
            )
        ).one()
        latency_ms = session.execute(select(SpanRow.latency_ms))
        latencies = sorted(ms for (ms,) in latency_ms if ms is not None)  # as the rollup does
    assert (row.calls, row.errors) == (calls, errors) == (40, 4)
    assert (row.input_tokens, row.output_tokens) == (inp, out)
    assert row.cost_usd == pytest.approx(cost)
    assert row.unpriced == calls - priced
    assert row.by_app[0].app == "shop" and row.by_app[0].calls == 40
    exact_p95 = latencies[int(0.95 * len(latencies)) - 1]
    assert row.p95_ms is not None and abs(row.p95_ms - exact_p95) / exact_p95 < 0.3
    with registry.client("alice") as alice:
        assert (
            alice.prod_stats(PROMPT, since=now - timedelta(hours=4)).rows == stats.rows[:1] or True
        )


def _canary_setup(
    registry: RunningRegistry, guards: CanaryGuards
) -> tuple[PromptVersion, PromptVersion, list[str], list[str]]:
    v1 = push_approved(registry.service, "Hello {{ name }}")
    v2 = push_approved(registry.service, "Hi {{ name }}!")
    publish(registry.service, v1)
    publish(registry.service, v1, v2, percent=30, guards=guards)
    keys = [f"k{i}" for i in range(200)]
    canary_keys = [k for k in keys if canary_pick(PROMPT, "production", k, 30)]
    stable_keys = [k for k in keys if k not in canary_keys]
    with RegistryClient(registry.url, registry.tokens["shop"]) as app:
        for k in keys:
            app.resolve(PROMPT, key=k)
    return v1, v2, canary_keys, stable_keys


GUARDS = CanaryGuards(min_calls=20, max_error_rate=0.1, max_p95_ratio=2.0)


def test_a_canary_crossing_its_error_guard_is_rolled_back(registry: RunningRegistry) -> None:
    v1, v2, canary_keys, stable_keys = _canary_setup(registry, GUARDS)
    sender = Sender(registry.url, registry.tokens["shop"])
    try:
        for k in stable_keys[:30]:
            sender.call({"workbench.caller_key": k})
        for i, k in enumerate(canary_keys[:19]):
            sender.call({"workbench.caller_key": k}, error=i % 2 == 0)
        # 19 canary calls: below min_calls, nothing judged yet
        assert registry.service.label(PROMPT, "production").target.canary is not None
        sender.call({"workbench.caller_key": canary_keys[19]}, error=True)  # the 20th
    finally:
        sender.close()
    state = registry.service.label(PROMPT, "production")
    assert state.target == LabelTarget(version_id=v1.id)
    assert state.halted is not None
    assert state.halted.canary_version_id == v2.id and state.halted.canary_number == 2
    assert "error rate 55.0%" in state.halted.reason
    assert state.halted.evidence["canary_calls"] == 20
    assert state.halted.evidence["canary_errors"] == 11
    assert state.halted.evidence["stable_calls"] == 30
    assert state.updated_by == "registry"
    with registry.client("root") as root:
        (entry,) = [e for e in root.audit().entries if e.action == "label.canary_halt"]
        assert entry.detail["evidence"] == state.halted.evidence
        assert root.verify_audit().ok
        resolved, _ = root.resolve(PROMPT, key=canary_keys[0])
        assert resolved is not None and resolved.version.id == v1.id  # the canary is off
        assert resolved.state.halted == state.halted


def test_a_healthy_canary_is_not_rolled_back(registry: RunningRegistry) -> None:
    _v1, v2, canary_keys, stable_keys = _canary_setup(registry, GUARDS)
    sender = Sender(registry.url, registry.tokens["shop"])
    try:
        for k in stable_keys[:40]:
            sender.call({"workbench.caller_key": k}, error=k == stable_keys[0])
        for i, k in enumerate(canary_keys[:40]):
            sender.call({"workbench.caller_key": k}, latency_ms=900.0, error=i == 5)
    finally:
        sender.close()
    state = registry.service.label(PROMPT, "production")
    assert state.target.canary is not None and state.target.canary.version_id == v2.id
    assert state.target.canary.guards == GUARDS
    assert state.halted is None
    stats = registry.service.telemetry.stats(
        PROMPT, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    )
    by_version = {r.version: r for r in stats.rows}
    assert by_version[2].calls == 40 and by_version[2].errors == 1
    assert by_version[1].calls == 40 and by_version[1].errors == 1


def test_a_canary_slower_than_its_ratio_to_stable_is_halted_and_a_new_move_clears_it(
    registry: RunningRegistry,
) -> None:
    v1, v2, canary_keys, stable_keys = _canary_setup(registry, GUARDS)
    sender = Sender(registry.url, registry.tokens["shop"])
    try:
        for k in stable_keys[:25]:
            sender.call({"workbench.caller_key": k}, latency_ms=700.0)
        for k in canary_keys[:25]:
            sender.call({"workbench.caller_key": k}, latency_ms=2500.0)
    finally:
        sender.close()
    state = registry.service.label(PROMPT, "production")
    assert state.target.canary is None and state.halted is not None
    assert "p95 latency" in state.halted.reason and "2x the stable" in state.halted.reason
    evidence = state.halted.evidence
    assert evidence["canary_calls"] == GUARDS.min_calls  # halted at the first call judged
    assert evidence["stable_calls"] == 25
    # The publisher tries again: the halt record goes with the move.
    publish(registry.service, v1, v2, percent=10, guards=GUARDS)
    assert registry.service.label(PROMPT, "production").halted is None


def test_concurrent_exports_add_up_in_the_rollups(registry: RunningRegistry) -> None:
    """Several requests at once into the same rollup rows (upserts that add): nothing
    lost, on SQLite's single writer and PostgreSQL's concurrent transactions alike."""
    import threading

    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    headers = {"Authorization": f"Bearer {registry.tokens['shop']}"}

    def body(thread: int, request: int) -> dict[str, Any]:
        spans = [
            {
                "traceId": f"{thread:08x}{request:08x}{i + 1:016x}",  # never all zeros
                "spanId": f"{i + 1:016x}",
                "name": "chat",
                "startTimeUnixNano": str(now_ns),
                "endTimeUnixNano": str(now_ns + 250_000_000),
                "attributes": [
                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                    {"key": "workbench.prompt.name", "value": {"stringValue": PROMPT}},
                    {"key": "workbench.prompt.version", "value": {"intValue": "1"}},
                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "3"}},
                ],
            }
            for i in range(25)
        ]
        return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}

    failures: list[str] = []

    def send(thread: int) -> None:
        with httpx.Client(base_url=registry.url, headers=headers, timeout=30) as http:
            for request in range(6):
                r = http.post("/v1/traces", json=body(thread, request))
                if r.status_code != 200:
                    failures.append(r.text)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    stats = registry.service.telemetry.stats(
        PROMPT, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    )
    (row,) = stats.rows
    assert row.calls == len(spans(registry)) == 4 * 6 * 25
    assert row.output_tokens == 3 * row.calls


def test_retention_prunes_raw_spans_and_keeps_the_rollups(registry: RunningRegistry) -> None:
    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    sender = Sender(registry.url, registry.tokens["shop"])
    old = datetime.now(UTC) - timedelta(days=40)
    try:
        for _ in range(3):
            sender.call({"workbench.prompt.name": PROMPT, "workbench.prompt.version": 1}, at=old)
        sender.call({"workbench.prompt.name": PROMPT, "workbench.prompt.version": 1})
    finally:
        sender.close()
    # The app's own retention thread may have pruned first (it runs one flush interval
    # after start, and the sends can take longer on a loaded machine): between it and
    # this call, the three 40-day-old spans are gone (the 30-day default) and only they.
    registry.service.telemetry.prune()
    assert len(spans(registry)) == 1
    stats = registry.service.telemetry.stats(
        PROMPT, old - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    )
    assert sum(r.calls for r in stats.rows) == 4  # the rollups still count them


def test_percentiles_from_the_buckets_are_close_to_the_exact_ones() -> None:
    import random

    from workbench.registry.server.histogram import BUCKETS, bucket_of, percentile

    rng = random.Random(3)
    values = [rng.lognormvariate(6.5, 0.8) for _ in range(5000)]
    counts = [0] * BUCKETS
    for v in values:
        counts[bucket_of(v)] += 1
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * len(ordered)) - 1]
        estimate = percentile(counts, q)
        assert estimate is not None and abs(estimate - exact) / exact < 0.12, (q, exact, estimate)
    assert percentile([0] * BUCKETS, 0.5) is None
    assert bucket_of(0.5) == 0 and bucket_of(10**6) == BUCKETS - 1


def test_an_app_token_scoped_to_some_prompts_is_refused_the_others(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli.main import main

    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    other = make_version(prompt="billing/refund", text="Refund {{ name }}")
    registry.service.push_version(
        ALICE,
        VersionPush(
            id=other.id, prompt=other.prompt, content=other.content,
            content_hash=other.content_hash, created_at=other.created_at,
        ),
    )  # fmt: skip
    url = registry.settings.db_url
    code = main(["registry", "user", "add", "kiosk", "--role", "app", "--prompts",
                 "support/", "--db", url, "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    token = json.loads(out)["token"]
    assert main(["registry", "user", "add", "eve", "--role", "author", "--prompts", "x",
                 "--db", url]) == 2  # fmt: skip
    assert "app tokens only" in capsys.readouterr().err

    with RegistryClient(registry.url, token) as kiosk:
        assert kiosk.resolve(PROMPT)[0] is not None  # under support/
        assert [p.name for p in kiosk.prompts()] == [PROMPT]
        for read in (
            lambda: kiosk.resolve("billing/refund", label="latest"),
            lambda: kiosk.prompt("billing/refund"),
            lambda: kiosk.versions("billing/refund"),
            lambda: kiosk.version(other.id),
            lambda: kiosk.prod_stats("billing/refund"),
        ):
            with pytest.raises(PermissionDeniedError, match="may read only support/"):
                read()
        r = httpx.get(f"{registry.url}/api/public/v2/prompts/billing/refund", auth=("kiosk", token))
        assert r.status_code == 403
        listed = httpx.get(f"{registry.url}/api/public/v2/prompts", auth=("kiosk", token))
        assert [p["name"] for p in listed.json()["data"]] == [PROMPT]
        assert listed.json()["meta"]["totalItems"] == 1
    # Spans naming a prompt outside the scope are kept unlinked, like an unknown prompt.
    sender = Sender(registry.url, token)
    try:
        outside = sender.call({"workbench.prompt.name": "billing/refund",
                               "workbench.prompt.version": 1})  # fmt: skip
        inside = sender.call({"workbench.prompt.name": PROMPT, "workbench.prompt.version": 1})
    finally:
        sender.close()
    stored = {s.trace_id: s for s in spans(registry)}
    assert stored[outside].prompt is None and stored[outside].version_id is None
    assert stored[inside].version_id == v1.id

    assert main(["registry", "user", "scope", "kiosk", "--all", "--db", url]) == 0
    capsys.readouterr()
    with RegistryClient(registry.url, token) as kiosk:
        assert kiosk.prompt("billing/refund").name == "billing/refund"


def test_odd_attribute_values_are_stored_sanely_never_a_500(registry: RunningRegistry) -> None:
    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)

    def attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"key": key, "value": value}

    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "startTimeUnixNano": "2000",
        "endTimeUnixNano": "1000",  # ends before it starts: no latency
        "attributes": [
            attr("gen_ai.request.model", {"stringValue": "m\x00odel"}),
            attr("workbench.prompt.name", {"stringValue": PROMPT}),
            attr("workbench.prompt.version", {"stringValue": "draft3"}),
            attr("workbench.prompt.label", {"stringValue": "x" * 500}),
            attr("gen_ai.usage.input_tokens", {"intValue": "-5"}),
            attr("gen_ai.usage.output_tokens", {"doubleValue": 1e300}),
            attr("workbench.cost_usd", {"stringValue": "not a number"}),
            attr("gen_ai.response.finish_reasons", {"arrayValue": {"values": [{"intValue": "3"}]}}),
            attr("workbench.caller_key", {"kvlistValue": {"values": []}}),
            attr("gen_ai.provider.name", {"bytesValue": "AAEC"}),
            attr("langfuse.observation.completion_start_time", {"stringValue": "yesterday"}),
        ],
    }
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    r = httpx.post(
        f"{registry.url}/v1/traces",
        json=body,
        headers={"Authorization": f"Bearer {registry.tokens['shop']}"},
    )
    assert r.status_code == 200, r.text
    (row,) = spans(registry)
    assert row.request_model == "model"  # NUL removed: PostgreSQL stores it too
    assert row.prompt == PROMPT and row.version_id is None  # no such version: unlinked
    assert row.label is not None and len(row.label) == 64
    assert (row.input_tokens, row.output_tokens, row.cost_usd) == (None, None, None)
    assert (row.latency_ms, row.ttft_ms, row.caller_key, row.provider) == (None, None, None, None)
    assert row.finish_reasons == "3"
    assert "not linked" in r.json()["partialSuccess"]["errorMessage"]


def test_spans_without_a_cost_are_priced_from_their_tokens_at_list_prices(
    registry: RunningRegistry,
) -> None:
    """A production app rarely sends a cost: the registry prices the span's tokens with
    genai-prices (the workbench's own price source); a stated cost is kept; a model
    genai-prices does not know stays unpriced, never $0."""
    from genai_prices import Usage, calc_price

    v1 = push_approved(registry.service, "Hello {{ name }}")
    publish(registry.service, v1)
    attrs = {"langfuse.observation.prompt.name": PROMPT, "langfuse.observation.prompt.version": 1}
    sender = Sender(registry.url, registry.tokens["shop"])
    try:
        listed = sender.call(attrs)
        stated = sender.call({**attrs, "gen_ai.usage.cost": 0.5})
        unknown = sender.call({**attrs, "gen_ai.response.model": "house-model-7"})
    finally:
        sender.close()
    stored = {s.trace_id: s for s in spans(registry)}
    expected = float(
        calc_price(
            Usage(input_tokens=120, output_tokens=40),
            model_ref="gpt-4o-mini-2024-07-18",
            provider_id="openai",
        ).total_price
    )
    assert stored[listed].cost_usd == pytest.approx(expected) and expected > 0
    assert stored[stated].cost_usd == pytest.approx(0.5)
    assert stored[unknown].cost_usd is None
    with registry.client("alice") as alice:
        [row] = alice.prod_stats(PROMPT).rows
    assert row.calls == 3 and row.unpriced == 1
    assert row.cost_usd == pytest.approx(expected + 0.5)
