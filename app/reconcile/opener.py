"""What `python -m app reconcile` opens: the resources the app would, for this work only.
The same settings (from the environment), the same databases (each region's, for its
payment_watch table: app/residency/), one pooled HTTP client per service with its breaker
and retry policy, and per region a settler built as the app builds it, for the repair.
The app itself hands its own resources to the reconciler (app/wiring/background.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx

from app.core.deadline import Deadline
from app.core.settings import Settings
from app.db import migrate
from app.db.engine import create_engine
from app.downstream.breaker import CircuitBreaker
from app.downstream.invoicing import InvoicingClient, InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.downstream.retry import RetryPolicy
from app.downstream.service import CallMeta, Channel, ServiceClient, build_http_client
from app.reconcile.reader import CALL_BUDGET_SECONDS, Sources
from app.residency.databases import group_by_url
from app.settlement.pace import Pace
from app.settlement.settler import SettlementPolicy, Settler, Writers
from app.settlement.store import WatchStore

# Test seam: tests hand in transports reaching in-process sandbox services.
Transports = Mapping[str, httpx.AsyncBaseTransport]


@dataclass(frozen=True, slots=True)
class RegionWatch:
    """One region's payment_watch table and the settler that repairs from it."""

    jurisdictions: tuple[str, ...]
    store: WatchStore
    settler: Settler


@dataclass(frozen=True, slots=True)
class Opened:
    settings: Settings
    regions: tuple[RegionWatch, ...]
    sources: Sources

    async def place(self, business_ids: list[str]) -> dict[RegionWatch, list[str]]:
        """Each named business with its jurisdiction's region (its country, read from
        the invoicing service when there are several); one the service does not know has
        no records anywhere and is reconciled with the first region."""
        if len(self.regions) == 1:
            return {self.regions[0]: business_ids}
        meta = CallMeta(
            request_id=f"reconcile-{uuid.uuid4().hex}", deadline=Deadline(CALL_BUDGET_SECONDS)
        )
        found = await InvoicingClient(ServiceClient(self.sources.invoicing, meta)).get_businesses(
            business_ids
        )
        country = {business.id: business.country for business in found}
        placed: dict[RegionWatch, list[str]] = {}
        for business_id in business_ids:
            region = next(
                (r for r in self.regions if country.get(business_id) in r.jurisdictions),
                self.regions[0],
            )
            placed.setdefault(region, []).append(business_id)
        return placed


@asynccontextmanager
async def open_for_reconcile(
    settings: Settings, transports: Transports | None = None
) -> AsyncIterator[Opened]:
    transports = transports or {}
    async with AsyncExitStack() as stack:
        stores = []
        for database_url, jurisdictions in group_by_url(settings.regional_database_urls()).items():
            engine = create_engine(database_url)
            stack.push_async_callback(engine.dispose)
            if settings.is_development:  # as the app does on start; production migrates first
                await migrate.upgrade(engine)
            stores.append((jurisdictions, WatchStore(engine)))
        channels: dict[str, Channel] = {}
        for name, url, token in (
            ("invoicing", settings.invoicing_url, settings.invoicing_token),
            ("payments", settings.payments_url, settings.payments_token),
        ):
            client = build_http_client(
                str(url),
                token.get_secret_value() if token is not None else "",
                transport=transports.get(name),
                timeout_seconds=settings.request_timeout_seconds,
            )
            channels[name] = Channel(
                name,
                await stack.enter_async_context(client),
                CircuitBreaker(
                    name,
                    failure_threshold=settings.breaker_failure_threshold,
                    open_seconds=settings.breaker_open_seconds,
                ),
                RetryPolicy(max_attempts=settings.downstream_max_attempts),
            )
        sources = Sources(channels["invoicing"], channels["payments"])
        regions = tuple(
            RegionWatch(jurisdictions, store, _settler(settings, store, sources))
            for jurisdictions, store in stores
        )
        yield Opened(settings, regions, sources)


def _settler(settings: Settings, store: WatchStore, sources: Sources) -> Settler:
    def writers_for(actor_id: str) -> Writers:
        # The settler's own writes: on behalf of the user who took the payment.
        meta = CallMeta(
            request_id=f"reconcile-{uuid.uuid4().hex}",
            actor_id=actor_id,
            deadline=Deadline(CALL_BUDGET_SECONDS),
        )
        return Writers(
            InvoicingWrites(ServiceClient(sources.invoicing, meta)),
            PaymentsWrites(ServiceClient(sources.payments, meta)),
        )

    return Settler(
        store,
        sources.payments_client,
        writers_for,
        policy=SettlementPolicy(
            poll=timedelta(seconds=settings.settlement_poll_seconds),
            max_backoff=timedelta(seconds=settings.settlement_max_backoff_seconds),
            alert_after=timedelta(seconds=settings.pending_payment_alert_seconds),
        ),
        pace=Pace(settings.settlement_calls_per_second),
    )
