"""What one GraphQL request leaves behind for operators: a log line, metrics and (with
tracing on) its server span. Never the document, variables, tokens or personal data:
the principal appears only as its `sub`, an opaque identifier."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.downstream.observe import CallTally
from app.telemetry.metrics import Metrics
from app.telemetry.tracing import Tracing, traceparent_of

logger = logging.getLogger("gateway.requests")
_MAX_LOGGED_NAME = 64
# nginx's status for a request whose client went away before the answer: logged and
# counted, never sent.
CLIENT_CLOSED_REQUEST = 499


@dataclass(slots=True)
class RequestRecord:
    """Filled in while the request runs: by the client boundary (tally), by the error
    policy (operation and error codes) and by the endpoint (outcome)."""

    request_id: str
    tally: CallTally = field(default_factory=CallTally)
    operation_name: str | None = None
    operation_type: str | None = None
    error_codes: list[str] = field(default_factory=list)
    has_data: bool = True
    started: float = field(default_factory=time.perf_counter)
    span: Span | None = None
    traceparent: str | None = None
    subject: str | None = None

    def outcome(self, status: int) -> str:
        if status == CLIENT_CLOSED_REQUEST:
            return "cancelled"
        if status == 401:
            return "unauthenticated"
        if status == 429:
            return "rate_limited"
        if status >= 500:
            return "unavailable"
        if status >= 400:
            return "bad_request"
        if not self.error_codes:
            return "ok"
        return "partial" if self.has_data else "error"


def start_request(request_id: str, tracing: Tracing | None, incoming: str | None) -> RequestRecord:
    record = RequestRecord(request_id=request_id, traceparent=incoming)
    if tracing is not None:
        record.span = tracing.start("graphql", SpanKind.SERVER, incoming)
        record.span.set_attribute("gateway.request_id", request_id)
        record.traceparent = traceparent_of(record.span)
    return record


def finish_request(record: RequestRecord, metrics: Metrics, status: int) -> None:
    seconds = time.perf_counter() - record.started
    outcome = record.outcome(status)
    operation = metrics.operation_label(record.operation_name)
    metrics.requests_by(operation, outcome).inc()
    metrics.request_seconds_by(operation).observe(seconds)
    logger.info(
        "graphql request",
        extra={
            "request_id": record.request_id,
            "operation": (record.operation_name or "")[:_MAX_LOGGED_NAME] or None,
            "operation_type": record.operation_type,
            "sub": record.subject,
            "status": status,
            "outcome": outcome,
            "error_codes": sorted(set(record.error_codes)),
            "duration_ms": round(seconds * 1000, 2),
            "downstream_attempts": record.tally.attempts,
            "downstream_retries": record.tally.retries,
            "downstream_failures": record.tally.failures,
            "downstream_joined": record.tally.joined,
        },
    )
    if record.span is not None:
        span = record.span
        if record.operation_name:
            span.update_name(f"graphql {operation}")
        span.set_attribute("graphql.operation.name", operation)
        if record.operation_type:
            span.set_attribute("graphql.operation.type", record.operation_type)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("gateway.outcome", outcome)
        if outcome not in ("ok", "partial"):
            span.set_status(Status(StatusCode.ERROR, outcome))
        span.end()
