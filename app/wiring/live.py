"""Live updates' lifetime: the process's event hub and the one background task that
feeds it, started after the resources open and stopped before they close.

The feed is the broker when AMQP_URL is set (app/subscriptions/amqp_feed.py: this
process's own queue, so events caused on any replica reach subscribers here), else the
domain_events table of each region (app/residency/), polled (app/subscriptions/
table_feed.py: within one process, or several sharing the databases); each region has its
own poller, so one region's database being down delays none of the other's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from app.auth.principal import Principal
from app.core.deadline import Deadline
from app.downstream.invoicing import InvoicingClient, InvoicingWrites
from app.downstream.payments import PaymentsClient, PaymentsWrites
from app.downstream.service import CallMeta, ServiceClient
from app.mutations.service import MutationService
from app.reads.loaders import Loaders
from app.reads.service import ReadService
from app.subscriptions.amqp_feed import AmqpFeed
from app.subscriptions.hub import Hub
from app.subscriptions.table_feed import EventSource, TablePoller
from app.subscriptions.table_source import DomainEventsTable
from app.telemetry.subscriptions import SubscriptionMetrics
from app.wiring.resources import Resources

logger = logging.getLogger(__name__)
SourceFactory = Callable[[Resources], Sequence[EventSource]]


@dataclass(frozen=True, slots=True)
class Live:
    hub: Hub
    metrics: SubscriptionMetrics
    feeds: tuple[AmqpFeed | TablePoller, ...]

    @property
    def feed(self) -> AmqpFeed | TablePoller | None:
        """The first feed (the broker's, when there is one)."""
        return self.feeds[0] if self.feeds else None


class LiveHolder:
    """Lets routes built before start-up reach the hub the lifespan opened."""

    def __init__(self) -> None:
        self._live: Live | None = None

    @property
    def live(self) -> Live:
        if self._live is None:
            raise RuntimeError("the application has not started (lifespan not run)")
        return self._live

    def set(self, live: Live | None) -> None:
        self._live = live


def domain_events_table(resources: Resources) -> Sequence[EventSource]:
    return [DomainEventsTable(region.engine) for region in resources.regions.all]


@contextlib.asynccontextmanager
async def running_live(
    resources: Resources, table_source: SourceFactory = domain_events_table
) -> AsyncIterator[Live]:
    metrics = SubscriptionMetrics(resources.metrics.registry)
    hub = Hub(metrics)
    amqp_url = resources.settings.amqp_url
    feeds: list[AmqpFeed | TablePoller] = []
    if amqp_url:
        feeds.append(AmqpFeed(amqp_url, hub))
    else:
        for source in table_source(resources):
            poller = TablePoller(source, hub)
            try:
                # Where to start, before the app serves: an event its first requests
                # cause is after it. Failing here, the first poll tries again.
                await poller.start()
            except Exception:  # noqa: BLE001 - start-up must not fail for a feed: the first poll retries
                logger.exception("reading the end of domain_events failed")
            feeds.append(poller)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(feed.run_forever(stop), name=f"event-feed-{n}")
        for n, feed in enumerate(feeds)
    ]
    try:
        yield Live(hub, metrics, tuple(feeds))
    finally:
        stop.set()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()


def reads_for_events(
    resources: Resources, principal: Principal, request_id: str
) -> Callable[[], ReadService]:
    """A new read service per delivered event: its own loaders (nothing cached from an
    earlier event) and its own deadline (the subscription outlives any one)."""

    def make() -> ReadService:
        meta = CallMeta(
            request_id=request_id,
            actor_id=principal.subject,
            deadline=Deadline(resources.settings.request_timeout_seconds),
        )
        invoicing = InvoicingClient(ServiceClient(resources.invoicing, meta))
        payments = PaymentsClient(ServiceClient(resources.payments, meta))
        return ReadService(
            principal, Loaders(invoicing, payments), invoicing, payments, resources.today
        )

    return make


def mutations_for_events(
    resources: Resources, principal: Principal, request_id: str
) -> Callable[[ReadService], MutationService]:
    """A mutation service per look at a key (mutationOutcome): it only reads there (the
    key's progress, the invoice as it stands), with a deadline of its own."""

    def make(reads: ReadService) -> MutationService:
        meta = CallMeta(
            request_id=request_id,
            actor_id=principal.subject,
            deadline=Deadline(resources.settings.request_timeout_seconds),
        )
        return MutationService(
            principal,
            reads,
            resources.regions,
            resources.jurisdictions,
            InvoicingWrites(ServiceClient(resources.invoicing, meta)),
            PaymentsWrites(ServiceClient(resources.payments, meta)),
            relay_grace=timedelta(seconds=resources.settings.relay_grace_seconds),
            first_settlement_check=timedelta(seconds=resources.settings.settlement_poll_seconds),
        )

    return make
