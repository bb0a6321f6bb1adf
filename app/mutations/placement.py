"""Which region's database a mutation's key lives in (app/residency/).

With one region (the default: every jurisdiction on one database) there is nothing to
decide and nothing is read: the order is exactly the single-database one. With several:

1. The key is looked up in every region: a key already there (a retry, a replay, a
   recovery) is answered from where it is, with no downstream read, as before.
2. Otherwise the mutation's subject is resolved, side-effect free and ownership-checked
   (a business id from the input, or the invoice or payment read): a refusal (not found,
   not a member) or a failed read claims nothing.
3. The subject's business's country names the region (cached per process,
   app/residency/jurisdictions.py). Subjects never move between businesses, so a retry
   with the same key resolves to the same region and reaches the same record.

A region whose database cannot be reached answers RegionUnavailableError only when it
matters: the key was not found elsewhere and the subject belongs to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.auth import policy
from app.auth.principal import Principal
from app.downstream.errors import DownstreamError, DownstreamInvalidResponseError
from app.idempotency.store import KeyRecord
from app.mutations.outcomes import UNAVAILABLE_MESSAGE, Outcome, ProblemCode, problem
from app.reads.service import ReadService
from app.residency.jurisdictions import Jurisdictions
from app.residency.regions import (
    DATABASE_ERRORS,
    Region,
    Regions,
    RegionUnavailableError,
    UnsupportedJurisdictionError,
    is_unreachable,
)

logger = logging.getLogger("gateway.residency")

# How long a key lookup waits for one region's database. The lookup asks every region
# (the key may be in any), so a region that hangs (a partition drops packets, nothing is
# refused; asyncpg's own connect timeout is 60 s) would otherwise hold every other
# region's mutations up to the request deadline. As long as /readyz's check.
LOOKUP_TIMEOUT_SECONDS = 2.0

# The mutation's subject: its business id, or why there is none to act on.
Subject = Callable[[], Awaitable[str | Outcome]]


class Placement:
    def __init__(
        self,
        principal: Principal,
        reads: ReadService,
        regions: Regions,
        jurisdictions: Jurisdictions,
    ) -> None:
        self._principal = principal
        self._reads = reads
        self._regions = regions
        self._jurisdictions = jurisdictions

    async def find(self, scope_digest: str, key: str) -> tuple[Region, KeyRecord] | None:
        """Where the key is, looked up in every region at once. Raises
        RegionUnavailableError when it is in none of those that answered and one did
        not: it may be there."""
        regions = self._regions.all
        answers = await asyncio.gather(
            *(_bounded(region.idempotency.lookup(scope_digest, key)) for region in regions),
            return_exceptions=True,
        )
        down: list[Region] = []
        for region, answer in zip(regions, answers, strict=True):
            if isinstance(answer, KeyRecord):
                return region, answer
            if isinstance(answer, BaseException):
                if not isinstance(answer, DATABASE_ERRORS):
                    raise answer
                # A read that changes nothing: whatever stopped it, this region could
                # not say whether it has the key; the others still may.
                logger.warning(
                    "region unreachable",
                    extra={"region": region.name, "unreachable": is_unreachable(answer)},
                )
                down.append(region)
        if down:
            raise RegionUnavailableError("+".join(r.name for r in down), down)
        return None

    async def region_for(
        self, operation: str, scope_digest: str, key: str, subject: Subject
    ) -> Region | Outcome:
        """The region to claim `key` in, or the refusal to answer (nothing claimed)."""
        single = self._regions.single
        if single is not None:
            return single
        down: tuple[Region, ...] = ()
        try:
            found = await self.find(scope_digest, key)
        except RegionUnavailableError as exc:
            found, down = None, exc.regions
        if found is not None:
            return found[0]
        business = await subject()
        if isinstance(business, Outcome):
            return business
        region = await self.region_of(business, _SUBJECT_FIELD[operation])
        if isinstance(region, Region) and region in down:
            return unavailable()
        return region

    async def region_of(self, business_id: str, field: str) -> Region | Outcome:
        country = self._jurisdictions.get(business_id)
        if country is None:
            try:
                business = await self._reads.business(business_id)
            except DownstreamError as exc:
                return read_failed(exc)
            if business is None:
                return problem(ProblemCode.NOT_FOUND, "Not found.", "input", field)
            country = business.country
        try:
            region = self._regions.of(country)
        except UnsupportedJurisdictionError:
            logger.error("business of an unsupported country", extra={"country": country})
            return read_failed(
                DownstreamInvalidResponseError("invoicing", "country outside the contract")
            )
        self._jurisdictions.remember(business_id, country)
        return region

    # -- the subjects ---------------------------------------------------------------

    def business(self, operation: str, business_id: str) -> Subject:
        async def subject() -> str | Outcome:
            if not policy.admits(self._principal, business_id):
                return _not_found(operation)
            return business_id

        return subject

    def invoice(self, operation: str, invoice_id: str) -> Subject:
        async def subject() -> str | Outcome:
            try:
                invoice = await self._reads.invoice(invoice_id)
            except DownstreamError as exc:
                return read_failed(exc)
            return _not_found(operation) if invoice is None else invoice.business_id

        return subject

    def payment(self, operation: str, payment_id: str) -> Subject:
        async def subject() -> str | Outcome:
            try:
                payment = await self._reads.payment(payment_id)
            except DownstreamError as exc:
                return read_failed(exc)
            return _not_found(operation) if payment is None else payment.business_id

        return subject


async def _bounded(lookup: Awaitable[KeyRecord | None]) -> KeyRecord | None:
    async with asyncio.timeout(LOOKUP_TIMEOUT_SECONDS):
        return await lookup


_SUBJECT_FIELD = {
    "createCustomer": "businessId",
    "createInvoice": "businessId",
    "finalizeInvoice": "invoiceId",
    "voidInvoice": "invoiceId",
    "refundPayment": "paymentId",
    "payInvoice": "invoiceId",
}


def _not_found(operation: str) -> Outcome:
    return problem(ProblemCode.NOT_FOUND, "Not found.", "input", _SUBJECT_FIELD[operation])


RECORDS_UNAVAILABLE_MESSAGE = (
    "The records of this business's region cannot be reached right now; nothing was done. "
    "Retry with the same idempotency key."
)


def unavailable() -> Outcome:
    return problem(ProblemCode.DOWNSTREAM_UNAVAILABLE, RECORDS_UNAVAILABLE_MESSAGE)


def read_failed(exc: DownstreamError) -> Outcome:
    """Nothing was done: a read the decision needed failed."""
    if isinstance(exc, DownstreamInvalidResponseError):
        return problem(
            ProblemCode.DOWNSTREAM_INVALID_RESPONSE,
            f"The {exc.service} service gave an answer that breaks its contract, so nothing "
            "was done. Retry later with the same idempotency key.",
        )
    return problem(ProblemCode.DOWNSTREAM_UNAVAILABLE, UNAVAILABLE_MESSAGE)
