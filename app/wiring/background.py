"""Background work the app owns for its lifetime: the outbox relay (which also purges
expired idempotency keys), the settler (pending payments seen through to their end),
when AMQP_URL is set the event relay (domain events to the broker), and, when
RECONCILE_INTERVAL_SECONDS > 0, the periodic reconciliation. Each region (app/residency/:
one database of money records) gets its own set, working on its own rows only, so that
one region's database being down stalls none of the other's. Started after the resources
open, stopped before they close."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.core.deadline import Deadline
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsClient, PaymentsWrites
from app.downstream.service import CallMeta, ServiceClient
from app.events.publisher import AmqpPublisher
from app.events.relay import EventRelay, RelayReport
from app.events.store import Backlog
from app.mutations.pay_invoice import PayInvoiceSaga
from app.mutations.relay import Relay
from app.reconcile.drift import Kind
from app.reconcile.periodic import DriftReport, PeriodicReconciler
from app.reconcile.reader import Sources
from app.reconcile.runner import Reconciler
from app.residency.regions import Region
from app.settlement.pace import Pace
from app.settlement.settler import SettlementPolicy, SettlementReport, Settler, Writers
from app.settlement.store import WatchStats
from app.telemetry.metrics import Metrics
from app.wiring.resources import Resources

# A background round's downstream calls get this long: it answers nobody, but must not hang.
RELAY_BUDGET_SECONDS = 20.0


def _meta(actor_id: str | None, prefix: str) -> CallMeta:
    return CallMeta(
        request_id=f"{prefix}-{uuid.uuid4().hex}",
        actor_id=actor_id,
        deadline=Deadline(RELAY_BUDGET_SECONDS),
    )


def build_relay(resources: Resources, region: Region) -> Relay:
    settings = resources.settings

    def saga_for_actor(actor_id: str) -> PayInvoiceSaga:
        meta = _meta(actor_id, "relay")
        return PayInvoiceSaga(
            region.idempotency,
            region.outbox,
            InvoicingWrites(ServiceClient(resources.invoicing, meta)),
            PaymentsWrites(ServiceClient(resources.payments, meta)),
            region.watch,
            relay_grace=timedelta(seconds=settings.relay_grace_seconds),
            first_settlement_check=timedelta(seconds=settings.settlement_poll_seconds),
        )

    return Relay(
        region.idempotency,
        region.outbox,
        saga_for_actor,
        interval_seconds=settings.relay_interval_seconds,
    )


@dataclass(frozen=True, slots=True)
class RegionGauges:
    """Each region's workers report their own numbers; a gauge shows them all at once
    (summed, or the oldest), so a second region does not overwrite the first's."""

    latest: dict[tuple[str, str], float] = field(default_factory=dict)

    def report(self, what: str, region: str, value: float) -> list[float]:
        self.latest[(what, region)] = value
        return [v for (name, _), v in self.latest.items() if name == what]


@dataclass(frozen=True, slots=True)
class MetricsReport(SettlementReport):
    metrics: Metrics
    region: str = ""
    gauges: RegionGauges = field(default_factory=RegionGauges)

    def settled(self, outcome: str) -> None:
        self.metrics.settlements.labels(outcome).inc()

    def watching(self, stats: WatchStats, now: datetime) -> None:
        counts = self.gauges.report("open", self.region, stats.open_count)
        self.metrics.pending_payments.labels("payments").set(sum(counts))
        age = (now - stats.oldest_taken_at).total_seconds() if stats.oldest_taken_at else 0.0
        ages = self.gauges.report("age", self.region, max(0.0, age))
        self.metrics.pending_payment_oldest_age.labels("payments").set(max(ages))


def build_settler(
    resources: Resources, region: Region, gauges: RegionGauges | None = None
) -> Settler:
    settings = resources.settings
    gauges = gauges or RegionGauges()

    def reader() -> PaymentsClient:
        return PaymentsClient(ServiceClient(resources.payments, _meta(None, "settle")))

    def writers_for(actor_id: str) -> Writers:
        meta = _meta(actor_id, "settle")
        return Writers(
            InvoicingWrites(ServiceClient(resources.invoicing, meta)),
            PaymentsWrites(ServiceClient(resources.payments, meta)),
        )

    return Settler(
        region.watch,
        reader,
        writers_for,
        policy=SettlementPolicy(
            poll=timedelta(seconds=settings.settlement_poll_seconds),
            max_backoff=timedelta(seconds=settings.settlement_max_backoff_seconds),
            alert_after=timedelta(seconds=settings.pending_payment_alert_seconds),
        ),
        pace=Pace(settings.settlement_calls_per_second),
        report=MetricsReport(resources.metrics, region.name, gauges),
        interval_seconds=settings.settlement_interval_seconds,
    )


@dataclass(frozen=True, slots=True)
class MetricsRelayReport(RelayReport):
    metrics: Metrics
    region: str = ""
    gauges: RegionGauges = field(default_factory=RegionGauges)

    def published(self, count: int) -> None:
        self.metrics.events_published.inc(count)

    def failed(self, count: int) -> None:
        self.metrics.events_publish_failures.inc(count)

    def backlog(self, backlog: Backlog, now: datetime) -> None:
        self.metrics.events_backlog.set(
            sum(self.gauges.report("backlog", self.region, backlog.unpublished))
        )
        oldest = backlog.oldest_recorded_at
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        ages = self.gauges.report("event-age", self.region, max(0.0, age))
        self.metrics.events_oldest_unpublished_age.set(max(ages))


def build_event_relay(
    resources: Resources, region: Region, gauges: RegionGauges | None = None
) -> EventRelay | None:
    """None without AMQP_URL: events stay in the database (subscriptions read them
    there), nothing publishes, and the backlog is not reported (it would only grow)."""
    url = resources.settings.amqp_url
    if url is None:
        return None
    return EventRelay(
        region.events,
        AmqpPublisher(url),
        report=MetricsRelayReport(resources.metrics, region.name, gauges or RegionGauges()),
    )


@dataclass(frozen=True, slots=True)
class MetricsDriftReport(DriftReport):
    metrics: Metrics
    region: str = ""
    gauges: RegionGauges = field(default_factory=RegionGauges)

    def counted(self, tally: Mapping[Kind, int]) -> None:
        for kind, count in tally.items():
            self.metrics.reconcile_drift.labels(kind).set(
                sum(self.gauges.report(f"drift-{kind}", self.region, count))
            )


def build_reconciler(
    resources: Resources, region: Region, gauges: RegionGauges | None = None
) -> PeriodicReconciler | None:
    """None when RECONCILE_INTERVAL_SECONDS is 0 (off). The region's businesses: those
    in its payment_watch table."""
    settings = resources.settings
    if settings.reconcile_interval_seconds <= 0:
        return None
    reconciler = Reconciler(
        Sources(resources.invoicing, resources.payments),
        region.watch,
        pending_limit=timedelta(seconds=settings.pending_payment_alert_seconds),
    )
    return PeriodicReconciler(
        reconciler,
        region.watch,
        interval_seconds=settings.reconcile_interval_seconds,
        report=MetricsDriftReport(resources.metrics, region.name, gauges or RegionGauges()),
    )


@dataclass(frozen=True, slots=True)
class Background:
    """One region's workers."""

    region: Region
    relay: Relay
    settler: Settler
    reconciler: PeriodicReconciler | None = None
    events: EventRelay | None = None


def build_background(resources: Resources, region: Region, gauges: RegionGauges) -> Background:
    return Background(
        region,
        build_relay(resources, region),
        build_settler(resources, region, gauges),
        build_reconciler(resources, region, gauges),
        build_event_relay(resources, region, gauges),
    )


@contextlib.asynccontextmanager
async def running_background(resources: Resources) -> AsyncIterator[list[Background]]:
    gauges = RegionGauges()
    backgrounds = [build_background(resources, region, gauges) for region in resources.regions.all]
    stop = asyncio.Event()
    tasks = []
    for background in backgrounds:
        # Named by region when there are several, so a stuck task says whose it is.
        suffix = "" if len(backgrounds) == 1 else f"-{background.region.name}"
        workers: dict[str, Relay | Settler | EventRelay | PeriodicReconciler | None] = {
            "outbox-relay": background.relay,
            "settler": background.settler,
            "event-relay": background.events,
            "reconciler": background.reconciler,
        }
        tasks += [
            asyncio.create_task(worker.run_forever(stop), name=name + suffix)
            for name, worker in workers.items()
            if worker is not None
        ]
    try:
        yield backgrounds
    finally:
        stop.set()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()
