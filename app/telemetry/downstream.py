"""The client boundary's observer: metrics and, when tracing is on, a client span per
HTTP exchange whose traceparent the downstream request carries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.downstream.observe import AttemptWatch
from app.telemetry.metrics import Metrics
from app.telemetry.tracing import Tracing, traceparent_of


@dataclass(slots=True)
class _Attempt:
    metrics: Metrics
    service: str
    method: str
    route: str
    span: Span | None
    traceparent: str | None
    started: float = field(default_factory=time.perf_counter)

    def finish(self, outcome: str, status: int | None) -> None:
        seconds = time.perf_counter() - self.started
        status_label = str(status) if status is not None else "none"
        self.metrics.downstream_calls_by(
            self.service, self.method, self.route, status_label, outcome
        ).inc()
        self.metrics.downstream_seconds_by(self.service, self.method).observe(seconds)
        if self.span is not None:
            if status is not None:
                self.span.set_attribute("http.response.status_code", status)
            self.span.set_attribute("gateway.outcome", outcome)
            if outcome not in ("ok", "rejected"):
                self.span.set_status(Status(StatusCode.ERROR, outcome))
            self.span.end()


class DownstreamTelemetry:
    def __init__(self, metrics: Metrics, tracing: Tracing | None) -> None:
        self._metrics = metrics
        self._tracing = tracing

    def start_attempt(
        self, service: str, method: str, route: str, attempt: int, traceparent: str | None
    ) -> AttemptWatch:
        if self._tracing is None:
            return _Attempt(self._metrics, service, method, route, None, traceparent)
        span = self._tracing.start(f"{method} {route}", SpanKind.CLIENT, traceparent)
        span.set_attribute("http.request.method", method)
        span.set_attribute("url.template", route)
        span.set_attribute("server.name", service)
        if attempt > 1:
            # OpenTelemetry's semantic convention for a resent request.
            span.set_attribute("http.request.resend_count", attempt - 1)
        return _Attempt(self._metrics, service, method, route, span, traceparent_of(span))

    def retry_scheduled(self, service: str, reason: str, wait_seconds: float) -> None:
        self._metrics.downstream_retries.labels(service, reason).inc()
