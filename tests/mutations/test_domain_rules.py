"""The domain rules a dashboard user meets, through the whole gateway on SQLite and
PostgreSQL (app/mutations/states.py, inputs.py's due-date window, current_invoice.py):

- a due date outside the window around the app's today is refused at its field, and
  nothing is sent;
- a draft whose total is zero is not finalized (it could never be paid), nothing sent;
- finalize, void and refund in a wrong state say which state the object is in and which
  would allow it; a token that may not read the object is told neither;
- a state changed between the gateway's check and the write is worded from the invoice
  as it then is;
- payInvoice's replay shows the invoice as it now stands, not as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from sandbox.devkeys import mint_token
from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_DRAFT_INVOICE_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    PENDING_PAYMENT_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.mutations.conftest import AUDIENCE, ISSUER, SUBJECT, World, WorldFactory
from tests.mutations.helpers import Json, Sandbox, pay

# The app's calendar date in these tests (its clock, handed to the app), far from the
# machine's: the window must come from it.
TODAY = date(2031, 3, 15)
WINDOW = "between 2031-02-13 and 2033-03-14 (30 days before today to 730 days after)"

CREATE_INVOICE = """
mutation($input: CreateInvoiceInput!) {
  createInvoice(input: $input) {
    invoice { id status dueDate total { amount currency } }
    userErrors { code message field }
    replayed
  }
}
"""
FINALIZE = """
mutation($input: FinalizeInvoiceInput!) {
  finalizeInvoice(input: $input) {
    invoice { id status }
    userErrors { code message field }
    replayed
  }
}
"""
VOID = """
mutation($input: VoidInvoiceInput!) {
  voidInvoice(input: $input) {
    invoice { id status }
    userErrors { code message field }
    replayed
  }
}
"""


def errors_only(name: str, input_type: str) -> str:
    """A document of `name` that selects no object: what a partner token that may not
    read them runs."""
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        "{ userErrors { code message field } replayed } }"
    )


PAY_ERRORS_ONLY = errors_only("payInvoice", "PayInvoiceInput")


async def run(world: World, document: str, input_: Json, token: str | None = None) -> Json:
    """The mutation's payload; HTTP 200 and no top-level error required."""
    response = await world.client.post(
        "/graphql",
        json={"query": document, "variables": {"input": input_}},
        headers={"Authorization": f"Bearer {token or world.token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: Json = next(iter(body["data"].values()))
    return payload


def invoice_input(key: str, due: date, unit_amounts: Sequence[str] = ("12.50",)) -> Json:
    return {
        "idempotencyKey": key,
        "businessId": GB_BUSINESS_ID,
        "customerId": GB_CUSTOMER_ID,
        "currency": "GBP",
        "dueDate": due.isoformat(),
        "taxRateBps": 2000,
        "lines": [
            {"description": f"Line {n}", "quantity": 2, "unitAmount": amount}
            for n, amount in enumerate(unit_amounts)
        ],
    }


def refused(code: str, message: str, *field: str, **objects: None) -> Json:
    return {
        **objects,
        "userErrors": [{"code": code, "message": message, "field": list(field)}],
        "replayed": False,
    }


async def posts(sandbox: Sandbox) -> list[str]:
    return [c["path"] for c in await sandbox.calls() if c["method"] == "POST"]


def partner(key: rsa.RSAPrivateKey, *scopes: str) -> str:
    return mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=SUBJECT,
        memberships=[(GB_BUSINESS_ID, Role.OWNER)],
        scopes=scopes,
    )


@pytest.fixture
async def world(world_factory: WorldFactory) -> World:
    return await world_factory(today=lambda: TODAY)


# -- due dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "due",
    [
        TODAY - timedelta(days=31),
        TODAY + timedelta(days=731),
        date(2001, 3, 15),
        date(2061, 3, 15),
    ],
    ids=["a-day-too-early", "a-day-too-late", "decades-back", "decades-ahead"],
)
async def test_a_due_date_outside_the_window_is_refused_at_its_field_sending_nothing(
    world: World, due: date
) -> None:
    # given
    await world.invoicing.clear_calls()
    # when
    payload = await run(world, CREATE_INVOICE, invoice_input("due-out", due))
    # then
    assert payload == refused(
        "INVALID_INPUT", f"dueDate must be {WINDOW}", "input", "dueDate", invoice=None
    )
    assert await posts(world.invoicing) == []


async def test_due_dates_at_the_edges_of_the_window_are_accepted(world: World) -> None:
    for key, due in (
        ("due-first", TODAY - timedelta(days=30)),
        ("due-last", TODAY + timedelta(days=730)),
    ):
        payload = await run(world, CREATE_INVOICE, invoice_input(key, due))
        assert payload["userErrors"] == []
        assert (payload["invoice"]["status"], payload["invoice"]["dueDate"]) == (
            "DRAFT",
            due.isoformat(),
        )


# -- a zero total ------------------------------------------------------------------------


async def create_zero_invoice(world: World, key: str) -> str:
    created = await run(world, CREATE_INVOICE, invoice_input(key, TODAY, ("0", "0.00")))
    assert created["userErrors"] == []
    assert created["invoice"]["total"] == {"amount": "0.00", "currency": "GBP"}
    invoice_id: str = created["invoice"]["id"]
    return invoice_id


ZERO_MESSAGE = (
    "This draft invoice's total is £0.00: finalized, it could never be paid. Only an invoice"
    " with a total above zero can be finalized; void this one and create it again with the"
    " amounts."
)


async def test_a_draft_of_zero_is_not_finalized_and_stays_a_draft_that_can_be_voided(
    world: World,
) -> None:
    # given a draft whose lines are all zero
    invoice_id = await create_zero_invoice(world, "zero-create")
    await world.invoicing.clear_calls()
    finalize = {"idempotencyKey": "zero-finalize", "invoiceId": invoice_id}
    # when it is finalized
    payload = await run(world, FINALIZE, finalize)
    # then it is refused, nothing is sent, and it is still a draft
    assert payload == refused("INVALID_STATE", ZERO_MESSAGE, "input", "invoiceId", invoice=None)
    assert await posts(world.invoicing) == []
    assert (await world.invoicing.invoice(invoice_id))["status"] == "draft"
    # and a retry with the same key replays the refusal, sending nothing
    again = await run(world, FINALIZE, finalize)
    assert again == {**payload, "replayed": True}
    assert await posts(world.invoicing) == []
    # and it can be voided
    voided = await run(world, VOID, {"idempotencyKey": "zero-void", "invoiceId": invoice_id})
    assert (voided["userErrors"], voided["invoice"]) == ([], {"id": invoice_id, "status": "VOID"})


async def test_a_draft_with_one_priced_line_among_free_ones_is_finalized(world: World) -> None:
    created = await run(world, CREATE_INVOICE, invoice_input("some-free", TODAY, ("0", "0.01")))
    invoice_id = created["invoice"]["id"]
    payload = await run(world, FINALIZE, {"idempotencyKey": "some-free-f", "invoiceId": invoice_id})
    assert payload == {
        "invoice": {"id": invoice_id, "status": "OPEN"},
        "userErrors": [],
        "replayed": False,
    }


# -- wrong states --------------------------------------------------------------------------


async def test_voiding_an_invoice_with_a_recorded_payment_says_what_was_paid(
    world: World,
) -> None:
    # given an open invoice with 12.50 paid on it
    paid = await pay(world.client, world.token, "part-pay", GB_OPEN_INVOICE_ID, amount_minor=1250)
    assert paid["userErrors"] == []
    await world.invoicing.clear_calls()
    # when it is voided
    payload = await run(
        world, VOID, {"idempotencyKey": "void-paid", "invoiceId": paid["invoice"]["id"]}
    )
    # then
    assert payload == refused(
        "INVALID_STATE",
        "Only an invoice with no recorded payment can be voided; this one is open with £12.50"
        " paid.",
        "input",
        "invoiceId",
        invoice=None,
    )
    assert await posts(world.invoicing) == []


class BeforeFinalize(httpx.AsyncBaseTransport):
    """Finalizes the invoice directly on the service just before the gateway's own
    finalize reaches it (another user was quicker); with `then_fail_reads`, every read
    after that fails (503)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, invoicing: Sandbox, *, then_fail_reads: bool
    ) -> None:
        self._inner = inner
        self._invoicing = invoicing
        self._then_fail_reads = then_fail_reads
        self._finalized = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/finalize"):
            answer = await self._invoicing.write(request.url.path)
            assert answer.status_code == 200, answer.text
            self._finalized = True
        elif self._finalized and self._then_fail_reads and request.method == "GET":
            return httpx.Response(503, json={"error": {"type": "api_error", "message": "down"}})
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.parametrize(
    ("then_fail_reads", "message"),
    [
        (False, "Only a draft invoice can be finalized; this one is open."),
        (
            True,
            "The invoice changed meanwhile and no longer allows this: only a draft invoice"
            " with a total above zero can be finalized.",
        ),
    ],
    ids=["read-again", "unreadable"],
)
async def test_a_state_changed_after_the_check_is_worded_from_the_invoice_as_it_now_is(
    world_factory: WorldFactory, then_fail_reads: bool, message: str
) -> None:
    # given another user finalizes the draft between the gateway's check and its write
    def wrap(
        name: str, transport: httpx.AsyncBaseTransport, invoicing: Sandbox, _: Sandbox
    ) -> httpx.AsyncBaseTransport:
        if name != "invoicing":
            return transport
        return BeforeFinalize(transport, invoicing, then_fail_reads=then_fail_reads)

    world = await world_factory(wrap=wrap, today=lambda: TODAY)
    # when the owner finalizes it
    payload = await run(
        world, FINALIZE, {"idempotencyKey": "race", "invoiceId": GB_DRAFT_INVOICE_ID}
    )
    # then the service's refusal is said with the state the invoice is now in (or, when
    # it cannot be read, with the rule), as a stored business outcome
    assert payload == refused("INVALID_STATE", message, "input", "invoiceId", invoice=None)


class RefusesRefunds(httpx.AsyncBaseTransport):
    """A payments service whose payment changed state just before our refund reached it:
    it refuses the refund with 409 invalid_state (a succeeded payment cannot change in
    the sandbox, so the refusal is answered here, as the contract words it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/refunds"):
            error = {
                "type": "conflict_error",
                "code": "invalid_state",
                "message": "Payment is not succeeded",
                "param": None,
            }
            return httpx.Response(409, json={"error": error})
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_refund_refused_for_a_state_changed_after_the_check_names_the_rule(
    world_factory: WorldFactory,
) -> None:
    # given a payments service that refuses the refund for the payment's state
    def wrap(
        name: str, transport: httpx.AsyncBaseTransport, _: Sandbox, __: Sandbox
    ) -> httpx.AsyncBaseTransport:
        return RefusesRefunds(transport) if name == "payments" else transport

    world = await world_factory(wrap=wrap, today=lambda: TODAY)
    # when a succeeded payment (as the gateway read it) is refunded
    refund = errors_only("refundPayment", "RefundPaymentInput")
    payload = await run(
        world, refund, {"idempotencyKey": "r-race", "paymentId": SUCCEEDED_PAYMENT_ID}
    )
    # then the refusal says what would have allowed it
    assert payload == refused(
        "INVALID_STATE",
        "The payment changed meanwhile and no longer allows this: only a succeeded payment"
        " can be refunded.",
        "input",
        "paymentId",
    )


# -- what a token that may not read the object learns ----------------------------------------


async def test_a_token_that_may_not_read_the_object_is_not_told_its_state(
    world: World, saga_key: rsa.RSAPrivateKey
) -> None:
    # given partner tokens with the write scope and not the read one
    invoices_writer = partner(saga_key, "invoices:write")
    payments_writer = partner(saga_key, "payments:write")
    zero_id = await create_zero_invoice(world, "zero-for-partner")
    generic_finalize = "The invoice cannot be finalized in its current state."
    finalize = errors_only("finalizeInvoice", "FinalizeInvoiceInput")
    cases: list[tuple[str, Json, str, str, str]] = [
        (
            finalize,
            {"invoiceId": GB_PAID_INVOICE_ID},
            invoices_writer,
            generic_finalize,
            "invoiceId",
        ),
        (finalize, {"invoiceId": zero_id}, invoices_writer, generic_finalize, "invoiceId"),
        (
            errors_only("voidInvoice", "VoidInvoiceInput"),
            {"invoiceId": GB_PAID_INVOICE_ID},
            invoices_writer,
            "The invoice cannot be voided in its current state.",
            "invoiceId",
        ),
        (
            errors_only("refundPayment", "RefundPaymentInput"),
            {"paymentId": PENDING_PAYMENT_ID},
            payments_writer,
            "The payment cannot be refunded in its current state.",
            "paymentId",
        ),
    ]
    for number, (document, target, token, message, field) in enumerate(cases):
        # when it tries what the object's state does not allow
        payload = await run(
            world, document, {"idempotencyKey": f"partner-{number}", **target}, token
        )
        # then it gets the code without the state
        assert payload["userErrors"] == [
            {"code": "INVALID_STATE", "message": message, "field": ["input", field]}
        ], document


async def test_a_token_that_may_not_read_invoices_is_not_told_what_is_on_its_way(
    world: World, saga_key: rsa.RSAPrivateKey
) -> None:
    # given a bank transfer on its way for the whole invoice
    pending = await pay(
        world.client, world.token, "transfer", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    assert pending["payment"]["status"] == "PENDING"
    payer = partner(saga_key, "payments:write", "payments:read")
    pay_input: Json = {
        "idempotencyKey": "partner-pay",
        "invoiceId": GB_OPEN_INVOICE_ID,
        "paymentMethod": "pm_card_ok",
    }
    # when a partner token that may pay but not read invoices pays it
    payload = await run(world, PAY_ERRORS_ONLY, pay_input, payer)
    # then it learns a payment is on its way, but no amount or currency
    assert payload == {
        "userErrors": [
            {
                "code": "PAYMENT_PENDING",
                "message": "Money for this invoice is already on its way; less or nothing can"
                " be charged until it settles or fails.",
                "field": ["input", "invoiceId"],
            }
        ],
        "replayed": False,
    }
    # and the owner is told the amounts
    owner = await run(world, PAY_ERRORS_ONLY, {**pay_input, "idempotencyKey": "owner-pay"})
    assert owner["userErrors"][0]["message"] == (
        "£581.23 of this invoice is already on its way (paid but not yet settled or recorded)."
        " Nothing more can be charged until it settles or fails."
    )


# -- payInvoice's invoice ----------------------------------------------------------------------


async def test_a_replay_shows_the_invoice_as_it_now_stands(world: World) -> None:
    # given a part payment, then another with another key
    first = await pay(world.client, world.token, "part-1", GB_OPEN_INVOICE_ID, amount_minor=1250)
    assert first["invoice"]["amountPaid"] == {"amount": "12.50"}
    second = await pay(world.client, world.token, "part-2", GB_OPEN_INVOICE_ID, amount_minor=10000)
    assert second["invoice"]["amountPaid"] == {"amount": "112.50"}
    # when the first is retried with its key
    replay = await pay(world.client, world.token, "part-1", GB_OPEN_INVOICE_ID, amount_minor=1250)
    # then its stored payment, and the invoice as it is now (both payments on it)
    assert replay == {**first, "invoice": second["invoice"], "replayed": True}
    assert len(await world.payments.posts("/v1/payments")) == 2


async def test_a_replay_shows_no_invoice_when_it_cannot_be_read_now(world: World) -> None:
    # given a part payment, and then another
    first = await pay(world.client, world.token, "keep-1", GB_OPEN_INVOICE_ID, amount_minor=1250)
    await pay(world.client, world.token, "keep-2", GB_OPEN_INVOICE_ID, amount_minor=100)
    # when the first is retried while the invoice cannot be read
    await world.invoicing.faults(fail_next=100, fail_status=503, method="GET")
    replay = await pay(world.client, world.token, "keep-1", GB_OPEN_INVOICE_ID, amount_minor=1250)
    await world.invoicing.clear_faults()
    # then the stored result without the stored invoice, which is stale: beside what is
    # read live (amountPending) it would show the second payment as money on its way
    assert replay == {**first, "invoice": None, "replayed": True}


async def test_a_replay_for_a_token_that_may_not_read_invoices_reads_none(
    world: World, saga_key: rsa.RSAPrivateKey
) -> None:
    # given a payment made by a partner token that may pay but not read invoices
    payer = partner(saga_key, "payments:write", "payments:read")
    pay_input: Json = {
        "idempotencyKey": "no-read",
        "invoiceId": GB_OPEN_INVOICE_ID,
        "amount": {"amount": "12.50", "currency": "GBP"},
        "paymentMethod": "pm_card_ok",
    }
    done = await run(world, PAY_ERRORS_ONLY, pay_input, payer)
    assert done == {"userErrors": [], "replayed": False}
    await world.invoicing.clear_calls()
    # when it retries
    again = await run(world, PAY_ERRORS_ONLY, pay_input, payer)
    # then the replay read nothing from the invoicing service
    assert again == {"userErrors": [], "replayed": True}
    assert await world.invoicing.calls() == []
