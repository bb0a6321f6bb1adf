"""Subscription metrics, registered on the app's registry (app/telemetry/metrics.py) but
kept here: the live-updates code is their only writer. Label values are closed sets
(TRANSPORTS, DROP_REASONS), so a client cannot grow them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

TRANSPORTS = ("websocket", "sse")
# slow_consumer: the subscriber's queue was full, its stream was closed and its backlog
# discarded; not_visible: the event's object was not the subscriber's to see (gone,
# another business's, or a type the token's scopes do not reach) at delivery time.
DROP_REASONS = ("slow_consumer", "not_visible")


class SubscriptionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.open = Gauge(
            "gateway_subscriptions_open",
            "GraphQL subscriptions open in this process, by transport (websocket, sse).",
            ["transport"],
            registry=registry,
        )
        self.delivered = Counter(
            "gateway_subscription_events_delivered",
            "Domain events delivered to a subscriber (one per subscriber).",
            registry=registry,
        )
        self.dropped = Counter(
            "gateway_subscription_events_dropped",
            "Domain events not delivered to a subscriber by policy, by reason: "
            "slow_consumer (its queue overflowed), not_visible (not the caller's to see).",
            ["reason"],
            registry=registry,
        )
        # Every series exists from the start, so a dashboard's rate() has a zero to begin at.
        for transport in TRANSPORTS:
            self.open.labels(transport)
        for reason in DROP_REASONS:
            self.dropped.labels(reason)

    def opened(self, transport: str) -> None:
        self.open.labels(transport).inc()

    def closed(self, transport: str) -> None:
        self.open.labels(transport).dec()

    def delivered_one(self) -> None:
        self.delivered.inc()

    def dropped_some(self, reason: str, count: int = 1) -> None:
        if count > 0:
            self.dropped.labels(reason).inc(count)
