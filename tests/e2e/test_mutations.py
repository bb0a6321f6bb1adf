"""The six mutations, one behaviour at a time: what each does, what a retry with the same
idempotency key does, how every business failure and every bad input is answered, and
how an unknown downstream outcome is resumed without doing anything twice.

What reached the downstream services is read from the sandbox's call log: a mutation that
fails validation or is answered from the idempotency store must not have sent a POST.
Business failures are userErrors: every answer here is HTTP 200 without top-level errors.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import (
    CUSTOMERS,
    FAILED_PAYMENT_ID,
    FULLY_REFUNDED_PAYMENT_ID,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_DRAFT_INVOICE_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    GB_VOID_INVOICE_ID,
    IN_BUSINESS_ID,
    INVOICES,
    JPY_INVOICE_ID,
    KWD_BUSINESS_ID,
    KWD_OPEN_INVOICE_ID,
    PAYMENTS,
    PENDING_PAYMENT_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory
from tests.e2e.mutation_helpers import (
    CREATE_CUSTOMER,
    CREATE_INVOICE,
    DUE_DATE,
    FINALIZE_INVOICE,
    JSON,
    OTHER_INPUT,
    PAY_INVOICE,
    REFUND_PAYMENT,
    REUSED_MESSAGE,
    SPECS,
    UNAVAILABLE_MESSAGE,
    VOID_INVOICE,
    Call,
    Sandbox,
    Spec,
    execute,
    invoice_view,
    money,
    mutate,
    payment_view,
    seed_payment_view,
    valid_input,
)

ALICE = "user_alice"
BOB = "user_bob"

OPEN_INVOICE = next(i for i in INVOICES if i.id == GB_OPEN_INVOICE_ID)
OPEN_DUE = OPEN_INVOICE.amount_due  # 581.23 GBP, nothing paid
CARD_PAYMENT = next(p for p in PAYMENTS if p.id == SUCCEEDED_PAYMENT_ID)  # 660.99 GBP
GB_INVOICE_COUNT = sum(1 for i in INVOICES if i.business_id == GB_BUSINESS_ID)
GB_CUSTOMER_COUNT = sum(1 for c in CUSTOMERS if c.business_id == GB_BUSINESS_ID)
OPEN_INVOICE_PAYMENTS = sum(1 for p in PAYMENTS if p.invoice_id == GB_OPEN_INVOICE_ID)

KEY_MESSAGE = (
    "idempotencyKey must be 1 to 255 visible ASCII characters"
    " (letters, digits, punctuation; no spaces or control characters)"
)
METHOD_MESSAGE = "paymentMethod must be 1 to 64 visible ASCII characters (no spaces)"


@pytest.fixture
def sandbox(downstreams: Downstreams) -> Sandbox:
    return Sandbox(downstreams)


@pytest.fixture
def alice(token_for: TokenFactory) -> str:
    """An owner of the GB business (and of nothing else)."""
    return token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=ALICE)


@pytest.fixture
def bob(token_for: TokenFactory) -> str:
    """Another owner of the same business: another user, another key space."""
    return token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=BOB)


def assert_one_write_each(posts: list[Call], spec: Spec, subject: str, client_key: str) -> None:
    """Exactly the POSTs a success of `spec` needs, each once, each naming the acting user
    and carrying a derived key (never the client's own key)."""
    assert sorted((c.service, c.path) for c in posts) == sorted(spec.posts)
    for call in posts:
        assert call.actor_id == subject
        assert call.idempotency_key is not None
        assert call.idempotency_key.startswith("gw1-")
        assert call.idempotency_key != client_key
        assert client_key not in call.idempotency_key
    assert len({c.idempotency_key for c in posts}) == len(posts)


def without_replayed(payload: JSON) -> JSON:
    return {name: value for name, value in payload.items() if name != "replayed"}


# == happy paths ============================================================================


async def test_create_customer_creates_one_customer_with_what_was_sent(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    # given
    input_ = valid_input(CREATE_CUSTOMER, "cust-1")
    await sandbox.take()
    # when
    payload = await mutate(gateway, CREATE_CUSTOMER, alice, input_)
    # then
    customer_id = payload["customer"]["id"]
    assert customer_id.startswith("cus_")
    assert payload == {
        "customer": {
            "id": customer_id,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
            "business": {"id": GB_BUSINESS_ID},
        },
        "userErrors": [],
        "replayed": False,
    }
    assert_one_write_each(await sandbox.take_posts(), CREATE_CUSTOMER, ALICE, "cust-1")


async def test_create_customer_without_contact_details(
    gateway: httpx.AsyncClient, alice: str
) -> None:
    input_ = {"idempotencyKey": "cust-min", "businessId": GB_BUSINESS_ID, "name": "Bare"}
    payload = await mutate(gateway, CREATE_CUSTOMER, alice, input_)
    assert payload["customer"] == {
        "id": payload["customer"]["id"],
        "name": "Bare",
        "email": None,
        "phone": None,
        "business": {"id": GB_BUSINESS_ID},
    }
    assert payload["userErrors"] == []


async def test_create_invoice_creates_a_draft_with_totals_and_half_even_tax(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    # given 3 x 12.50 + 1 x 0.15 = 37.65 at 10 %: tax 3.765 rounds half-even to 3.76
    input_ = valid_input(CREATE_INVOICE, "inv-1")
    await sandbox.take()
    # when
    payload = await mutate(gateway, CREATE_INVOICE, alice, input_)
    # then
    invoice_id = payload["invoice"]["id"]
    assert invoice_id.startswith("inv_")
    assert payload == {
        "invoice": {
            "id": invoice_id,
            "status": "DRAFT",
            "currency": "GBP",
            "taxRateBps": 1000,
            "dueDate": DUE_DATE,
            "subtotal": money(3765),
            "tax": money(376),
            "total": money(4141),
            "amountPaid": money(0),
            "amountDue": money(4141),
            "lines": [
                {
                    "description": "Widget",
                    "quantity": 3,
                    "unitAmount": money(1250),
                    "amount": money(3750),
                },
                {
                    "description": "Setup",
                    "quantity": 1,
                    "unitAmount": money(15),
                    "amount": money(15),
                },
            ],
            "customer": {"id": GB_CUSTOMER_ID},
            "business": {"id": GB_BUSINESS_ID},
        },
        "userErrors": [],
        "replayed": False,
    }
    assert_one_write_each(await sandbox.take_posts(), CREATE_INVOICE, ALICE, "inv-1")


@pytest.mark.parametrize(
    ("currency", "lines", "bps", "subtotal", "tax", "total"),
    [
        # ties go to the even neighbour: 2.5 -> 2, 3.5 -> 4
        ("GBP", [(1, "0.25")], 1000, "0.25", "0.02", "0.27"),
        ("GBP", [(1, "0.35")], 1000, "0.35", "0.04", "0.39"),
        ("JPY", [(3, "5")], 1000, "15", "2", "17"),
        ("JPY", [(5, "5")], 1000, "25", "2", "27"),
        ("KWD", [(1, "1.005")], 1000, "1.005", "0.100", "1.105"),
        # zero-priced lines are allowed; no tax by default
        ("GBP", [(2, "0"), (1, "10")], None, "10.00", "0.00", "10.00"),
        ("GBP", [(1, "12.5")], 10000, "12.50", "12.50", "25.00"),
    ],
)
async def test_create_invoice_totals_in_each_currency(
    gateway: httpx.AsyncClient,
    alice: str,
    currency: str,
    lines: list[tuple[int, str]],
    bps: int | None,
    subtotal: str,
    tax: str,
    total: str,
) -> None:
    changes: JSON = {
        "currency": currency,
        "lines": [{"description": "Item", "quantity": q, "unitAmount": u} for q, u in lines],
    }
    input_ = valid_input(CREATE_INVOICE, "inv-totals", **changes, taxRateBps=bps)
    if bps is None:
        del input_["taxRateBps"]  # the schema's default, 0
    payload = await mutate(gateway, CREATE_INVOICE, alice, input_)
    invoice = payload["invoice"]
    assert payload["userErrors"] == []
    assert (invoice["currency"], invoice["taxRateBps"]) == (currency, bps or 0)
    assert [invoice[name] for name in ("subtotal", "tax", "total", "amountDue")] == [
        {"amount": subtotal, "currency": currency},
        {"amount": tax, "currency": currency},
        {"amount": total, "currency": currency},
        {"amount": total, "currency": currency},
    ]


async def test_finalize_invoice_opens_a_draft(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    await sandbox.take()
    payload = await mutate(gateway, FINALIZE_INVOICE, alice, valid_input(FINALIZE_INVOICE, "fin-1"))
    assert payload == {
        "invoice": invoice_view(GB_DRAFT_INVOICE_ID, status="OPEN"),
        "userErrors": [],
        "replayed": False,
    }
    assert_one_write_each(await sandbox.take_posts(), FINALIZE_INVOICE, ALICE, "fin-1")


async def test_void_invoice_voids_an_open_invoice(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    await sandbox.take()
    payload = await mutate(gateway, VOID_INVOICE, alice, valid_input(VOID_INVOICE, "void-1"))
    assert payload == {
        "invoice": invoice_view(GB_OPEN_INVOICE_ID, status="VOID"),
        "userErrors": [],
        "replayed": False,
    }
    assert_one_write_each(await sandbox.take_posts(), VOID_INVOICE, ALICE, "void-1")


async def test_void_invoice_voids_a_draft(gateway: httpx.AsyncClient, alice: str) -> None:
    input_ = valid_input(VOID_INVOICE, "void-draft", invoiceId=GB_DRAFT_INVOICE_ID)
    payload = await mutate(gateway, VOID_INVOICE, alice, input_)
    assert payload == {
        "invoice": invoice_view(GB_DRAFT_INVOICE_ID, status="VOID"),
        "userErrors": [],
        "replayed": False,
    }


async def test_pay_invoice_charges_and_records_the_payment(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    await sandbox.take()
    payload = await mutate(gateway, PAY_INVOICE, alice, valid_input(PAY_INVOICE, "pay-1"))
    payment_id = payload["payment"]["id"]
    assert payment_id.startswith("pay_")
    assert payload == {
        "payment": payment_view(payment_id, GB_OPEN_INVOICE_ID, 1250, "pm_card_ok"),
        "invoice": invoice_view(
            GB_OPEN_INVOICE_ID, amountPaid=money(1250), amountDue=money(OPEN_DUE - 1250)
        ),
        "userErrors": [],
        "replayed": False,
    }
    # one charge (payments) and one record of it on the invoice (invoicing)
    assert_one_write_each(await sandbox.take_posts(), PAY_INVOICE, ALICE, "pay-1")


async def test_pay_invoice_by_default_pays_exactly_the_amount_due(
    gateway: httpx.AsyncClient, alice: str
) -> None:
    input_ = valid_input(PAY_INVOICE, "pay-all", amount=None)
    payload = await mutate(gateway, PAY_INVOICE, alice, input_)
    payment_id = payload["payment"]["id"]
    assert payload == {
        "payment": payment_view(payment_id, GB_OPEN_INVOICE_ID, OPEN_DUE, "pm_card_ok"),
        "invoice": invoice_view(
            GB_OPEN_INVOICE_ID, status="PAID", amountPaid=money(OPEN_DUE), amountDue=money(0)
        ),
        "userErrors": [],
        "replayed": False,
    }


async def test_a_partial_payment_then_the_rest_pays_the_invoice(
    gateway: httpx.AsyncClient, alice: str
) -> None:
    # given a first payment of 100.00
    first = await mutate(
        gateway,
        PAY_INVOICE,
        alice,
        valid_input(PAY_INVOICE, "part-1", amount={"amount": "100", "currency": "GBP"}),
    )
    assert first["invoice"]["status"] == "OPEN"
    assert (first["invoice"]["amountPaid"], first["invoice"]["amountDue"]) == (
        money(10000),
        money(OPEN_DUE - 10000),
    )
    # when the rest is paid with the default amount
    rest = await mutate(
        gateway, PAY_INVOICE, alice, valid_input(PAY_INVOICE, "part-2", amount=None)
    )
    # then exactly what was left was charged, and the invoice is paid
    assert rest["userErrors"] == []
    assert rest["payment"]["amount"] == money(OPEN_DUE - 10000)
    assert rest["payment"]["id"] != first["payment"]["id"]
    assert rest["invoice"] == invoice_view(
        GB_OPEN_INVOICE_ID, status="PAID", amountPaid=money(OPEN_DUE), amountDue=money(0)
    )
    # and a further payment finds nothing due
    again = await mutate(gateway, PAY_INVOICE, alice, valid_input(PAY_INVOICE, "part-3"))
    assert again["userErrors"][0]["code"] == "INVALID_STATE"


async def test_refund_payment_refunds_part_of_a_payment(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    await sandbox.take()
    payload = await mutate(gateway, REFUND_PAYMENT, alice, valid_input(REFUND_PAYMENT, "ref-1"))
    refund_id = payload["refund"]["id"]
    assert refund_id.startswith("re_")
    assert payload == {
        "refund": {
            "id": refund_id,
            "status": "SUCCEEDED",
            "amount": money(1250),
            "reason": "REQUESTED_BY_CUSTOMER",
            "payment": {"id": SUCCEEDED_PAYMENT_ID},
        },
        "payment": seed_payment_view(SUCCEEDED_PAYMENT_ID, amountRefunded=money(1250)),
        "userErrors": [],
        "replayed": False,
    }
    assert_one_write_each(await sandbox.take_posts(), REFUND_PAYMENT, ALICE, "ref-1")


async def test_refund_payment_by_default_refunds_everything_left(
    gateway: httpx.AsyncClient, alice: str
) -> None:
    # given 12.50 refunded already
    await mutate(gateway, REFUND_PAYMENT, alice, valid_input(REFUND_PAYMENT, "ref-part"))
    # when the rest is refunded without an amount or reason
    input_ = valid_input(REFUND_PAYMENT, "ref-rest", amount=None, reason=None)
    payload = await mutate(gateway, REFUND_PAYMENT, alice, input_)
    # then
    assert payload == {
        "refund": {
            "id": payload["refund"]["id"],
            "status": "SUCCEEDED",
            "amount": money(CARD_PAYMENT.amount - 1250),
            "reason": None,
            "payment": {"id": SUCCEEDED_PAYMENT_ID},
        },
        "payment": seed_payment_view(
            SUCCEEDED_PAYMENT_ID, amountRefunded=money(CARD_PAYMENT.amount)
        ),
        "userErrors": [],
        "replayed": False,
    }


@pytest.mark.parametrize(
    ("business_id", "invoice_id", "amount", "minor", "shown"),
    [
        # KWD has 3 decimals, JPY none
        (KWD_BUSINESS_ID, KWD_OPEN_INVOICE_ID, {"amount": "1.5", "currency": "KWD"}, 1500, "1.500"),
        (IN_BUSINESS_ID, JPY_INVOICE_ID, {"amount": "100", "currency": "JPY"}, 100, "100"),
    ],
    ids=["KWD", "JPY"],
)
async def test_pay_invoice_in_currencies_with_other_decimals(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    business_id: str,
    invoice_id: str,
    amount: JSON,
    minor: int,
    shown: str,
) -> None:
    owner = token_for([(business_id, Role.OWNER)], subject=ALICE)
    invoice = next(i for i in INVOICES if i.id == invoice_id)
    currency = amount["currency"]
    input_ = valid_input(PAY_INVOICE, f"pay-{currency}", invoiceId=invoice_id, amount=amount)
    payload = await mutate(gateway, PAY_INVOICE, owner, input_)
    assert payload == {
        "payment": payment_view(
            payload["payment"]["id"], invoice_id, minor, "pm_card_ok", currency=currency
        ),
        "invoice": invoice_view(
            invoice_id,
            amountPaid=money(invoice.amount_paid + minor, currency),
            amountDue=money(invoice.amount_due - minor, currency),
        ),
        "userErrors": [],
        "replayed": False,
    }
    assert payload["payment"]["amount"]["amount"] == shown


@pytest.mark.parametrize("name", ["Zoë Ünicode", "李雷", "O'Brien & Sons <b>", "n" * 200])
async def test_a_customer_name_is_stored_exactly_as_sent(
    gateway: httpx.AsyncClient, alice: str, name: str
) -> None:
    payload = await mutate(
        gateway, CREATE_CUSTOMER, alice, valid_input(CREATE_CUSTOMER, "name-1", name=name)
    )
    assert (payload["userErrors"], payload["customer"]["name"]) == ([], name)


# == idempotency ============================================================================

# A retry that selects other fields of the same objects.
OTHER_SELECTIONS: dict[str, dict[str, str]] = {
    "createCustomer": {"customer": "id __typename"},
    "createInvoice": {"invoice": "id status isOverdue"},
    "finalizeInvoice": {"invoice": "id status"},
    "voidInvoice": {"invoice": "id status"},
    "payInvoice": {"payment": "id status", "invoice": "id status"},
    "refundPayment": {"refund": "id status", "payment": "id"},
}


def object_ids(payload: JSON) -> dict[str, str | None]:
    return {
        name: (value or {}).get("id")
        for name, value in payload.items()
        if name not in ("userErrors", "replayed")
    }


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_retry_with_the_same_key_and_input_is_replayed_without_a_downstream_write(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox, spec: Spec
) -> None:
    # given a mutation that succeeded
    input_ = valid_input(spec, "replay-1")
    first = await mutate(gateway, spec, alice, input_)
    assert first["userErrors"] == []
    await sandbox.take()
    # when it is sent again with the same key and input
    second = await mutate(gateway, spec, alice, input_)
    # then the same result is replayed, and nothing is written downstream
    assert second["replayed"] is True
    assert without_replayed(second) == without_replayed(first)
    # and a retry selecting other fields gets the same objects
    third = await mutate(gateway, spec, alice, input_, OTHER_SELECTIONS[spec.name])
    assert third["replayed"] is True
    assert third["userErrors"] == []
    assert object_ids(third) == object_ids(first)
    assert await sandbox.take_posts() == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_the_same_key_with_other_input_is_refused_without_any_downstream_call(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox, spec: Spec
) -> None:
    # given
    first = await mutate(gateway, spec, alice, valid_input(spec, "reuse-1"))
    assert first["userErrors"] == []
    await sandbox.take()
    # when
    other = valid_input(spec, "reuse-1", **OTHER_INPUT[spec.name])
    payload = await mutate(gateway, spec, alice, other)
    # then
    assert payload == spec.failed(
        "IDEMPOTENCY_KEY_REUSED", REUSED_MESSAGE, "input", "idempotencyKey"
    )
    assert await sandbox.take() == []
    # and the original is still what the key replays
    again = await mutate(gateway, spec, alice, valid_input(spec, "reuse-1"))
    assert (again["replayed"], object_ids(again)) == (True, object_ids(first))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_the_same_key_from_another_user_runs_on_its_own(
    gateway: httpx.AsyncClient, alice: str, bob: str, sandbox: Sandbox, spec: Spec
) -> None:
    # given alice used the key
    await sandbox.take()
    first = await mutate(gateway, spec, alice, valid_input(spec, "shared-key"))
    assert first["userErrors"] == []
    alices = await sandbox.take_posts()
    # when bob sends the same key and input
    second = await mutate(gateway, spec, bob, valid_input(spec, "shared-key"))
    # then bob's request ran (no replay of alice's result)
    assert second["replayed"] is False
    bobs = await sandbox.take_posts()
    if spec in (FINALIZE_INVOICE, VOID_INVOICE):
        # alice already moved the invoice on: bob's own attempt is refused for its state,
        # before anything is sent
        state = "open" if spec is FINALIZE_INVOICE else "void"
        rule = "a draft" if spec is FINALIZE_INVOICE else "a draft or open"
        verb = "finalized" if spec is FINALIZE_INVOICE else "voided"
        message = f"Only {rule} invoice can be {verb}; this one is {state}."
        assert second == spec.failed("INVALID_STATE", message, "input", "invoiceId")
        assert bobs == []
        return
    # with keys of his own
    assert bobs, "bob's mutation sent nothing downstream"
    assert {c.actor_id for c in bobs} == {BOB}
    assert not {c.idempotency_key for c in bobs} & {c.idempotency_key for c in alices}
    assert second["userErrors"] == []
    created = next(iter(spec.objects))
    assert second[created]["id"] != first[created]["id"]


async def test_the_same_key_for_two_mutations_is_two_keys(
    gateway: httpx.AsyncClient, alice: str
) -> None:
    # createCustomer and createInvoice with one key
    customer = await mutate(gateway, CREATE_CUSTOMER, alice, valid_input(CREATE_CUSTOMER, "k"))
    invoice = await mutate(gateway, CREATE_INVOICE, alice, valid_input(CREATE_INVOICE, "k"))
    assert (customer["userErrors"], customer["replayed"]) == ([], False)
    assert (invoice["userErrors"], invoice["replayed"]) == ([], False)
    # finalize then void of the same invoice with one key: identical inputs, two mutations
    finalized = await mutate(
        gateway, FINALIZE_INVOICE, alice, valid_input(FINALIZE_INVOICE, "same")
    )
    voided = await mutate(
        gateway,
        VOID_INVOICE,
        alice,
        valid_input(VOID_INVOICE, "same", invoiceId=GB_DRAFT_INVOICE_ID),
    )
    assert (finalized["invoice"]["status"], finalized["replayed"]) == ("OPEN", False)
    assert (voided["invoice"]["status"], voided["replayed"], voided["userErrors"]) == (
        "VOID",
        False,
        [],
    )


@pytest.mark.parametrize(
    ("spec", "first", "second"),
    [
        (
            PAY_INVOICE,
            {"amount": {"amount": "12.5", "currency": "GBP"}},
            {"amount": {"amount": "12.50", "currency": "GBP"}},
        ),
        (
            REFUND_PAYMENT,
            {"amount": {"amount": "12.50", "currency": "GBP"}},
            {"amount": {"amount": "12.5", "currency": "GBP"}},
        ),
        (
            CREATE_INVOICE,
            {"lines": [{"description": "A", "quantity": 1, "unitAmount": "12.5"}]},
            {"lines": [{"description": "A", "quantity": 1, "unitAmount": "12.50"}]},
        ),
        (
            PAY_INVOICE,
            {"amount": {"amount": "100", "currency": "GBP"}},
            {"amount": {"amount": "100.00", "currency": "GBP"}},
        ),
    ],
    ids=["pay 12.5/12.50", "refund 12.50/12.5", "invoice line 12.5/12.50", "pay 100/100.00"],
)
async def test_two_spellings_of_one_amount_are_the_same_input(
    gateway: httpx.AsyncClient,
    alice: str,
    sandbox: Sandbox,
    spec: Spec,
    first: JSON,
    second: JSON,
) -> None:
    original = await mutate(gateway, spec, alice, valid_input(spec, "spelling", **first))
    assert original["userErrors"] == []
    await sandbox.take()
    retry = await mutate(gateway, spec, alice, valid_input(spec, "spelling", **second))
    assert retry["replayed"] is True
    assert without_replayed(retry) == without_replayed(original)
    assert await sandbox.take_posts() == []


# == business failures ======================================================================


@dataclass(frozen=True)
class Failure:
    id: str
    spec: Spec
    changes: JSON
    expected: JSON
    # (service, path) of the POSTs the refusal costs (a downstream refusal costs one).
    posts: tuple[tuple[str, str], ...] = ()
    # The payload object whose id is new (a failed payment): taken from the answer.
    new_object: str | None = None


def _error(code: str, message: str, *path: str) -> list[JSON]:
    return [{"code": code, "message": message, "field": list(path) or None}]


FAILURES = (
    [
        Failure(
            f"pay a {state} invoice",
            PAY_INVOICE,
            {"invoiceId": invoice_id},
            {
                "payment": None,
                "invoice": invoice_view(invoice_id),
                "userErrors": _error(
                    "INVALID_STATE",
                    f"Only an open invoice can be paid; this one is {state}.",
                    "input",
                    "invoiceId",
                ),
            },
        )
        for state, invoice_id in (
            ("draft", GB_DRAFT_INVOICE_ID),
            ("paid", GB_PAID_INVOICE_ID),
            ("void", GB_VOID_INVOICE_ID),
        )
    ]
    + [
        Failure(
            "pay more than is due",
            PAY_INVOICE,
            {"amount": money(OPEN_DUE + 1)},
            {
                "payment": None,
                "invoice": invoice_view(GB_OPEN_INVOICE_ID),
                "userErrors": _error(
                    "AMOUNT_EXCEEDS_DUE",
                    "The amount is more than the invoice's amount due.",
                    "input",
                    "amount",
                    "amount",
                ),
            },
        ),
        Failure(
            "pay in another currency",
            PAY_INVOICE,
            {"amount": {"amount": "12.50", "currency": "EUR"}},
            {
                "payment": None,
                "invoice": invoice_view(GB_OPEN_INVOICE_ID),
                "userErrors": _error(
                    "CURRENCY_MISMATCH", "The invoice is in GBP.", "input", "amount", "currency"
                ),
            },
        ),
        Failure(
            "pay with a declined card",
            PAY_INVOICE,
            {"paymentMethod": "pm_card_declined"},
            {
                "payment": payment_view("?", GB_OPEN_INVOICE_ID, 1250, "pm_card_declined"),
                "invoice": invoice_view(GB_OPEN_INVOICE_ID),
                "userErrors": _error(
                    "PAYMENT_DECLINED", "The payment method was declined.", "input", "paymentMethod"
                ),
            },
            posts=(("payments", "/v1/payments"),),
            new_object="payment",
        ),
        Failure(
            "pay with insufficient funds",
            PAY_INVOICE,
            {"paymentMethod": "pm_card_insufficient_funds"},
            {
                "payment": payment_view(
                    "?", GB_OPEN_INVOICE_ID, 1250, "pm_card_insufficient_funds"
                ),
                "invoice": invoice_view(GB_OPEN_INVOICE_ID),
                "userErrors": _error(
                    "INSUFFICIENT_FUNDS",
                    "The payment method has insufficient funds.",
                    "input",
                    "paymentMethod",
                ),
            },
            posts=(("payments", "/v1/payments"),),
            new_object="payment",
        ),
    ]
    + [
        Failure(
            f"pay with {method}",
            PAY_INVOICE,
            {"paymentMethod": method},
            {
                "payment": None,
                "invoice": invoice_view(GB_OPEN_INVOICE_ID),
                "userErrors": _error(
                    "INVALID_INPUT",
                    "This payment method cannot be used for this invoice.",
                    "input",
                    "paymentMethod",
                ),
            },
            posts=(("payments", "/v1/payments"),),
        )
        # unknown to the payments service; UPI takes INR only
        for method in ("pm_nope", "pm_upi_ok")
    ]
    + [
        Failure(
            "refund more than is refundable",
            REFUND_PAYMENT,
            {"amount": money(CARD_PAYMENT.amount + 1)},
            {
                "refund": None,
                "payment": seed_payment_view(SUCCEEDED_PAYMENT_ID),
                "userErrors": _error(
                    "AMOUNT_EXCEEDS_REFUNDABLE",
                    "The amount is more than what is left to refund.",
                    "input",
                    "amount",
                    "amount",
                ),
            },
        ),
        Failure(
            "refund a fully refunded payment",
            REFUND_PAYMENT,
            {"paymentId": FULLY_REFUNDED_PAYMENT_ID, "amount": None},
            {
                "refund": None,
                "payment": seed_payment_view(FULLY_REFUNDED_PAYMENT_ID),
                "userErrors": _error(
                    "AMOUNT_EXCEEDS_REFUNDABLE",
                    "This payment is refunded in full.",
                    "input",
                    "paymentId",
                ),
            },
        ),
        Failure(
            "refund in another currency",
            REFUND_PAYMENT,
            {"amount": {"amount": "1.00", "currency": "USD"}},
            {
                "refund": None,
                "payment": seed_payment_view(SUCCEEDED_PAYMENT_ID),
                "userErrors": _error(
                    "CURRENCY_MISMATCH", "The payment is in GBP.", "input", "amount", "currency"
                ),
            },
        ),
    ]
    + [
        Failure(
            f"refund a {kind} payment",
            REFUND_PAYMENT,
            {"paymentId": payment_id, "amount": None},
            {
                "refund": None,
                "payment": seed_payment_view(payment_id),
                "userErrors": _error(
                    "INVALID_STATE",
                    f"Only a succeeded payment can be refunded; this one is {kind}.",
                    "input",
                    "paymentId",
                ),
            },
        )
        for kind, payment_id in (("failed", FAILED_PAYMENT_ID), ("pending", PENDING_PAYMENT_ID))
    ]
    + [
        # Refused by the gateway before anything is sent, naming the invoice's state and
        # the states allowed; the input at fault is the invoice, as for payInvoice's and
        # refundPayment's INVALID_STATE.
        Failure(
            f"{spec.name} of a {state} invoice",
            spec,
            {"invoiceId": invoice_id},
            {
                "invoice": None,
                "userErrors": _error("INVALID_STATE", message, "input", "invoiceId"),
            },
        )
        for spec, state, invoice_id, message in (
            (
                FINALIZE_INVOICE,
                "open",
                GB_OPEN_INVOICE_ID,
                "Only a draft invoice can be finalized; this one is open.",
            ),
            (
                FINALIZE_INVOICE,
                "paid",
                GB_PAID_INVOICE_ID,
                "Only a draft invoice can be finalized; this one is paid.",
            ),
            (
                FINALIZE_INVOICE,
                "void",
                GB_VOID_INVOICE_ID,
                "Only a draft invoice can be finalized; this one is void.",
            ),
            (
                VOID_INVOICE,
                "paid",
                GB_PAID_INVOICE_ID,
                "Only a draft or open invoice can be voided; this one is paid.",
            ),
            (
                VOID_INVOICE,
                "void",
                GB_VOID_INVOICE_ID,
                "Only a draft or open invoice can be voided; this one is void.",
            ),
        )
    ]
)


@pytest.mark.parametrize("case", FAILURES, ids=lambda c: c.id)
async def test_a_business_failure_is_a_user_error_and_is_replayed_on_retry(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox, case: Failure
) -> None:
    # given
    input_ = valid_input(case.spec, "fail-1", **case.changes)
    await sandbox.take()
    # when
    payload = await mutate(gateway, case.spec, alice, input_)
    # then
    expected = {**case.expected, "replayed": False}
    if case.new_object is not None:
        new_id = payload[case.new_object]["id"]
        assert new_id.startswith("pay_")
        expected[case.new_object] = {**expected[case.new_object], "id": new_id}
    assert payload == expected
    posts = await sandbox.take_posts()
    assert sorted((c.service, c.path) for c in posts) == sorted(case.posts)
    # and a retry with the same key replays the same failure, sending nothing
    retry = await mutate(gateway, case.spec, alice, input_)
    assert retry == {**expected, "replayed": True}
    assert await sandbox.take_posts() == []


async def test_a_bank_transfer_leaves_a_pending_payment_and_the_invoice_unpaid(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    input_ = valid_input(PAY_INVOICE, "bank-1", amount=None, paymentMethod="pm_bank_transfer")
    await sandbox.take()
    payload = await mutate(gateway, PAY_INVOICE, alice, input_)
    payment_id = payload["payment"]["id"]
    # nothing is recorded on the invoice until the transfer settles
    assert payload == {
        "payment": payment_view(payment_id, GB_OPEN_INVOICE_ID, OPEN_DUE, "pm_bank_transfer"),
        "invoice": invoice_view(GB_OPEN_INVOICE_ID),
        "userErrors": [],
        "replayed": False,
    }
    assert [(c.service, c.path) for c in await sandbox.take_posts()] == [
        ("payments", "/v1/payments")
    ]
    invoice = await sandbox.get("invoicing", f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
    assert (invoice["status"], invoice["amount_paid"]) == ("open", 0)


# == bad input ==============================================================================


def _amount_error(message: str) -> list[JSON]:
    return _error("INVALID_INPUT", message, "input", "amount", "amount")


PLAIN_GBP = "amount must be a plain decimal such as 12.50"

# (id, spec, changes, userErrors): every rule of app/mutations/inputs.py reachable through
# GraphQL. `changes` replace fields of a valid input.
BAD_INPUTS: list[tuple[str, Spec, JSON, list[JSON]]] = [
    *(
        (
            f"pay amount {text!r}",
            PAY_INVOICE,
            {"amount": {"amount": text, "currency": "GBP"}},
            _amount_error(PLAIN_GBP),
        )
        for text in (
            "-1",
            "-0",
            "+1",
            "1e3",
            "NaN",
            "Infinity",
            "١٢",
            "１２",
            "1_000",
            "1,000",
            " 12.50",
            "12.50 ",
            "",
            "012.50",
            ".5",
            "12.",
            "0x10",
        )
    ),
    (
        "pay amount '0'",
        PAY_INVOICE,
        {"amount": {"amount": "0", "currency": "GBP"}},
        _amount_error("amount must be greater than zero"),
    ),
    (
        "pay amount '0.00'",
        PAY_INVOICE,
        {"amount": {"amount": "0.00", "currency": "GBP"}},
        _amount_error("amount must be greater than zero"),
    ),
    (
        "pay amount 1.005 GBP",
        PAY_INVOICE,
        {"amount": {"amount": "1.005", "currency": "GBP"}},
        _amount_error("amount has more decimals than GBP allows (2)"),
    ),
    (
        "pay amount 12.5 JPY",
        PAY_INVOICE,
        {"amount": {"amount": "12.5", "currency": "JPY"}},
        _amount_error("amount has more decimals than JPY allows (0)"),
    ),
    (
        "pay amount 1.0005 KWD",
        PAY_INVOICE,
        {"amount": {"amount": "1.0005", "currency": "KWD"}},
        _amount_error("amount has more decimals than KWD allows (3)"),
    ),
    (
        "pay amount 1e3 JPY",
        PAY_INVOICE,
        {"amount": {"amount": "1e3", "currency": "JPY"}},
        _amount_error("amount must be a plain decimal such as 12"),
    ),
    (
        "pay amount over 10^11 pence",
        PAY_INVOICE,
        {"amount": {"amount": "1000000000.01", "currency": "GBP"}},
        _amount_error("amount is larger than the maximum 1000000000.00 GBP"),
    ),
    (
        "pay amount over 10^11 yen",
        PAY_INVOICE,
        {"amount": {"amount": "100000000001", "currency": "JPY"}},
        _amount_error("amount is larger than the maximum 100000000000 JPY"),
    ),
    (
        "pay amount over 10^11 fils",
        PAY_INVOICE,
        {"amount": {"amount": "100000000.001", "currency": "KWD"}},
        _amount_error("amount is larger than the maximum 100000000.000 KWD"),
    ),
    *(
        (f"payment method {method!r}", PAY_INVOICE, {"paymentMethod": method}, problems)
        for method, problems in (
            ("", _error("INVALID_INPUT", METHOD_MESSAGE, "input", "paymentMethod")),
            ("pm card", _error("INVALID_INPUT", METHOD_MESSAGE, "input", "paymentMethod")),
            ("pm_" + "x" * 62, _error("INVALID_INPUT", METHOD_MESSAGE, "input", "paymentMethod")),
            ("pm_carte_é", _error("INVALID_INPUT", METHOD_MESSAGE, "input", "paymentMethod")),
        )
    ),
    (
        "pay: every problem at once",
        PAY_INVOICE,
        {"amount": {"amount": "-1", "currency": "GBP"}, "paymentMethod": ""},
        _amount_error(PLAIN_GBP)
        + _error("INVALID_INPUT", METHOD_MESSAGE, "input", "paymentMethod"),
    ),
    *(
        (
            f"refund amount {text!r}",
            REFUND_PAYMENT,
            {"amount": {"amount": text, "currency": currency}},
            _amount_error(message),
        )
        for text, currency, message in (
            ("0", "GBP", "amount must be greater than zero"),
            ("-1", "GBP", PLAIN_GBP),
            ("1e3", "GBP", PLAIN_GBP),
            ("NaN", "GBP", PLAIN_GBP),
            ("1.005", "GBP", "amount has more decimals than GBP allows (2)"),
            ("1000000000.01", "GBP", "amount is larger than the maximum 1000000000.00 GBP"),
        )
    ),
    *(
        (
            f"unit amount {text!r} {currency}",
            CREATE_INVOICE,
            {
                "currency": currency,
                "lines": [{"description": "A", "quantity": 1, "unitAmount": text}],
            },
            _error("INVALID_INPUT", message, "input", "lines", "0", "unitAmount"),
        )
        for text, currency, message in (
            ("-1", "GBP", "unitAmount must be a plain decimal such as 12.50"),
            ("-0", "GBP", "unitAmount must be a plain decimal such as 12.50"),
            ("1e3", "GBP", "unitAmount must be a plain decimal such as 12.50"),
            ("Infinity", "GBP", "unitAmount must be a plain decimal such as 12.50"),
            ("١٢", "GBP", "unitAmount must be a plain decimal such as 12.50"),
            ("", "GBP", "unitAmount must be a plain decimal such as 12.50"),
            ("1.005", "GBP", "unitAmount has more decimals than GBP allows (2)"),
            ("12.5", "JPY", "unitAmount has more decimals than JPY allows (0)"),
            ("1.0005", "KWD", "unitAmount has more decimals than KWD allows (3)"),
            ("1e3", "KWD", "unitAmount must be a plain decimal such as 12.500"),
            ("1000000000.01", "GBP", "unitAmount is larger than the maximum 1000000000.00 GBP"),
        )
    ),
    *(
        (
            f"quantity {quantity}",
            CREATE_INVOICE,
            {"lines": [{"description": "A", "quantity": quantity, "unitAmount": "1"}]},
            _error(
                "INVALID_INPUT",
                "quantity must be between 1 and 1000000",
                "input",
                "lines",
                "0",
                "quantity",
            ),
        )
        for quantity in (0, -1, 1_000_001)
    ),
    *(
        (
            f"description {label}",
            CREATE_INVOICE,
            {"lines": [{"description": text, "quantity": 1, "unitAmount": "1"}]},
            _error("INVALID_INPUT", message, "input", "lines", "0", "description"),
        )
        for label, text, message in (
            ("empty", "", "description must be 1 to 500 characters"),
            ("501 chars", "d" * 501, "description must be 1 to 500 characters"),
            ("blank", "   ", "description must not be blank"),
            (
                "with a control character",
                "a\x07b",
                "description must not contain control characters",
            ),
        )
    ),
    *(
        (
            f"{count} lines",
            CREATE_INVOICE,
            {"lines": [{"description": "A", "quantity": 1, "unitAmount": "1"}] * count},
            _error("INVALID_INPUT", "lines must contain 1 to 100 lines", "input", "lines"),
        )
        for count in (0, 101)
    ),
    (
        "the second line at fault",
        CREATE_INVOICE,
        {
            "lines": [
                {"description": "ok", "quantity": 1, "unitAmount": "1"},
                {"description": "bad", "quantity": 0, "unitAmount": "1"},
            ]
        },
        _error(
            "INVALID_INPUT",
            "quantity must be between 1 and 1000000",
            "input",
            "lines",
            "1",
            "quantity",
        ),
    ),
    (
        "lines over the maximum invoice total",
        CREATE_INVOICE,
        {"lines": [{"description": "A", "quantity": 1_000_000, "unitAmount": "1000000000"}] * 2},
        _error(
            "INVALID_INPUT",
            "lines add up to more than the maximum invoice total 1000000000000000.00 GBP"
            " (including tax)",
            "input",
            "lines",
        ),
    ),
    *(
        (
            f"taxRateBps {bps}",
            CREATE_INVOICE,
            {"taxRateBps": bps},
            _error(
                "INVALID_INPUT", "taxRateBps must be between 0 and 10000", "input", "taxRateBps"
            ),
        )
        for bps in (-1, 10_001)
    ),
    (
        "createInvoice: every problem at once",
        CREATE_INVOICE,
        {
            "taxRateBps": -1,
            "lines": [{"description": "", "quantity": 0, "unitAmount": "x"}],
        },
        _error("INVALID_INPUT", "taxRateBps must be between 0 and 10000", "input", "taxRateBps")
        + _error(
            "INVALID_INPUT",
            "description must be 1 to 500 characters",
            "input",
            "lines",
            "0",
            "description",
        )
        + _error(
            "INVALID_INPUT",
            "quantity must be between 1 and 1000000",
            "input",
            "lines",
            "0",
            "quantity",
        )
        + _error(
            "INVALID_INPUT",
            "unitAmount must be a plain decimal such as 12.50",
            "input",
            "lines",
            "0",
            "unitAmount",
        ),
    ),
    *(
        (
            f"customer {name}",
            CREATE_CUSTOMER,
            changes,
            _error("INVALID_INPUT", message, "input", name.split()[0]),
        )
        for name, changes, message in (
            ("name empty", {"name": ""}, "name must be 1 to 200 characters"),
            ("name 201 chars", {"name": "n" * 201}, "name must be 1 to 200 characters"),
            ("name blank", {"name": " "}, "name must not be blank"),
            (
                "email without @",
                {"email": "ada.example.com"},
                "email must be one address such as name@example.com, without spaces",
            ),
            (
                "email with a space",
                {"email": "ada @example.com"},
                "email must be one address such as name@example.com, without spaces",
            ),
            (
                "phone too short",
                {"phone": "1234"},
                "phone must have at least 5 digits and only digits, spaces and + - ( ) .",
            ),
            (
                "phone with Arabic-Indic digits",
                {"phone": "١٢٣٤٥٦"},
                "phone must have at least 5 digits and only digits, spaces and + - ( ) .",
            ),
        )
    ),
]


@pytest.mark.parametrize(
    ("spec", "changes", "problems"),
    [pytest.param(spec, changes, problems, id=id_) for id_, spec, changes, problems in BAD_INPUTS],
)
async def test_bad_input_is_refused_and_changes_nothing(
    gateway: httpx.AsyncClient,
    alice: str,
    sandbox: Sandbox,
    spec: Spec,
    changes: JSON,
    problems: list[JSON],
) -> None:
    # given
    await sandbox.take()
    # when
    payload = await mutate(gateway, spec, alice, valid_input(spec, "bad-1", **changes))
    # then every problem is listed at its field, and nothing reached downstream
    assert payload == {**dict.fromkeys(spec.objects), "userErrors": problems, "replayed": False}
    assert await sandbox.take() == []
    # and nothing was stored: the same key with a valid input runs as new
    valid = await mutate(gateway, spec, alice, valid_input(spec, "bad-1"))
    assert (valid["userErrors"], valid["replayed"]) == ([], False)
    assert_one_write_each(await sandbox.take_posts(), spec, ALICE, "bad-1")


BAD_KEYS = {
    "empty": "",
    "256 chars": "k" * 256,
    "space": "with space",
    "non-ASCII": "clé",
}
MORE_BAD_KEYS = {
    "tab": "tab\tkey",
    "newline": "line\nbreak",
    "DEL": "\x7fdel",
    "fullwidth": "ｋｅｙ",
}


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        *(
            pytest.param(spec, key, id=f"{spec.name}-{label}")
            for spec in SPECS
            for label, key in BAD_KEYS.items()
        ),
        *(
            pytest.param(CREATE_CUSTOMER, key, id=f"createCustomer-{label}")
            for label, key in MORE_BAD_KEYS.items()
        ),
    ],
)
async def test_a_bad_idempotency_key_is_refused_before_anything_happens(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox, spec: Spec, key: str
) -> None:
    await sandbox.take()
    payload = await mutate(gateway, spec, alice, valid_input(spec, key))
    assert payload == spec.failed("INVALID_INPUT", KEY_MESSAGE, "input", "idempotencyKey")
    assert await sandbox.take() == []


@pytest.mark.parametrize(
    "key", ["k" * 255, "!", "~a-Z_0.9:/"], ids=["255 chars", "1 char", "punct"]
)
async def test_the_longest_and_shortest_keys_are_accepted(
    gateway: httpx.AsyncClient, alice: str, key: str
) -> None:
    payload = await mutate(gateway, CREATE_CUSTOMER, alice, valid_input(CREATE_CUSTOMER, key))
    assert (payload["userErrors"], payload["replayed"]) == ([], False)
    again = await mutate(gateway, CREATE_CUSTOMER, alice, valid_input(CREATE_CUSTOMER, key))
    assert (again["replayed"], again["customer"]) == (True, payload["customer"])


# == unknown outcomes and resume ===========================================================

# The service each mutation writes to first (payInvoice: the charge).
FIRST_WRITE = {spec.name: spec.posts[0] for spec in SPECS}


async def objects_downstream(sandbox: Sandbox, spec: Spec) -> list[JSON]:
    """What the mutation's write made, as the sandbox lists it."""
    if spec is CREATE_CUSTOMER:
        found = await sandbox.listing(
            "invoicing", "/v1/customers", business_id=GB_BUSINESS_ID, limit="100"
        )
        return found[: len(found) - GB_CUSTOMER_COUNT]
    if spec is CREATE_INVOICE:
        found = await sandbox.listing(
            "invoicing", "/v1/invoices", business_id=GB_BUSINESS_ID, limit="100"
        )
        return found[: len(found) - GB_INVOICE_COUNT]
    if spec is PAY_INVOICE:
        found = await sandbox.listing("payments", "/v1/payments", invoice_ids=GB_OPEN_INVOICE_ID)
        return found[: len(found) - OPEN_INVOICE_PAYMENTS]
    if spec is REFUND_PAYMENT:
        return await sandbox.listing("payments", "/v1/refunds", payment_ids=SUCCEEDED_PAYMENT_ID)
    invoice_id = valid_input(spec, "-")["invoiceId"]
    return [await sandbox.get("invoicing", f"/v1/invoices/{invoice_id}")]


def assert_same_object(spec: Spec, payload: JSON, made: list[JSON]) -> None:
    if spec in (FINALIZE_INVOICE, VOID_INVOICE):
        expected_status = "open" if spec is FINALIZE_INVOICE else "void"
        assert [m["status"] for m in made] == [expected_status]
        assert payload["invoice"]["id"] == made[0]["id"]
        return
    assert len(made) == 1, made
    assert payload[next(iter(spec.objects))]["id"] == made[0]["id"]


def same_key_posts(posts: list[Call], target: tuple[str, str]) -> list[str | None]:
    return [c.idempotency_key for c in posts if (c.service, c.path) == target]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_500_is_an_unknown_outcome_that_a_retry_resumes_once(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox, spec: Spec
) -> None:
    # given the first write fails once with 500, which the boundary does not resend
    service, path = FIRST_WRITE[spec.name]
    await sandbox.faults(service, fail_next=1, fail_status=500, method="POST")
    await sandbox.take()
    input_ = valid_input(spec, "flaky-1")
    # when
    answer = await execute(gateway, spec, alice, input_)
    # then the client is told to retry with the same key: no object, no top-level error
    assert answer.status == 200
    assert answer.body == {
        "data": {spec.name: spec.failed("DOWNSTREAM_UNAVAILABLE", UNAVAILABLE_MESSAGE)}
    }
    # when it retries with the same key
    retry = await mutate(gateway, spec, alice, input_)
    # then it succeeds, having sent the failed write again under the same downstream key
    assert (retry["userErrors"], retry["replayed"]) == ([], False)
    keys = same_key_posts(await sandbox.take_posts(), (service, path))
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert_same_object(spec, retry, await objects_downstream(sandbox, spec))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_lost_response_is_resumed_with_the_object_made_the_first_time(
    gateway_factory: GatewayFactory, token_for: TokenFactory, sandbox: Sandbox, spec: Spec
) -> None:
    # given a gateway with a 1 s budget, and a write that commits but never answers
    gateway = await gateway_factory(request_timeout_seconds="1")
    alice = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=ALICE)
    service, path = FIRST_WRITE[spec.name]
    await sandbox.faults(service, hang_next=1, hang_after_commit=True, method="POST")
    await sandbox.take()
    input_ = valid_input(spec, "lost-1")
    # when
    started = time.monotonic()
    answer = await execute(gateway, spec, alice, input_)
    elapsed = time.monotonic() - started
    # then the gateway answers within its budget that the outcome is unknown
    assert elapsed < 1.8, elapsed
    assert answer.status == 200
    assert answer.body == {
        "data": {spec.name: spec.failed("DOWNSTREAM_UNAVAILABLE", UNAVAILABLE_MESSAGE)}
    }
    # when it retries with the same key, through a replica on the same database and
    # services with the default budget (only the first attempt is about the budget; a
    # busy machine must not fail the retry against a 1 s one)
    replica = await gateway_factory()
    retry = await mutate(replica, spec, alice, input_)
    # then it gets what the first attempt made, and nothing was made twice
    assert (retry["userErrors"], retry["replayed"]) == ([], False)
    keys = same_key_posts(await sandbox.take_posts(), (service, path))
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert_same_object(spec, retry, await objects_downstream(sandbox, spec))


async def test_a_payment_taken_but_not_recorded_is_recorded_by_the_retry(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    # given the charge succeeds but recording it on the invoice fails once with 500
    await sandbox.faults("invoicing", fail_next=1, fail_status=500, method="POST")
    await sandbox.take()
    input_ = valid_input(PAY_INVOICE, "record-1")
    # when
    first = await mutate(gateway, PAY_INVOICE, alice, input_)
    # then the client sees the payment that was taken, and is told to retry
    payment_id = first["payment"]["id"]
    taken = payment_view(payment_id, GB_OPEN_INVOICE_ID, 1250, "pm_card_ok")
    assert first == {
        "payment": taken,
        "invoice": None,
        "userErrors": [
            {
                "code": "DOWNSTREAM_UNAVAILABLE",
                "message": "The payment was taken; recording it on the invoice is delayed and "
                "will complete automatically. Retry with the same idempotency key to "
                "see the final result.",
                "field": None,
            }
        ],
        "replayed": False,
    }
    # when it retries
    retry = await mutate(gateway, PAY_INVOICE, alice, input_)
    # then the same payment is recorded, once, and nothing is charged again
    assert retry == {
        "payment": taken,
        "invoice": invoice_view(
            GB_OPEN_INVOICE_ID, amountPaid=money(1250), amountDue=money(OPEN_DUE - 1250)
        ),
        "userErrors": [],
        "replayed": False,
    }
    posts = await sandbox.take_posts()
    assert [c.path for c in posts if c.service == "payments"] == ["/v1/payments"]
    record = same_key_posts(posts, ("invoicing", f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments"))
    assert len(record) == 2
    assert record[0] == record[1]
    assert len(await objects_downstream(sandbox, PAY_INVOICE)) == 1


# The mutations that read the object they act on before writing, and where they read it.
FIRST_READ = {
    "createInvoice": "invoicing",  # the customer
    "finalizeInvoice": "invoicing",
    "voidInvoice": "invoicing",
    "payInvoice": "invoicing",
    "refundPayment": "payments",
}


@pytest.mark.parametrize("spec", [s for s in SPECS if s.name in FIRST_READ], ids=lambda s: s.name)
async def test_a_failed_read_before_the_write_is_retryable_with_the_same_key(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox, spec: Spec
) -> None:
    # given the read of the object fails once with 500
    await sandbox.faults(FIRST_READ[spec.name], fail_next=1, fail_status=500, method="GET")
    await sandbox.take()
    input_ = valid_input(spec, "read-fails")
    # when it is sent, then retried with the same key
    answer = await execute(gateway, spec, alice, input_)
    posts_before_retry = await sandbox.take_posts()
    retry = await execute(gateway, spec, alice, input_)
    # then the first is a userError (HTTP 200, no top-level error) and wrote nothing
    assert answer.status == 200
    assert answer.body == {
        "data": {spec.name: spec.failed("DOWNSTREAM_UNAVAILABLE", UNAVAILABLE_MESSAGE)}
    }
    assert posts_before_retry == []
    # and the key was freed: the retry runs (not IDEMPOTENCY_KEY_IN_USE) and succeeds
    assert "errors" not in retry.body, retry.body
    payload = retry.payload(spec.name)
    assert (payload["userErrors"], payload["replayed"]) == ([], False)
    assert_one_write_each(await sandbox.take_posts(), spec, ALICE, "read-fails")


# == concurrency ============================================================================


async def test_the_same_key_while_the_first_request_runs_is_in_use(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    # given a slow write
    await sandbox.faults("invoicing", latency_ms=300, method="POST")
    await sandbox.take()
    input_ = valid_input(CREATE_CUSTOMER, "busy-1")
    # when the same request is sent twice at once
    answers = await asyncio.gather(
        mutate(gateway, CREATE_CUSTOMER, alice, input_),
        mutate(gateway, CREATE_CUSTOMER, alice, input_),
    )
    # then one runs, the other is told the key is in use; one customer is made
    done = next(a for a in answers if a["customer"] is not None)
    busy = next(a for a in answers if a["customer"] is None)
    assert done["userErrors"] == []
    assert busy == CREATE_CUSTOMER.failed(
        "IDEMPOTENCY_KEY_IN_USE",
        "A request with this idempotency key is still running; retry shortly.",
        "input",
        "idempotencyKey",
    )
    assert len(await sandbox.take_posts()) == 1
    # and retrying after the first finished replays its customer
    retry = await mutate(gateway, CREATE_CUSTOMER, alice, input_)
    assert (retry["replayed"], retry["customer"]) == (True, done["customer"])


async def test_two_payments_of_one_invoice_at_once_charge_only_one(
    gateway: httpx.AsyncClient, alice: str, sandbox: Sandbox
) -> None:
    # given a slow charge
    await sandbox.faults("payments", latency_ms=300, method="POST")
    await sandbox.take()
    # when two keys pay the same invoice at once
    answers = await asyncio.gather(
        mutate(gateway, PAY_INVOICE, alice, valid_input(PAY_INVOICE, "race-1")),
        mutate(gateway, PAY_INVOICE, alice, valid_input(PAY_INVOICE, "race-2")),
    )
    # then one charges, the other is told to retry, having charged nothing
    paid = next(a for a in answers if a["payment"] is not None)
    refused = next(a for a in answers if a["payment"] is None)
    assert paid["userErrors"] == []
    # with the invoice as it stood when the refused request read it
    assert refused == {
        **PAY_INVOICE.failed(
            "PAYMENT_IN_PROGRESS",
            "Another payment for this invoice is in progress; retry shortly.",
            "input",
            "invoiceId",
        ),
        "invoice": invoice_view(GB_OPEN_INVOICE_ID),
    }
    assert [c.path for c in await sandbox.take_posts() if c.service == "payments"] == [
        "/v1/payments"
    ]
    # and the refused key was not kept: retried now, it pays
    refused_key = "race-2" if answers[0] is paid else "race-1"
    await sandbox.faults("payments")
    retry = await mutate(gateway, PAY_INVOICE, alice, valid_input(PAY_INVOICE, refused_key))
    assert (retry["userErrors"], retry["replayed"]) == ([], False)
    assert retry["invoice"]["amountPaid"] == money(2500)
