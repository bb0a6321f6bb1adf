"""One reconciliation pass over some businesses, and its repair.

The repair finishes only what the gateway itself started: a `succeeded_unrecorded`
payment that is in the payment_watch table and not finished (pending, recording or
refunding) is moved on by the settler's own step (`Settler.advance`), which records it
with the same derived Idempotency-Key as the settler would: a repair racing the settler
can never record twice. Payments the gateway did not take are reported, never touched.
The businesses a repair touched are read and compared again, so what is reported after
a repair is the drift that remains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.downstream.errors import DownstreamError
from app.downstream.models import Payment
from app.reconcile.drift import Books, Finding, compare
from app.reconcile.reader import DEFAULT_MAX_PAGES, Sources, read_business
from app.settlement.settler import Settler
from app.settlement.store import OPEN_STATES, WatchStore


@dataclass(frozen=True, slots=True)
class BusinessResult:
    business_id: str
    findings: list[Finding]
    # Why the business was not read in full; `failed`: nothing could be compared at all.
    incomplete: list[str] = field(default_factory=list)
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Repair:
    business_id: str
    invoice_id: str
    payment_id: str
    amount: int
    currency: str
    # recorded, refunded or failed when the step ended it; otherwise what stopped it.
    outcome: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    results: list[BusinessResult]
    repairs: list[Repair] = field(default_factory=list)

    @property
    def businesses(self) -> list[str]:
        return [result.business_id for result in self.results]

    @property
    def findings(self) -> list[Finding]:
        return [finding for result in self.results for finding in result.findings]

    @property
    def incomplete(self) -> list[tuple[str, str]]:
        return [(r.business_id, reason) for r in self.results for reason in r.incomplete]

    @property
    def drift(self) -> bool:
        return bool(self.findings)


def _now() -> datetime:
    return datetime.now(UTC)


class Reconciler:
    def __init__(
        self,
        sources: Sources,
        store: WatchStore,
        *,
        pending_limit: timedelta,
        max_pages: int = DEFAULT_MAX_PAGES,
        settler: Settler | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sources = sources
        self._store = store
        self._pending_limit = pending_limit
        self._max_pages = max_pages
        self._settler = settler
        self._clock = clock

    async def run(self, business_ids: Sequence[str], *, repair: bool = False) -> Reconciliation:
        results = [await self.business(business_id) for business_id in business_ids]
        if not repair:
            return Reconciliation(results)
        repairs = await self._repair([f for r in results for f in r.findings])
        touched = {r.business_id for r in repairs}
        results = [
            await self.business(r.business_id) if r.business_id in touched else r for r in results
        ]
        return Reconciliation(results, repairs)

    async def business(self, business_id: str) -> BusinessResult:
        try:
            read = await read_business(self._sources, business_id, max_pages=self._max_pages)
        except DownstreamError as exc:
            return BusinessResult(business_id, [], [f"not read: {exc.detail}"], failed=True)
        # Read after the services: a payment the gateway took is watched from the saga's
        # last transaction, so anything it took that the listing shows is here by now.
        watched = {w.payment_id: w.state for w in await self._store.of_business(business_id)}
        books = Books(business_id, read.payments, read.invoices, watched)
        findings = compare(books, now=self._clock(), pending_limit=self._pending_limit)
        return BusinessResult(business_id, findings, read.cut_short)

    async def _repair(self, findings: list[Finding]) -> list[Repair]:
        due = {
            f.payment_id: f
            for f in findings
            if f.kind == "succeeded_unrecorded"
            and f.owned
            and f.payment_id is not None
            and f.watch_state in OPEN_STATES
        }
        if not due or self._settler is None:
            return []
        try:
            # As the settler does: the payments as they are now, read just before acting.
            found = await self._sources.payments_client().get_payments(list(due))
        except DownstreamError as exc:
            return [_repair(pid, f, f"not repaired: {exc.detail}") for pid, f in due.items()]
        payments = {payment.id: payment for payment in found}
        return [
            await self._advance(self._settler, payment_id, finding, payments.get(payment_id))
            for payment_id, finding in due.items()
        ]

    async def _advance(
        self, settler: Settler, payment_id: str, finding: Finding, payment: Payment | None
    ) -> Repair:
        item = await self._store.get(payment_id)
        if item is None or item.state not in OPEN_STATES:
            outcome = item.outcome if item is not None else None
            return _repair(payment_id, finding, f"finished meanwhile ({outcome or 'gone'})")
        try:
            await settler.advance(item, payment)
        except DownstreamError as exc:
            return _repair(payment_id, finding, f"not repaired: {exc.detail}")
        after = await self._store.get(payment_id)
        if after is not None and after.outcome is not None:
            return _repair(payment_id, finding, after.outcome)
        state = after.state if after is not None else "gone"
        return _repair(payment_id, finding, f"not finished ({state})")


def _repair(payment_id: str, finding: Finding, outcome: str) -> Repair:
    return Repair(
        business_id=finding.business_id,
        invoice_id=finding.invoice_id,
        payment_id=payment_id,
        amount=finding.amount or 0,
        currency=finding.currency,
        outcome=outcome,
    )
