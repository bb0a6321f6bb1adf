"""Prometheus metrics, in a registry per app (two apps in one test process do not share
counters). Label values come from closed sets or are bounded: a client chooses its
operation names, and must not be able to grow the gateway's memory with them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from app.downstream.breaker import BreakerState

MetricT = TypeVar("MetricT", Counter, Histogram)


class Children(Generic[MetricT]):
    """`metric.labels(*values)`, remembered per label values: prometheus_client checks the
    values and looks the child up under a lock on every call (about 4 us here; a dashboard
    asks 14 times). The values come from the same bounded sets as the metric's own
    children, and nothing removes a child from these metrics."""

    def __init__(self, metric: MetricT) -> None:
        self._metric: MetricT = metric
        self._children: dict[tuple[str, ...], MetricT] = {}

    def __call__(self, *values: str) -> MetricT:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_LABELS = 200
_BREAKER_LEVEL = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
# Seconds: the dashboard's budget is 10 s; the interesting part is well below one.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._operations: set[str] = set()
        self.requests = Counter(
            "gateway_requests",
            "GraphQL requests by operation name and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "gateway_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name.",
            ["operation"],
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.downstream_calls = Counter(
            "gateway_downstream_calls",
            "HTTP exchanges with downstream services, by service, method, route, status "
            "('none' when no answer came) and outcome.",
            ["service", "method", "route", "status", "outcome"],
            registry=self.registry,
        )
        self.downstream_seconds = Histogram(
            "gateway_downstream_call_duration_seconds",
            "Duration of one HTTP exchange with a downstream service.",
            ["service", "method"],
            buckets=_CALL_BUCKETS,
            registry=self.registry,
        )
        self.downstream_retries = Counter(
            "gateway_downstream_retries",
            "Requests resent by the client boundary, by service and the failure that caused it.",
            ["service", "reason"],
            registry=self.registry,
        )
        self.breaker_transitions = Counter(
            "gateway_circuit_breaker_transitions",
            "Circuit breaker state changes, by service and the state entered.",
            ["service", "state"],
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "gateway_circuit_breaker_state",
            "Circuit breaker state per service: 0 closed, 1 half-open, 2 open.",
            ["service"],
            registry=self.registry,
        )
        self.requests_by = Children(self.requests)
        self.request_seconds_by = Children(self.request_seconds)
        self.downstream_calls_by = Children(self.downstream_calls)
        self.downstream_seconds_by = Children(self.downstream_seconds)
        self.idempotency = Counter(
            "gateway_idempotency_outcomes",
            "Idempotency key claims by outcome: new, replay, reused (conflict), in_use.",
            ["outcome"],
            registry=self.registry,
        )

        self.pending_payments = Gauge(
            "gateway_pending_payments",
            "Pending payments the gateway took and watches until they settle, by service.",
            ["service"],
            registry=self.registry,
        )
        self.pending_payment_oldest_age = Gauge(
            "gateway_pending_payment_oldest_age_seconds",
            "Age of the oldest pending payment the gateway watches, by service (0 when none).",
            ["service"],
            registry=self.registry,
        )
        self.settlements = Counter(
            "gateway_settlements",
            "Watched pending payments that ended, by outcome: recorded, failed, refunded.",
            ["outcome"],
            registry=self.registry,
        )
        self.reconcile_drift = Gauge(
            "gateway_reconcile_drift",
            "Drift the last reconciliation found, by kind (python -m app reconcile).",
            ["kind"],
            registry=self.registry,
        )
        # Domain events (app/events): the backlog is reported only with a broker
        # configured (AMQP_URL); without one nothing publishes, by design.
        self.events_backlog = Gauge(
            "gateway_events_backlog",
            "Domain events recorded and not yet confirmed by the broker.",
            registry=self.registry,
        )
        self.events_oldest_unpublished_age = Gauge(
            "gateway_events_oldest_unpublished_age_seconds",
            "Age of the oldest domain event not yet confirmed by the broker (0 when none).",
            registry=self.registry,
        )
        self.compiled_fallbacks = Counter(
            "gateway_compiled_fallbacks",
            "Operations executed by graphql-core's executor instead of a compiled plan, "
            "by reason (app/schema/compiled/reasons.py: a closed set).",
            ["reason"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "gateway_events_published",
            "Domain events the broker confirmed (a retried event counts again).",
            registry=self.registry,
        )
        self.events_publish_failures = Counter(
            "gateway_events_publish_failures",
            "Domain events whose publication failed (not confirmed); each is retried.",
            registry=self.registry,
        )
        # Data residency (app/residency): one database per region, checked by /readyz.
        self.region_database_up = Gauge(
            "gateway_region_database_up",
            "Whether a region's database of money records answered the last readiness "
            "check (1) or not (0), by region (GB, IN, or GB+IN when they share one).",
            ["region"],
            registry=self.registry,
        )

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _OPERATION_NAME.fullmatch(name):
            return "invalid"
        if name in self._operations:
            return name
        if len(self._operations) >= MAX_OPERATION_LABELS:
            return "other"
        self._operations.add(name)
        return name

    def watch_breakers(self, states: Mapping[str, Callable[[], BreakerState]]) -> None:
        # Read at scrape time: an open circuit whose wait is over shows as half-open
        # without a call having to pass first.
        for service, state in states.items():
            self.breaker_state.labels(service).set_function(partial(_level, state))

    def watch_rate_limits(
        self,
        rejected: Mapping[str, int],
        backend_failures: Mapping[str, int],
    ) -> None:
        """The limiters keep their own counters (they run before a request exists);
        they are read at scrape time."""
        self.registry.register(_RateLimitCollector(rejected, backend_failures))

    def idempotency_claimed(self, outcome: str) -> None:
        self.idempotency.labels(outcome).inc()

    def breaker_changed(self, service: str, state: BreakerState) -> None:
        self.breaker_transitions.labels(service, state.value).inc()


def _level(state: Callable[[], BreakerState]) -> float:
    return _BREAKER_LEVEL[state()]


class _RateLimitCollector(Collector):
    def __init__(self, rejected: Mapping[str, int], backend_failures: Mapping[str, int]) -> None:
        self._rejected = rejected
        self._backend_failures = backend_failures

    def collect(self) -> Iterator[CounterMetricFamily]:
        rejected = CounterMetricFamily(
            "gateway_rate_limit_rejections",
            "Requests refused with 429, by limiter (principal or address).",
            labels=["limiter"],
        )
        for limiter, count in sorted(self._rejected.items()):
            rejected.add_metric([limiter], count)
        failures = CounterMetricFamily(
            "gateway_rate_limit_backend_failures",
            "Failed calls to the shared rate-limit store (Redis), by limiter; the gateway "
            "falls back to in-process buckets meanwhile.",
            labels=["limiter"],
        )
        for limiter, count in sorted(self._backend_failures.items()):
            failures.add_metric([limiter], count)
        yield rejected
        yield failures
