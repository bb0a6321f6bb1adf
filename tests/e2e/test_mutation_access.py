"""Who may run each mutation: ownership (IDOR), roles and partner scopes.

The expected permissions are written down here from the contracts README ("What each
role may do", the `scope` claim), not read back from app/auth/policy.py, so a drift of the
policy from the contract fails here. A refusal is a userError at the id input (NOT_FOUND
for another business's or a missing object, FORBIDDEN for a role or scope), sends nothing
downstream and leaves no trace in the idempotency store.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_DRAFT_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
    INVOICES,
    KWD_BUSINESS_ID,
    KWD_CUSTOMER_ID,
    PAYMENTS,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import Downstreams, TokenFactory
from tests.e2e.matrix_helpers import at, by_path
from tests.e2e.mutation_helpers import (
    CREATE_CUSTOMER,
    CREATE_INVOICE,
    FINALIZE_INVOICE,
    FORBIDDEN_MESSAGE,
    JSON,
    NOT_FOUND_MESSAGE,
    PAY_INVOICE,
    REFUND_PAYMENT,
    SPECS,
    VOID_INVOICE,
    Call,
    Sandbox,
    Spec,
    execute,
    mutate,
    scope_message,
    valid_input,
)

SUBJECT = "user_partner"
READ_SCOPES = ("businesses:read", "customers:read", "invoices:read", "payments:read")

# Objects of the IN business, in the state that would let the mutation succeed, so a
# missing ownership check would show as a success rather than as a business failure.
IN_DRAFT_INVOICE_ID = next(
    i.id for i in INVOICES if i.business_id == IN_BUSINESS_ID and i.status == "draft"
)
IN_REFUNDABLE_PAYMENT_ID = next(
    p.id
    for p in PAYMENTS
    if p.business_id == IN_BUSINESS_ID
    and p.status == "succeeded"
    and p.amount_refunded == 0
    and p.currency == "INR"
)


@pytest.fixture
def sandbox(downstreams: Downstreams) -> Sandbox:
    return Sandbox(downstreams)


def test_the_foreign_objects_exist_and_would_be_actionable() -> None:
    assert IN_DRAFT_INVOICE_ID.startswith("inv_IN")
    assert IN_REFUNDABLE_PAYMENT_ID.startswith("pay_IN")
    foreign_open = next(i for i in INVOICES if i.id == IN_OPEN_INVOICE_ID)
    assert (foreign_open.business_id, foreign_open.status) == (IN_BUSINESS_ID, "open")


# == IDOR ===================================================================================


@dataclass(frozen=True)
class IdCase:
    spec: Spec
    field: str
    foreign: str
    missing: str
    malformed: str
    # What else the input needs for the id to be the only thing at fault.
    changes: JSON


ID_CASES = [
    IdCase(CREATE_CUSTOMER, "businessId", IN_BUSINESS_ID, "biz_doesnotexist", "GBdemo", {}),
    IdCase(CREATE_INVOICE, "businessId", IN_BUSINESS_ID, "biz_doesnotexist", "biz GBdemo", {}),
    IdCase(
        CREATE_INVOICE,
        "customerId",
        IN_CUSTOMER_ID,
        "cus_doesnotexist",
        # a GB invoice's id: exists, is the caller's, but is not a customer
        GB_DRAFT_INVOICE_ID,
        {},
    ),
    IdCase(
        FINALIZE_INVOICE,
        "invoiceId",
        IN_DRAFT_INVOICE_ID,
        "inv_doesnotexist",
        f"{GB_DRAFT_INVOICE_ID}/../{GB_DRAFT_INVOICE_ID}",
        {},
    ),
    IdCase(
        VOID_INVOICE,
        "invoiceId",
        IN_OPEN_INVOICE_ID,
        "inv_doesnotexist",
        GB_CUSTOMER_ID,
        {},
    ),
    IdCase(
        PAY_INVOICE,
        "invoiceId",
        IN_OPEN_INVOICE_ID,
        "inv_doesnotexist",
        SUCCEEDED_PAYMENT_ID,
        # the foreign invoice is in INR: the amount would fit it
        {"amount": {"amount": "1.00", "currency": "INR"}},
    ),
    IdCase(
        REFUND_PAYMENT,
        "paymentId",
        IN_REFUNDABLE_PAYMENT_ID,
        "pay_doesnotexist",
        "PAY_GB0008",
        {"amount": None},
    ),
]


@pytest.mark.parametrize("kind", ["foreign", "missing", "malformed"])
@pytest.mark.parametrize("case", ID_CASES, ids=lambda c: f"{c.spec.name}.{c.field}")
async def test_another_business_s_id_is_answered_exactly_as_a_missing_one(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    sandbox: Sandbox,
    case: IdCase,
    kind: str,
) -> None:
    # given an owner of the GB business only
    owner = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT)
    object_id = {"foreign": case.foreign, "missing": case.missing, "malformed": case.malformed}
    input_ = valid_input(case.spec, "idor-1", **case.changes, **{case.field: object_id[kind]})
    await sandbox.take()
    # when
    payload = await mutate(gateway, case.spec, owner, input_)
    # then the same answer for all three kinds of id: NOT_FOUND at the id, never FORBIDDEN
    assert payload == case.spec.failed("NOT_FOUND", NOT_FOUND_MESSAGE, "input", case.field)
    assert await sandbox.take_posts() == []
    # and the refused key was forgotten: it now takes another, valid input
    valid = await mutate(gateway, case.spec, owner, valid_input(case.spec, "idor-1"))
    assert (valid["userErrors"], valid["replayed"]) == ([], False)


async def test_a_customer_of_another_of_the_caller_s_businesses_is_not_found(
    gateway: httpx.AsyncClient, token_for: TokenFactory, sandbox: Sandbox
) -> None:
    # given an owner of two businesses
    owner = token_for([(GB_BUSINESS_ID, Role.OWNER), (KWD_BUSINESS_ID, Role.OWNER)])
    await sandbox.take()
    # when a GB invoice is made out to the KWD business's customer
    input_ = valid_input(CREATE_INVOICE, "cross-1", customerId=KWD_CUSTOMER_ID)
    payload = await mutate(gateway, CREATE_INVOICE, owner, input_)
    # then
    assert payload == CREATE_INVOICE.failed("NOT_FOUND", NOT_FOUND_MESSAGE, "input", "customerId")
    assert await sandbox.take_posts() == []


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize(
    # (createInvoice's customerId is checked once the business, the caller's own, has
    # passed role and scope: a refusal there is FORBIDDEN at businessId for any customer.)
    "case",
    [c for c in ID_CASES if c.field != "customerId"],
    ids=lambda c: f"{c.spec.name}.{c.field}",
)
async def test_ownership_is_checked_before_role_and_scope(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    sandbox: Sandbox,
    case: IdCase,
    role: Role,
) -> None:
    # a partner token of any role, without any write scope, on another business's object:
    # NOT_FOUND (FORBIDDEN would confirm that the object exists)
    token = token_for([(GB_BUSINESS_ID, role)], scopes=READ_SCOPES)
    input_ = valid_input(case.spec, "order-1", **case.changes, **{case.field: case.foreign})
    await sandbox.take()
    payload = await mutate(gateway, case.spec, token, input_)
    assert payload == case.spec.failed("NOT_FOUND", NOT_FOUND_MESSAGE, "input", case.field)
    assert await sandbox.take_posts() == []


# == roles ==================================================================================

STAFF = frozenset({Role.OWNER, Role.ADMIN, Role.ACCOUNTANT})
OWNER_ADMIN = frozenset({Role.OWNER, Role.ADMIN})

# contracts/README.md, "What each role may do".
CONTRACT_ROLES: dict[str, frozenset[Role]] = {
    # "create customers; create and finalize invoices": owner, admin, accountant
    "createCustomer": STAFF,
    "createInvoice": STAFF,
    "finalizeInvoice": STAFF,
    # "take a payment for an invoice (payInvoice)": owner, admin, accountant
    "payInvoice": STAFF,
    # "void an invoice; refund a payment": owner, admin
    "voidInvoice": OWNER_ADMIN,
    "refundPayment": OWNER_ADMIN,
}


def test_the_contract_table_covers_every_mutation() -> None:
    assert set(CONTRACT_ROLES) == {spec.name for spec in SPECS}


def assert_sent_the_write(posts: list[Call], spec: Spec, subject: str) -> None:
    assert sorted((c.service, c.path) for c in posts) == sorted(spec.posts)
    assert {c.actor_id for c in posts} == {subject}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_each_role_may_do_what_the_contract_says(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    sandbox: Sandbox,
    spec: Spec,
    role: Role,
) -> None:
    # given a member of the GB business with this role
    token = token_for([(GB_BUSINESS_ID, role)], subject=SUBJECT)
    input_ = valid_input(spec, "role-1")
    await sandbox.take()
    # when
    payload = await mutate(gateway, spec, token, input_)
    # then
    posts = await sandbox.take_posts()
    if role in CONTRACT_ROLES[spec.name]:
        assert (payload["userErrors"], payload["replayed"]) == ([], False)
        assert all(payload[name] is not None for name in spec.objects), payload
        assert_sent_the_write(posts, spec, SUBJECT)
        return
    assert payload == spec.failed("FORBIDDEN", FORBIDDEN_MESSAGE, "input", spec.id_field)
    assert posts == []
    # and the refusal left no trace: the same user, now an owner, runs the same key anew
    owner = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT)
    promoted = await mutate(gateway, spec, owner, input_)
    assert (promoted["userErrors"], promoted["replayed"]) == ([], False)
    assert_sent_the_write(await sandbox.take_posts(), spec, SUBJECT)


# == partner scopes =========================================================================

WRITE_SCOPES = ("customers:write", "invoices:write", "payments:write")

# The contracts README's scope list, mutation by mutation.
CONTRACT_WRITE_SCOPE = {
    "createCustomer": "customers:write",
    "createInvoice": "invoices:write",
    "finalizeInvoice": "invoices:write",
    "voidInvoice": "invoices:write",
    "payInvoice": "payments:write",
    "refundPayment": "payments:write",
}
# What each payload object needs to be shown to a partner token.
READ_SCOPE_OF = {
    "customer": "customers:read",
    "invoice": "invoices:read",
    "payment": "payments:read",
    "refund": "payments:read",
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_partner_token_without_the_write_scope_is_forbidden(
    gateway: httpx.AsyncClient, token_for: TokenFactory, sandbox: Sandbox, spec: Spec
) -> None:
    # given an owner's partner token with every scope but the one this mutation needs
    needed = CONTRACT_WRITE_SCOPE[spec.name]
    scopes = [*READ_SCOPES, *(s for s in WRITE_SCOPES if s != needed)]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT, scopes=scopes)
    await sandbox.take()
    # when
    payload = await mutate(gateway, spec, token, valid_input(spec, "scope-1"))
    # then the refusal names the scope
    assert payload == spec.failed("FORBIDDEN", scope_message(needed), "input", spec.id_field)
    assert await sandbox.take_posts() == []
    # and with the scope added, the same key runs anew
    granted = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT, scopes=[*scopes, needed])
    retry = await mutate(gateway, spec, granted, valid_input(spec, "scope-1"))
    assert (retry["userErrors"], retry["replayed"]) == ([], False)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_partner_token_with_the_write_and_read_scopes_may_do_it(
    gateway: httpx.AsyncClient, token_for: TokenFactory, sandbox: Sandbox, spec: Spec
) -> None:
    scopes = [*READ_SCOPES, CONTRACT_WRITE_SCOPE[spec.name]]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT, scopes=scopes)
    await sandbox.take()
    payload = await mutate(gateway, spec, token, valid_input(spec, "scope-2"))
    assert (payload["userErrors"], payload["replayed"]) == ([], False)
    assert all(payload[name] is not None for name in spec.objects), payload
    assert_sent_the_write(await sandbox.take_posts(), spec, SUBJECT)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.VIEWER], ids=lambda r: r.value)
async def test_a_scope_does_not_lift_the_role(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    sandbox: Sandbox,
    spec: Spec,
    role: Role,
) -> None:
    token = token_for([(GB_BUSINESS_ID, role)], scopes=[*READ_SCOPES, *WRITE_SCOPES])
    await sandbox.take()
    payload = await mutate(gateway, spec, token, valid_input(spec, "scope-3"))
    if role in CONTRACT_ROLES[spec.name]:
        assert payload["userErrors"] == []
        return
    assert payload == spec.failed("FORBIDDEN", FORBIDDEN_MESSAGE, "input", spec.id_field)
    assert await sandbox.take_posts() == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_without_the_read_scope_the_write_happens_but_its_objects_are_not_shown(
    gateway: httpx.AsyncClient, token_for: TokenFactory, sandbox: Sandbox, spec: Spec
) -> None:
    """What a partner token with only the write scope gets: the mutation is done (the
    write is sent and its result stored), but each payload object its scopes may not read
    is null with a FORBIDDEN error at its path; userErrors stay empty. A retry with the
    same key from a token that may read them shows the same objects (nothing is lost)."""
    # given
    needed = CONTRACT_WRITE_SCOPE[spec.name]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT, scopes=[needed])
    ids_only = dict.fromkeys(spec.objects, "id")
    document = spec.document(ids_only)
    await sandbox.take()
    # when
    answer = await execute(gateway, spec, token, valid_input(spec, "scope-4"), ids_only)
    # then
    assert answer.status == 200
    assert answer.body["data"] == {
        spec.name: {**dict.fromkeys(spec.objects), "userErrors": [], "replayed": False}
    }
    assert by_path(answer.body["errors"]) == by_path(
        [
            {
                "message": scope_message(READ_SCOPE_OF[name]),
                "locations": [at(document, f"{name} {{ id }}")],
                "path": [spec.name, name],
                "extensions": {"code": "FORBIDDEN", "requiredScope": READ_SCOPE_OF[name]},
            }
            for name in spec.objects
        ]
    )
    assert_sent_the_write(await sandbox.take_posts(), spec, SUBJECT)
    # when the same user retries with the read scopes too
    reader = token_for(
        [(GB_BUSINESS_ID, Role.OWNER)],
        subject=SUBJECT,
        scopes=[needed, *(READ_SCOPE_OF[name] for name in spec.objects)],
    )
    retry = await mutate(gateway, spec, reader, valid_input(spec, "scope-4"), ids_only)
    # then the stored result is replayed with its objects, and nothing is sent again
    assert retry["replayed"] is True
    assert retry["userErrors"] == []
    assert all(retry[name] is not None for name in spec.objects), retry
    assert await sandbox.take_posts() == []


async def test_a_first_party_token_needs_no_scope(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])  # no `scope` claim at all
    payload = await mutate(
        gateway, CREATE_CUSTOMER, token, valid_input(CREATE_CUSTOMER, "first-party")
    )
    assert payload["userErrors"] == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_replay_after_losing_the_business_shows_none_of_its_objects(
    gateway: httpx.AsyncClient, token_for: TokenFactory, sandbox: Sandbox, spec: Spec
) -> None:
    """A finished key is answered from the store, but a user who has since lost the
    business gets exactly what a stranger would: NOT_FOUND, none of the objects, and
    nothing sent downstream."""
    # given a mutation done while a member
    member = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT)
    done = await mutate(gateway, spec, member, valid_input(spec, "lost-biz"))
    assert done["userErrors"] == []
    await sandbox.take()
    # when the same user, no longer a member of GB, retries it
    former = token_for([(KWD_BUSINESS_ID, Role.OWNER)], subject=SUBJECT)
    payload = await mutate(gateway, spec, former, valid_input(spec, "lost-biz"))
    # then
    assert payload == {
        **dict.fromkeys(spec.objects),
        "userErrors": [{"code": "NOT_FOUND", "message": "Not found.", "field": None}],
        "replayed": False,
    }
    assert await sandbox.take_posts() == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_replay_is_authorized_again_as_of_now(
    gateway: httpx.AsyncClient, token_for: TokenFactory, sandbox: Sandbox, spec: Spec
) -> None:
    """A stored result is no way around a role or scope the caller has lost: the replay
    is refused exactly as a first request would be, nothing is sent, and the key is kept
    for a caller who may see it."""
    # given a mutation done by an owner
    owner = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT)
    done = await mutate(gateway, spec, owner, valid_input(spec, "demoted"))
    assert done["userErrors"] == []
    await sandbox.take()
    # when the same user, demoted to viewer, retries it
    viewer = token_for([(GB_BUSINESS_ID, Role.VIEWER)], subject=SUBJECT)
    demoted = await mutate(gateway, spec, viewer, valid_input(spec, "demoted"))
    # and when a partner token of the same user without the write scope retries it
    unscoped = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject=SUBJECT, scopes=list(READ_SCOPES))
    partner = await mutate(gateway, spec, unscoped, valid_input(spec, "demoted"))
    # then both are refused like a first request, and nothing was sent
    needed = CONTRACT_WRITE_SCOPE[spec.name]
    assert demoted == spec.failed("FORBIDDEN", FORBIDDEN_MESSAGE, "input", spec.id_field)
    assert partner == spec.failed("FORBIDDEN", scope_message(needed), "input", spec.id_field)
    assert await sandbox.take_posts() == []
    # and the owner still gets the stored result
    again = await mutate(gateway, spec, owner, valid_input(spec, "demoted"))
    assert (again["userErrors"], again["replayed"]) == ([], True)


@pytest.mark.parametrize(
    ("changes", "code", "detailed", "redacted", "field"),
    [
        (
            {"invoiceId": GB_DRAFT_INVOICE_ID},
            "INVALID_STATE",
            "Only an open invoice can be paid; this one is draft.",
            "The invoice cannot be paid in its current state.",
            ["input", "invoiceId"],
        ),
        (
            {"amount": {"amount": "1.00", "currency": "EUR"}},
            "CURRENCY_MISMATCH",
            "The invoice is in GBP.",
            "The currency is not the invoice's.",
            ["input", "amount", "currency"],
        ),
    ],
    ids=["state", "currency"],
)
async def test_a_token_that_may_pay_but_not_read_invoices_learns_no_invoice_detail(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    sandbox: Sandbox,
    changes: JSON,
    code: str,
    detailed: str,
    redacted: str,
    field: list[str],
) -> None:
    # given a partner token with payments:write and payments:read but not invoices:read
    payer = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["payments:write", "payments:read"])
    reader = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    await sandbox.take()
    # when it pays what the invoice refuses, and a first-party token pays the same
    # (it selects the payment only: the invoice is FORBIDDEN to it, tested elsewhere)
    payment_only = {"payment": "id"}
    refused = await mutate(
        gateway, PAY_INVOICE, payer, valid_input(PAY_INVOICE, "r-1", **changes), payment_only
    )
    full = await mutate(gateway, PAY_INVOICE, reader, valid_input(PAY_INVOICE, "r-2", **changes))
    # then the partner gets the code without the invoice's status or currency
    assert refused["userErrors"] == [{"code": code, "message": redacted, "field": field}]
    assert full["userErrors"] == [{"code": code, "message": detailed, "field": field}]
    # and so does its replay of the stored refusal
    again = await mutate(
        gateway, PAY_INVOICE, payer, valid_input(PAY_INVOICE, "r-1", **changes), payment_only
    )
    assert (again["userErrors"], again["replayed"]) == (refused["userErrors"], True)
    assert [c for c in await sandbox.take_posts() if c.service == "payments"] == []
