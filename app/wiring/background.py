"""Background work the app owns for its lifetime: the outbox relay (which also purges
expired idempotency keys). Started after the resources open, stopped before they close."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from app.core.deadline import Deadline
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.downstream.service import CallMeta, ServiceClient
from app.mutations.pay_invoice import PayInvoiceSaga
from app.mutations.relay import Relay
from app.wiring.resources import Resources

# A relay round's downstream calls get this long: it answers nobody, but must not hang.
RELAY_BUDGET_SECONDS = 20.0


def build_relay(resources: Resources) -> Relay:
    settings = resources.settings

    def saga_for_actor(actor_id: str) -> PayInvoiceSaga:
        meta = CallMeta(
            request_id=f"relay-{uuid.uuid4().hex}",
            actor_id=actor_id,
            deadline=Deadline(RELAY_BUDGET_SECONDS),
        )
        return PayInvoiceSaga(
            resources.idempotency,
            resources.outbox,
            InvoicingWrites(ServiceClient(resources.invoicing, meta)),
            PaymentsWrites(ServiceClient(resources.payments, meta)),
            relay_grace=timedelta(seconds=settings.relay_grace_seconds),
        )

    return Relay(
        resources.idempotency,
        resources.outbox,
        saga_for_actor,
        interval_seconds=settings.relay_interval_seconds,
    )


@contextlib.asynccontextmanager
async def running_background(resources: Resources) -> AsyncIterator[Relay]:
    relay = build_relay(resources)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(stop), name="outbox-relay")
    try:
        yield relay
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()
