"""What operators see: one JSON log line per request (no tokens, no personal data),
Prometheus metrics behind a token in production, OpenTelemetry spans per downstream call
that join the caller's trace, and optional Sentry events without request data."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
import sentry_sdk
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from app.auth.principal import Role
from app.core.settings import load_settings
from app.telemetry.logs import REDACTED, JsonFormatter
from app.telemetry.sentry import start_error_reporting
from sandbox.seed import DEMO_BUSINESS_IDS, GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql
from tests.e2e.test_downstream_faults import inject

METRICS_TOKEN = "metrics-test-token"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
INCOMING = f"00-{TRACE_ID}-b7ad6b7169203331-01"
QUERY = (
    f'query Dashboard {{ business(id: "{GB_BUSINESS_ID}") {{ name '
    "balance { available { amount } } } }"
)


@pytest.fixture
def request_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def request_lines(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in records if r.name == "gateway.requests"]


async def scrape(gateway: httpx.AsyncClient) -> str:
    response = await gateway.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


# -- logs ------------------------------------------------------------------------------


async def test_each_request_leaves_one_json_line_without_the_token(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    downstreams: Downstreams,
    request_logs: pytest.LogCaptureFixture,
) -> None:
    # given a payments service that fails once (resent) and then answers
    gateway = await gateway_factory()
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject="usr_logline")
    await inject(downstreams, "payments", fail_next=1, fail_status=503)

    # when a named query runs
    response = await graphql(gateway, QUERY, token, headers={"X-Request-Id": "req-logline-1"})

    # then one line tells who, what, how long, how many downstream calls and how it ended
    assert response.status_code == 200
    (line,) = request_lines(request_logs.records)
    assert line["duration_ms"] > 0
    del line["duration_ms"], line["time"]
    assert line == {
        "level": "info",
        "logger": "gateway.requests",
        "message": "graphql request",
        "request_id": "req-logline-1",
        "operation": "Dashboard",
        "operation_type": "query",
        "sub": "usr_logline",
        "status": 200,
        "outcome": "ok",
        "error_codes": [],
        "downstream_attempts": 3,
        "downstream_retries": 1,
        "downstream_failures": 1,
        "downstream_joined": 0,
    }
    # and no log line of the whole request carries the token, in any form
    formatter = JsonFormatter()
    assert all(token not in formatter.format(record) for record in request_logs.records)


async def test_a_failed_field_is_a_partial_outcome_with_its_code(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    downstreams: Downstreams,
    request_logs: pytest.LogCaptureFixture,
) -> None:
    gateway = await gateway_factory()
    await inject(downstreams, "payments", fail_next=9, fail_status=500)

    await graphql(gateway, QUERY, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    (line,) = request_lines(request_logs.records)
    assert (line["outcome"], line["error_codes"]) == ("partial", ["DOWNSTREAM_UNAVAILABLE"])


async def test_an_unauthenticated_request_is_logged_without_a_subject(
    gateway: httpx.AsyncClient, request_logs: pytest.LogCaptureFixture
) -> None:
    await graphql(gateway, QUERY, "not-a-token")

    (line,) = request_lines(request_logs.records)
    assert (line["status"], line["outcome"], line["sub"]) == (401, "unauthenticated", None)


def test_the_formatter_redacts_tokens_wherever_they_appear() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLXBhcnQ"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "saw %s", (jwt,), None)
    record.__dict__.update(
        {
            "authorization": "Bearer abc.def",
            "detail": f"header was Bearer {jwt}",
            "nested": {"access_token": "opaque-secret", "ok": [jwt, 3]},
        }
    )

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == f"saw {REDACTED}"
    assert line["authorization"] == REDACTED
    assert line["detail"] == f"header was Bearer {REDACTED}"
    assert line["nested"] == {"access_token": REDACTED, "ok": [REDACTED, 3]}


# -- metrics ---------------------------------------------------------------------------


async def test_metrics_in_production_need_the_configured_token(
    gateway_factory: GatewayFactory,
) -> None:
    closed = await gateway_factory()
    assert (await closed.get("/metrics")).status_code == 404

    guarded = await gateway_factory(metrics_token=METRICS_TOKEN)
    assert (await guarded.get("/metrics")).status_code == 401
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "gateway_requests_total" in await scrape(guarded)


async def test_metrics_count_requests_by_operation_and_outcome(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(metrics_token=METRICS_TOKEN)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    await graphql(gateway, QUERY, token)
    await graphql(gateway, QUERY, token)
    await graphql(gateway, QUERY, None)

    text = await scrape(gateway)
    assert 'gateway_requests_total{operation="Dashboard",outcome="ok"} 2.0' in text
    assert 'gateway_requests_total{operation="anonymous",outcome="unauthenticated"} 1.0' in text
    assert 'gateway_request_duration_seconds_count{operation="Dashboard"} 2.0' in text
    assert 'gateway_circuit_breaker_state{service="payments"} 0.0' in text
    ok_balance = (
        'gateway_downstream_calls_total{method="GET",outcome="ok",'
        'route="/v1/balances",service="payments",status="200"} 2.0'
    )
    assert ok_balance in text


async def test_operation_names_cannot_grow_the_label_set_without_bound(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    from app.telemetry.metrics import MAX_OPERATION_LABELS, Metrics

    metrics = Metrics()
    names = {metrics.operation_label(f"Op{i}") for i in range(MAX_OPERATION_LABELS + 50)}

    assert len(names) == MAX_OPERATION_LABELS + 1
    assert "other" in names
    assert metrics.operation_label("Op3") == "Op3"
    assert metrics.operation_label("bad name!") == "invalid"
    assert metrics.operation_label(None) == "anonymous"


async def test_idempotency_replays_and_conflicts_are_counted(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(metrics_token=METRICS_TOKEN)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    mutation = (
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) "
        "{ customer { id } userErrors { code } replayed } }"
    )

    def customer(name: str) -> dict[str, Any]:
        return {
            "input": {
                "businessId": GB_BUSINESS_ID,
                "idempotencyKey": "metrics-key-1",
                "name": name,
                "email": "ada@example.com",
            }
        }

    await graphql(gateway, mutation, token, customer("Ada"))
    await graphql(gateway, mutation, token, customer("Ada"))
    await graphql(gateway, mutation, token, customer("Grace"))

    text = await scrape(gateway)
    for outcome in ("new", "replay", "reused"):
        assert f'gateway_idempotency_outcomes_total{{outcome="{outcome}"}} 1.0' in text


# -- traces ----------------------------------------------------------------------------


def spans_by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind == kind]


async def test_each_downstream_attempt_is_a_span_in_the_callers_trace(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # given tracing on, and a payments service that fails once
    exporter = InMemorySpanExporter()
    gateway = await gateway_factory(span_exporter=exporter)
    await inject(downstreams, "payments", fail_next=1, fail_status=502)

    # when a request arrives inside the caller's trace
    await graphql(
        gateway, QUERY, token_for([(GB_BUSINESS_ID, Role.OWNER)]), headers={"traceparent": INCOMING}
    )

    # then one server span joins the caller's trace, with a client span per attempt
    spans = exporter.get_finished_spans()
    (server,) = spans_by_kind(spans, SpanKind.SERVER)
    clients = spans_by_kind(spans, SpanKind.CLIENT)
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == INCOMING[36:52]
    assert server.name == "graphql Dashboard"
    assert sorted(span.name for span in clients) == [
        "GET /v1/balances",
        "GET /v1/balances",
        "GET /v1/businesses",
    ]
    assert all(
        span.parent is not None and span.parent.span_id == server.context.span_id
        for span in clients
    )
    resent = [
        span
        for span in clients
        if span.attributes and span.attributes.get("http.request.resend_count")
    ]
    assert len(resent) == 1
    # and each downstream request carried its own span as the parent for the service
    sent = [c["headers"]["traceparent"] for c in await downstreams.calls("payments")]
    client_ids = {format(span.context.span_id, "016x") for span in clients}
    assert {value.split("-")[2] for value in sent} <= client_ids
    assert all(value.split("-")[1] == TRACE_ID for value in sent)


async def test_without_an_exporter_nothing_is_traced_and_the_callers_parent_is_forwarded(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    await graphql(
        gateway,
        QUERY,
        token_for([(GB_BUSINESS_ID, Role.OWNER)]),
        headers={"traceparent": INCOMING},
    )

    sent = {c["headers"]["traceparent"] for c in await downstreams.calls("payments")}
    assert sent == {INCOMING}


# -- Sentry ----------------------------------------------------------------------------


class CapturingTransport(Transport):
    envelopes: ClassVar[list[Envelope]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        CapturingTransport.envelopes.append(envelope)


class ExplodingTransport(httpx.AsyncBaseTransport):
    """A service client failing in a way nobody planned for: not an httpx error."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"unplanned failure near {request.url}")


@pytest.fixture
def sentry() -> Iterator[list[Envelope]]:
    CapturingTransport.envelopes = []
    settings = load_settings(
        app_env="development", sentry_dsn="https://public@sentry.example/1", dev_data_dir="var"
    )
    assert start_error_reporting(settings, transport=CapturingTransport)
    yield CapturingTransport.envelopes
    sentry_sdk.get_client().close()
    # Back to the SDK's non-recording client: a plain init() would auto-enable its
    # integrations (Strawberry's among them) for every later test.
    sentry_sdk.get_global_scope().set_client(None)


async def test_an_unexpected_error_is_masked_and_reported_without_request_data(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    sentry: list[Envelope],
) -> None:
    gateway = await gateway_factory(transports={"invoicing": ExplodingTransport()})
    token = token_for([(DEMO_BUSINESS_IDS[0], Role.OWNER)])

    response = await graphql(gateway, QUERY, token, headers={"X-Request-Id": "req-sentry-0001"})

    assert response.json()["errors"] == [
        {
            "message": "Internal error. Reference: req-sentry-0001",
            "locations": [{"line": 1, "column": 19}],
            "path": ["business"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-sentry-0001"},
        }
    ]
    sentry_sdk.flush()
    events = [item.payload.json for env in sentry for item in env.items if item.type == "event"]
    assert len(events) == 1
    event: dict[str, Any] = events[0] or {}
    assert event["extra"]["request_id"] == "req-sentry-0001"
    assert "request" not in event or "headers" not in event["request"]
    assert token not in json.dumps(event)


def test_without_a_dsn_nothing_is_started() -> None:
    assert start_error_reporting(load_settings(app_env="development")) is False


async def test_rate_limit_refusals_are_counted_by_limiter(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    # given a budget of one request
    gateway = await gateway_factory(
        metrics_token=METRICS_TOKEN, rate_limit_capacity=1, rate_limit_refill_per_second=0.001
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    await graphql(gateway, "{ viewer { id } }", token)
    refused = await graphql(gateway, "{ viewer { id } }", token)

    assert refused.status_code == 429
    text = await scrape(gateway)
    assert 'gateway_rate_limit_rejections_total{limiter="principal"} 1.0' in text
    assert 'gateway_requests_total{operation="anonymous",outcome="rate_limited"} 1.0' in text
