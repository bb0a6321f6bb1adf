"""The reads of one business: every page, the batches for what the listings did not hold,
and a stop for a service whose has_more never ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from app.downstream.breaker import CircuitBreaker
from app.downstream.service import Channel, build_http_client
from app.reconcile.reader import Sources, read_business
from tests.reconcile.books import BUSINESS, invoice, payment

Handler = Callable[[httpx.Request], httpx.Response]


def listing(items: list[Any], *, has_more: bool) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "object": "list",
            "data": [item.model_dump(mode="json") for item in items],
            "has_more": has_more,
        },
    )


@pytest.fixture
async def sources_for() -> AsyncIterator[Callable[[Handler, Handler], Sources]]:
    async with AsyncExitStack() as stack:

        def build(invoicing: Handler, payments: Handler) -> Sources:
            channels: dict[str, Channel] = {}
            for name, handler in (("invoicing", invoicing), ("payments", payments)):
                client = build_http_client(
                    f"https://{name}.test", "token", transport=httpx.MockTransport(handler)
                )
                stack.push_async_callback(client.aclose)
                breaker = CircuitBreaker(name, failure_threshold=100, open_seconds=1)
                channels[name] = Channel(name, client, breaker)
            return Sources(channels["invoicing"], channels["payments"])

        yield build


async def test_every_page_is_read_and_the_batches_fill_the_gaps(
    sources_for: Callable[[Handler, Handler], Sources],
) -> None:
    # given two pages of payments, one of them for an invoice the listing does not hold,
    # and an invoice recording a payment the payments listing does not hold
    asked: list[str] = []
    pages = {
        None: ([payment("pay_3", "inv_A", 100), payment("pay_2", "inv_Old", 100)], True),
        "pay_2": ([payment("pay_1", "inv_A", 100)], False),
    }

    def payments(request: httpx.Request) -> httpx.Response:
        asked.append(f"payments {request.url.query.decode()}")
        if "ids" in request.url.params:
            return listing([payment("pay_9", "inv_A", 100, status="failed")], has_more=False)
        items, more = pages[request.url.params.get("starting_after")]
        return listing(items, has_more=more)

    def invoicing(request: httpx.Request) -> httpx.Response:
        asked.append(f"invoicing {request.url.query.decode()}")
        if "ids" in request.url.params:
            return listing([invoice("inv_Old", 100, status="void")], has_more=False)
        return listing([invoice("inv_A", 500, payment_ids=["pay_9", "pay_8"])], has_more=False)

    # when the business is read
    read = await read_business(sources_for(invoicing, payments), BUSINESS, max_pages=10)

    # then everything is there, read in this order, and nothing was cut short
    assert [p.id for p in read.payments] == ["pay_3", "pay_2", "pay_1", "pay_9"]
    assert [i.id for i in read.invoices] == ["inv_A", "inv_Old"]
    assert read.cut_short == []
    assert asked == [
        f"payments business_id={BUSINESS}&limit=100",
        f"payments business_id={BUSINESS}&limit=100&starting_after=pay_2",
        f"invoicing business_id={BUSINESS}&limit=100",
        "invoicing ids=inv_Old",
        "payments ids=pay_8%2Cpay_9",
    ]


async def test_a_listing_whose_has_more_never_ends_stops_at_the_page_cap(
    sources_for: Callable[[Handler, Handler], Sources],
) -> None:
    # given a payments service that always has more, a new payment on every page
    served: list[int] = []

    def payments(request: httpx.Request) -> httpx.Response:
        served.append(1)
        return listing([payment(f"pay_{len(served)}", "inv_A", 100)], has_more=True)

    def invoicing(request: httpx.Request) -> httpx.Response:
        return listing([invoice("inv_A", 500)], has_more=False)

    # when read with a cap of 3 pages
    read = await read_business(sources_for(invoicing, payments), BUSINESS, max_pages=3)

    # then 3 pages were asked for and the stop is reported
    assert len(served) == 3
    assert [p.id for p in read.payments] == ["pay_1", "pay_2", "pay_3"]
    assert read.cut_short == ["payments: stopped after 3 pages (the page cap)"]


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ([], "invoices: an empty page said has_more"),
        ([invoice("inv_A", 500)], "invoices: the cursor inv_A came back"),
    ],
)
async def test_a_listing_that_cannot_be_followed_stops_at_once(
    sources_for: Callable[[Handler, Handler], Sources], page: list[Any], reason: str
) -> None:
    # given an invoicing service that answers every page the same, with has_more
    served: list[int] = []

    def invoicing(request: httpx.Request) -> httpx.Response:
        served.append(1)
        return listing(page, has_more=True)

    def payments(request: httpx.Request) -> httpx.Response:
        return listing([], has_more=False)

    read = await read_business(sources_for(invoicing, payments), BUSINESS, max_pages=1000)

    assert read.cut_short == [reason]
    assert len(served) <= 2
