"""Batch reads and listings object by object: a broken object is left out (or refuses a
strict read), an id without the contract's shape is never sent, has_more is held to what
the contract says, and the log names the rule an object broke, never its values."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.downstream.checked import BrokenObject
from app.downstream.errors import DownstreamInvalidResponseError
from app.downstream.invoicing import InvoicingClient, InvoicingWrites
from app.downstream.payments import PaymentsClient, PaymentsWrites
from app.downstream.service import CallMeta, ServiceClient
from tests.downstream.test_service_client import META, single_attempt, transport

Json = dict[str, Any]

INVOICE: Json = {
    "id": "inv_one",
    "object": "invoice",
    "business_id": "biz_mine",
    "customer_id": "cus_one",
    "number": "INV-000001",
    "status": "open",
    "currency": "GBP",
    "lines": [{"description": "Tea", "quantity": 3, "unit_amount": 250, "amount": 750}],
    "tax_rate_bps": 2000,
    "subtotal": 750,
    "tax": 150,
    "total": 900,
    "amount_paid": 0,
    "amount_due": 900,
    "due_date": "2026-12-31",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}
PAYMENT: Json = {
    "id": "pay_one",
    "object": "payment",
    "business_id": "biz_mine",
    "invoice_id": "inv_one",
    "amount": 900,
    "currency": "GBP",
    "status": "succeeded",
    "amount_refunded": 0,
    "payment_method": {"type": "card", "brand": "visa", "last4": "4242"},
    "created_at": "2026-01-02T00:00:00Z",
}


class Recorder:
    """A fake service: answers every GET with `answer(request)` and keeps the requests."""

    def __init__(self, answer: Callable[[httpx.Request], Json]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, content=json.dumps(self.answer(request)).encode())

    def asked(self, param: str) -> list[str]:
        return [request.url.params[param] for request in self.requests]


def page(*items: Json, has_more: bool = False) -> Callable[[httpx.Request], Json]:
    return lambda _request: {"object": "list", "data": list(items), "has_more": has_more}


def service(http: httpx.AsyncClient, meta: CallMeta = META) -> ServiceClient:
    return ServiceClient(single_attempt(http), meta)


async def test_ids_without_the_contracts_shape_are_never_sent() -> None:
    # Given ids a downstream object could carry: a comma would smuggle a second id in
    fake = Recorder(page(INVOICE))

    # When they are read with one real id
    async with transport(fake) as http:
        found = await InvoicingClient(service(http)).get_invoices(
            ["inv_one,inv_two", "../inv_one", "inv_one", "inv_" + "x" * 33]
        )
        nothing = await InvoicingClient(service(http)).get_invoices(["inv_a,inv_b"])

    # Then only the real id went downstream, and the others are simply not found
    assert fake.asked("ids") == ["inv_one"]
    assert [invoice.id for invoice in found] == ["inv_one"]
    assert list(nothing) == []


async def test_a_broken_object_is_left_out_or_refuses_a_strict_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an answer with a valid payment and one whose amount is a float
    broken = {**PAYMENT, "id": "pay_two", "amount": 900.5, "payment_method": {"type": "cash"}}
    fake = Recorder(page(PAYMENT, broken))
    caplog.set_level(logging.WARNING, logger="gateway.downstream")

    # When it is read, then read strictly
    async with transport(fake) as http:
        found = await PaymentsClient(service(http)).get_payments(["pay_one", "pay_two"])
        with pytest.raises(DownstreamInvalidResponseError) as raised:
            await PaymentsClient(service(http)).get_payments(["pay_one", "pay_two"], strict=True)

    # Then the valid one is found and the broken one handed back; strict refuses both
    assert [payment.id for payment in found] == ["pay_one"]
    assert found.broken == (
        BrokenObject(
            service="invoicing",
            kind="Payment",
            links=(("id", "pay_two"), ("business_id", "biz_mine"), ("invoice_id", "inv_one")),
            rules=(("int_type", "amount"), ("literal_error", "payment_method.type")),
            id_prefix="pay_",
        ),
    )
    assert raised.value.detail == "1 objects of a /v1/payments batch break the contract"
    # And each time, the log named the rules and the id, never a value
    logged = [
        (r.event, r.route, r.type, r.object_id, r.rules)  # type: ignore[attr-defined]
        for r in caplog.records
    ]
    assert logged == 2 * [
        (
            "downstream_invalid_object",
            "/v1/payments",
            "Payment",
            "pay_two",
            ["int_type at amount", "literal_error at payment_method.type"],
        )
    ]
    assert "900.5" not in str([vars(r) for r in caplog.records])
    assert "cash" not in str([vars(r) for r in caplog.records])


async def test_what_cannot_be_read_of_a_broken_object_is_not_kept() -> None:
    # Given objects that are not objects, and ids too long to name anything
    fake = Recorder(page(42, {"id": "inv_" + "x" * 100, "business_id": 7}, ["inv_one"]))  # type: ignore[arg-type]

    async with transport(fake) as http:
        found = await InvoicingClient(service(http)).get_invoices(["inv_one"])

    assert [(b.links, b.rules) for b in found.broken] == [
        ((), (("model_type", ""),)),
        (
            (),
            (
                ("string_pattern_mismatch", "id"),
                ("missing", "object"),
                ("string_type", "business_id"),
                ("missing", "customer_id"),
                ("missing", "number"),
                ("missing", "status"),
                ("missing", "currency"),
                ("missing", "lines"),
                ("missing", "tax_rate_bps"),
                ("missing", "subtotal"),
                ("missing", "tax"),
                ("missing", "total"),
                ("missing", "amount_paid"),
                ("missing", "amount_due"),
                ("missing", "due_date"),
                ("missing", "created_at"),
                ("missing", "updated_at"),
            ),
        ),
        ((), (("model_type", ""),)),
    ]


@pytest.mark.parametrize(
    ("read", "whole"),
    [
        pytest.param(lambda c: c.get_invoices(["inv_one"]), True, id="invoices-by-ids"),
        pytest.param(lambda c: c.get_customers(["cus_one"]), True, id="customers-by-ids"),
        pytest.param(lambda c: c.get_businesses(["biz_mine"]), False, id="businesses-by-ids"),
    ],
)
async def test_has_more_is_held_to_what_the_contract_says_of_each_batch(
    read: Callable[[InvoicingClient], Any], whole: bool
) -> None:
    # Given batch answers that say more would follow
    fake = Recorder(page(has_more=True))

    async with transport(fake) as http:
        client = InvoicingClient(service(http))
        if whole:
            # Then where the contract says has_more is false, the answer breaks it
            with pytest.raises(DownstreamInvalidResponseError) as raised:
                await read(client)
            assert raised.value.detail.endswith("by ids answered has_more true")
        else:
            # and where it says nothing of it, the answer stands
            assert list(await read(client)) == []


async def test_the_write_sides_reads_are_strict() -> None:
    broken_invoice = {**INVOICE, "tax": 151, "total": 901, "amount_due": 901}
    broken_payment = {**PAYMENT, "created_at": 1767225600}

    async with transport(Recorder(page(broken_invoice))) as http:
        with pytest.raises(DownstreamInvalidResponseError):
            await InvoicingWrites(service(http)).get_invoice("inv_one")
    async with transport(Recorder(page(broken_payment))) as http:
        with pytest.raises(DownstreamInvalidResponseError):
            await PaymentsWrites(service(http)).get_payment("pay_one")
    async with transport(Recorder(page(INVOICE))) as http:
        assert (await InvoicingWrites(service(http)).get_invoice("inv_one")) is not None
        assert (await InvoicingWrites(service(http)).get_invoice("inv_a,inv_one")) is None


async def test_payments_for_invoice_reads_all_of_them_now_and_strictly() -> None:
    second = {**PAYMENT, "id": "pay_two", "status": "failed", "failure_code": "card_declined"}
    fake = Recorder(page(second, PAYMENT))

    async with transport(fake) as http:
        writes = PaymentsWrites(service(http))
        first = await writes.payments_for_invoice("inv_one")
        again = await writes.payments_for_invoice("inv_one")

    # Uncached: each call asks the service
    assert fake.asked("invoice_ids") == ["inv_one", "inv_one"]
    assert [p.id for p in first] == [p.id for p in again] == ["pay_two", "pay_one"]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(page(PAYMENT, has_more=True), id="has-more-true"),
        pytest.param(page(PAYMENT, {**PAYMENT, "id": "pay_two", "amount": 0}), id="broken"),
        pytest.param(page({**PAYMENT, "invoice_id": None}), id="broken-unplaceable"),
    ],
)
async def test_payments_for_invoice_refuses_an_answer_that_breaks_the_contract(
    answer: Callable[[httpx.Request], Json],
) -> None:
    async with transport(Recorder(answer)) as http:
        with pytest.raises(DownstreamInvalidResponseError):
            await PaymentsWrites(service(http)).payments_for_invoice("inv_one")


async def test_a_write_never_puts_an_id_without_the_contracts_shape_in_a_path() -> None:
    fake = Recorder(page())
    meta = CallMeta(request_id="req-1", actor_id="user_1")

    async with transport(fake) as http:
        with pytest.raises(ValueError, match="not an invoice id"):
            await InvoicingWrites(service(http, meta)).void_invoice("inv_1/../x", key="k")
        with pytest.raises(ValueError, match="not a payment id"):
            await PaymentsWrites(service(http, meta)).refund("pay_1?x=1", {}, key="k")

    assert fake.requests == []


async def test_a_listing_keeps_its_broken_objects_where_they_were_and_its_has_more() -> None:
    # Given a page of 3 asked, answered with 4: a broken one second, and has_more true
    broken = {**INVOICE, "id": "inv_two", "status": "settled"}
    items = [INVOICE, broken, {**INVOICE, "id": "inv_three"}, {**INVOICE, "id": "inv_four"}]
    async with transport(Recorder(page(*items))) as http:
        cut = await InvoicingClient(service(http)).list_invoices(
            "biz_mine", limit=3, starting_after=None
        )
    # and a shorter page than asked, with has_more true (the contract allows it)
    async with transport(Recorder(page(INVOICE, has_more=True))) as http:
        short = await InvoicingClient(service(http)).list_invoices(
            "biz_mine", limit=3, starting_after=None
        )

    # Then the page is the first 3 answered, the broken one left out but kept as such
    assert [i.id for i in cut.items] == ["inv_one", "inv_three"]
    assert [b.object_id for b in cut.broken] == ["inv_two"]
    assert cut.has_more is True
    assert ([i.id for i in short.items], short.has_more) == (["inv_one"], True)
