"""The settler: a background task of the app that sees each pending payment the gateway
took through to its end.

Each round it claims the watched payments that are due (app/settlement/store.py: one
settler per row at a time, across processes), reads them from the payments service in
batches of up to 100 ids, and moves each on:

  pending    -> looked at again later, backing off per payment (SETTLEMENT_POLL_SECONDS,
                doubling up to SETTLEMENT_MAX_BACKOFF_SECONDS)
  failed     -> released: the invoice can be paid again (nothing to undo)
  succeeded  -> recorded on the invoice, once: the recording's Idempotency-Key is
                derived from the saga's key, so a crash at any point resends the same
                request and the service replays it; payment_already_recorded is done too
  refused for good by the invoice (voided, paid by other means, currency) -> refunded
                in full (derived key again), and reported

A payment the service does not list, or lists with another invoice, amount or currency
than was taken (a lying service), is never acted on: it is logged and looked at again.
Every downstream call waits its turn (SETTLEMENT_CALLS_PER_SECOND), so a backlog of
thousands drains at a pace the services can take. Pending payments older than
PENDING_PAYMENT_ALERT_SECONDS are logged as alerts (once a day each), and the count and
the oldest age are exported as metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.downstream import models
from app.downstream.errors import DownstreamError, DownstreamRejectedError
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsClient, PaymentsWrites
from app.events import emission
from app.events.envelope import EventType
from app.idempotency.keys import downstream_key
from app.settlement.pace import Pace
from app.settlement.store import PENDING, RECORDING, REFUNDING, Watched, WatchStats, WatchStore

logger = logging.getLogger("gateway.settlement")

BATCH = 100
# Refusals of a recording that no retry changes: the settled money must go back.
_REFUSED_FOR_GOOD = {"invalid_state", "amount_exceeds_due", "currency_mismatch"}
ALERT_EVERY = timedelta(days=1)
# The watch list's count and age are read this often, not every round.
WATCH_LIST_EVERY_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class SettlementPolicy:
    poll: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    alert_after: timedelta = timedelta(days=5)

    def backoff(self, checks: int) -> timedelta:
        """poll, 2 x poll, 4 x poll ... up to max_backoff: a transfer takes days, and a
        thousand of them must not poll the service every few seconds."""
        delay: timedelta = self.poll * (2 ** max(0, min(checks - 1, 20)))
        return min(self.max_backoff, delay)


@dataclass(frozen=True, slots=True)
class Writers:
    invoicing: InvoicingWrites
    payments: PaymentsWrites


class SettlementReport:
    """What the settler tells the rest of the app: outcomes and the watch list's state."""

    def settled(self, outcome: str) -> None:
        """A watched payment ended: recorded, failed or refunded."""

    def watching(self, stats: WatchStats, now: datetime) -> None:
        """The open watch list after a round."""


def _now() -> datetime:
    return datetime.now(UTC)


class Settler:
    def __init__(
        self,
        store: WatchStore,
        reader: Callable[[], PaymentsClient],
        writers_for: Callable[[str], Writers],
        *,
        policy: SettlementPolicy | None = None,
        pace: Pace | None = None,
        report: SettlementReport | None = None,
        clock: Callable[[], datetime] = _now,
        interval_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._reader = reader
        self._writers_for = writers_for
        self._policy = policy or SettlementPolicy()
        self._pace = pace or Pace(5.0)
        self._report = report or SettlementReport()
        self._clock = clock
        self._interval = interval_seconds
        self._watch_list_due = 0.0

    async def run_once(self) -> int:
        """One round: the due payments moved on; returns how many ended."""
        items = await self._store.claim_due(BATCH)
        ended = 0
        if items:
            ended = await self._advance_all(items)
        now = asyncio.get_running_loop().time()
        if now >= self._watch_list_due:
            self._watch_list_due = now + WATCH_LIST_EVERY_SECONDS
            await self.watch_list()
        return ended

    async def _advance_all(self, items: list[Watched]) -> int:
        await self._pace.turn()
        try:
            found = await self._reader().get_payments([item.payment_id for item in items])
        except DownstreamError as exc:
            for item in items:
                await self._store.later(item, self._policy.backoff(item.checks), exc.detail)
            logger.warning("settler could not read payments", extra={"detail": exc.detail})
            return 0
        by_id = {payment.id: payment for payment in found}
        ended = 0
        for item in items:
            try:
                ended += await self.advance(item, by_id.get(item.payment_id))
            except DownstreamError as exc:
                await self._store.later(item, self._policy.backoff(item.checks), exc.detail)
                logger.warning(
                    "settlement step paused",
                    extra={
                        "payment_id": item.payment_id,
                        "state": item.state,
                        "detail": exc.detail,
                    },
                )
        return ended

    async def advance(self, item: Watched, payment: models.Payment | None) -> int:
        """Moves one watched payment on as far as it goes now; 1 when it ended. Also the
        repair of `python -m app reconcile --repair`."""
        if payment is None or not _matches(item, payment):
            logger.error(
                "watched payment missing or not as taken; not acted on",
                extra={"payment_id": item.payment_id, "invoice_id": item.invoice_id},
            )
            await self._store.later(item, self._policy.backoff(item.checks), "not as taken")
            return 0
        if item.state == PENDING:
            if payment.status == "pending":
                await self._store.later(item, self._policy.backoff(item.checks))
                return 0
            if payment.status == "failed":
                await self._end(item, "failed", [_payment_event(item, "failed")])
                logger.info(
                    "pending payment failed; the invoice can be paid again",
                    extra={"payment_id": item.payment_id, "invoice_id": item.invoice_id},
                )
                return 1
            item = await self._store.settled(
                item, also=emission.recorder([_payment_event(item, "succeeded")])
            )
        if item.state == RECORDING:
            refund = await self._record(item, payment)
            if refund is None:
                return 1
            item = await self._store.refunding(item, refund)
        if item.state == REFUNDING:
            await self._refund(item)
            return 1
        return 0

    async def _record(self, item: Watched, payment: models.Payment) -> int | None:
        """None when recorded; else the amount to refund."""
        writers = self._writers_for(item.actor_id)
        body = {"payment_id": item.payment_id, "amount": item.amount, "currency": item.currency}
        await self._pace.turn()
        invoice: models.Invoice | None = None
        try:
            invoice, _ = await writers.invoicing.record_payment(
                item.invoice_id, body, key=_key(item, "settle_record")
            )
        except DownstreamRejectedError as exc:
            if exc.code == "payment_already_recorded":
                pass
            elif exc.code in _REFUSED_FOR_GOOD or exc.status == 404:
                logger.warning(
                    "invoice refused a settled payment; refunding it",
                    extra={
                        "payment_id": item.payment_id,
                        "invoice_id": item.invoice_id,
                        "code": exc.code,
                    },
                )
                return max(0, payment.amount - payment.amount_refunded)
            else:
                raise
        paid = (
            [emission.invoice_event(EventType.INVOICE_PAID, invoice)]
            if emission.is_paid(invoice)
            else []
        )
        await self._end(item, "recorded", paid)
        logger.info(
            "settled payment recorded on its invoice",
            extra={"payment_id": item.payment_id, "invoice_id": item.invoice_id},
        )
        return None

    async def _refund(self, item: Watched) -> None:
        amount = item.refund_amount or 0
        refunded: list[emission.NewEvent] = []
        if amount > 0:
            writers = self._writers_for(item.actor_id)
            await self._pace.turn()
            try:
                refund, _ = await writers.payments.refund(
                    item.payment_id,
                    {"amount": amount, "reason": None},
                    key=_key(item, "settle_refund"),
                )
            except DownstreamRejectedError as exc:
                # Refunded meanwhile (by hand, or by an earlier attempt whose answer was
                # lost past the key's lifetime): what we wanted anyway.
                if exc.code != "amount_exceeds_refundable":
                    raise
            else:
                if refund.status == "succeeded":
                    refunded.append(emission.refund_event(refund))
        await self._end(item, "refunded", refunded)
        logger.warning(
            "settled payment refunded: its invoice would not take it",
            extra={
                "event": "settled_payment_refunded",
                "payment_id": item.payment_id,
                "invoice_id": item.invoice_id,
                "business_id": item.business_id,
                "amount": amount,
                "currency": item.currency,
            },
        )

    async def _end(
        self, item: Watched, outcome: str, events: list[emission.NewEvent] | None = None
    ) -> None:
        await self._store.finish(item, outcome, also=emission.recorder(events or []))
        self._report.settled(outcome)

    async def watch_list(self) -> None:
        now = self._clock()
        self._report.watching(await self._store.stats(), now)
        for item in await self._store.overdue(self._policy.alert_after, ALERT_EVERY):
            logger.error(
                "payment pending for too long",
                extra={
                    "event": "pending_payment_overdue",
                    "payment_id": item.payment_id,
                    "invoice_id": item.invoice_id,
                    "business_id": item.business_id,
                    "age_seconds": int((now - item.taken_at).total_seconds()),
                },
            )

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - background boundary: a database blip must not stop settling for good
                logger.exception("settlement round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)


def _matches(item: Watched, payment: models.Payment) -> bool:
    return (
        payment.invoice_id == item.invoice_id
        and payment.business_id == item.business_id
        and payment.amount == item.amount
        and payment.currency == item.currency
    )


def _payment_event(item: Watched, status: str) -> emission.NewEvent:
    return emission.payment_event(
        status,
        payment_id=item.payment_id,
        invoice_id=item.invoice_id,
        business_id=item.business_id,
        amount=item.amount,
        currency=item.currency,
    )


def _key(item: Watched, step: str) -> str:
    return downstream_key(item.scope_digest, item.idempotency_key, step)
