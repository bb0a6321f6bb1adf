"""What `python -m app reconcile` opens: the resources the app would, for this work only.
The same settings (from the environment), the same database (for the payment_watch
table), one pooled HTTP client per service with its breaker and retry policy, and a
settler built as the app builds it, for the repair. The app itself hands its own
resources to the reconciler (app/wiring/background.py)."""

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
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.downstream.retry import RetryPolicy
from app.downstream.service import CallMeta, Channel, ServiceClient, build_http_client
from app.reconcile.reader import CALL_BUDGET_SECONDS, Sources
from app.settlement.pace import Pace
from app.settlement.settler import SettlementPolicy, Settler, Writers
from app.settlement.store import WatchStore

# Test seam: tests hand in transports reaching in-process sandbox services.
Transports = Mapping[str, httpx.AsyncBaseTransport]


@dataclass(frozen=True, slots=True)
class Opened:
    settings: Settings
    store: WatchStore
    sources: Sources
    settler: Settler


@asynccontextmanager
async def open_for_reconcile(
    settings: Settings, transports: Transports | None = None
) -> AsyncIterator[Opened]:
    transports = transports or {}
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        if settings.is_development:  # as the app does on start; production migrates first
            await migrate.upgrade(engine)
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
        store = WatchStore(engine)
        sources = Sources(channels["invoicing"], channels["payments"])
        yield Opened(settings, store, sources, _settler(settings, store, sources))


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
