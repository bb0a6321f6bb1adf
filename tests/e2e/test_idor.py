"""The IDOR matrix: another business's objects are answered exactly as missing ones.

The caller owns the GB business only. For every field that takes an id, and every edge
that leads to another object, an object of the IN business (which exists) and an id that
exists nowhere give the same status, data and errors (NOT_FOUND, never FORBIDDEN), cost
the same downstream calls, and never cause a downstream POST.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from app.schema.types.pagination import encode_cursor
from sandbox.seed import (
    CUSTOMERS,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
    INVOICES,
    PARTIAL_REFUND_ID,
    PARTIALLY_REFUNDED_PAYMENT_ID,
    PAYMENTS,
    REFUNDS,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory
from tests.e2e.matrix_helpers import (
    JSON,
    Answer,
    Call,
    Calls,
    Rewrite,
    RewritingTransport,
    at,
    not_found,
    run,
    unchanged,
)

# -- the ids ------------------------------------------------------------------------

# Objects of the IN business that exist in the seed, each with children to lead to.
FOREIGN_INVOICE_ID = IN_OPEN_INVOICE_ID  # has a customer and a (failed) payment
FOREIGN_REFUND = next(r for r in REFUNDS if r.business_id == IN_BUSINESS_ID and r.reason is None)
FOREIGN_REFUND_ID = FOREIGN_REFUND.id
FOREIGN_PAYMENT_ID = FOREIGN_REFUND.payment_id  # has a refund and an invoice

FOREIGN = {
    "biz_": IN_BUSINESS_ID,
    "cus_": IN_CUSTOMER_ID,
    "inv_": FOREIGN_INVOICE_ID,
    "pay_": FOREIGN_PAYMENT_ID,
    "re_": FOREIGN_REFUND_ID,
}
MISSING = {prefix: f"{prefix}doesnotexist" for prefix in FOREIGN}
OWN = {
    "biz_": GB_BUSINESS_ID,
    "cus_": GB_CUSTOMER_ID,
    "inv_": GB_OPEN_INVOICE_ID,
    "pay_": PARTIALLY_REFUNDED_PAYMENT_ID,
    "re_": PARTIAL_REFUND_ID,
}


def test_the_foreign_ids_exist_in_the_seed_and_belong_to_the_other_business() -> None:
    owners = {
        **{c.id: c.business_id for c in CUSTOMERS},
        **{i.id: i.business_id for i in INVOICES},
        **{p.id: p.business_id for p in PAYMENTS},
        **{r.id: r.business_id for r in REFUNDS},
        IN_BUSINESS_ID: IN_BUSINESS_ID,
        GB_BUSINESS_ID: GB_BUSINESS_ID,
    }
    assert {owners[i] for i in FOREIGN.values()} == {IN_BUSINESS_ID}
    assert {owners[i] for i in OWN.values()} == {GB_BUSINESS_ID}
    assert not set(MISSING.values()) & set(owners)
    # The foreign objects have children, so a leak through nesting would show.
    assert any(p.invoice_id == FOREIGN_INVOICE_ID for p in PAYMENTS)
    assert any(r.payment_id == FOREIGN_PAYMENT_ID for r in REFUNDS)


@pytest.fixture
def caller(token_for: TokenFactory) -> str:
    """An owner of the GB business, and of nothing else."""
    return token_for([(GB_BUSINESS_ID, Role.OWNER)])


@pytest.fixture
def calls(downstreams: Downstreams) -> Calls:
    return Calls(downstreams)


def assert_reads_only(calls: list[Call]) -> None:
    assert [c for c in calls if c.method != "GET"] == []


def shapes(calls: list[Call]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return sorted(c.shape for c in calls)


async def answer_and_calls(
    client: httpx.AsyncClient, calls: Calls, document: str, token: str, variables: JSON
) -> tuple[Answer, list[Call]]:
    await calls.take()
    answer = await run(client, document, token, variables)
    return answer, await calls.take()


# -- every root field that takes an id ------------------------------------------------

BUSINESS_DOC = """query Q($id: ID!) {
  business(id: $id) {
    id name country defaultCurrency vatNumber viewerRole
    balance { available { amount currency } }
    customers(first: 5) { edges { node { id name } } }
    invoices(first: 5) { edges { node { id number } } }
    payments(first: 5) { edges { node { id status } } }
  }
}"""
CUSTOMER_DOC = """query Q($id: ID!) {
  customer(id: $id) {
    id name email phone
    business { id name }
    invoices(first: 5) { edges { node { id number } } }
  }
}"""
INVOICE_DOC = """query Q($id: ID!) {
  invoice(id: $id) {
    id number status total { amount }
    business { id name }
    customer { id name email }
    payments { id status }
  }
}"""
PAYMENT_DOC = """query Q($id: ID!) {
  payment(id: $id) {
    id status amount { amount } paymentMethod { type }
    business { id name }
    invoice { id number }
    refunds { id amount { amount } }
  }
}"""
NODE_DOC = """query Q($id: ID!) {
  node(id: $id) {
    id
    ... on Business { name vatNumber }
    ... on Customer { name email business { id } }
    ... on Invoice { number customer { id } payments { id } }
    ... on Payment { status invoice { id } refunds { id } }
    ... on Refund { amount { amount } payment { id } }
  }
}"""


@dataclass(frozen=True)
class RootCase:
    field: str
    document: str
    prefix: str

    def __str__(self) -> str:
        return f"{self.field}({self.prefix})"


ROOT_CASES = [
    RootCase("business", BUSINESS_DOC, "biz_"),
    RootCase("customer", CUSTOMER_DOC, "cus_"),
    RootCase("invoice", INVOICE_DOC, "inv_"),
    RootCase("payment", PAYMENT_DOC, "pay_"),
    *(RootCase("node", NODE_DOC, prefix) for prefix in FOREIGN),
]


def root_not_found(case: RootCase) -> JSON:
    return {
        "data": {case.field: None},
        "errors": [not_found([case.field], at(case.document, f"{case.field}(id"))],
    }


@pytest.mark.parametrize("case", ROOT_CASES, ids=str)
async def test_a_root_field_answers_a_strangers_id_exactly_as_a_missing_one(
    gateway: httpx.AsyncClient, calls: Calls, caller: str, case: RootCase
) -> None:
    # Given an object of the IN business, and an id that exists nowhere
    foreign_id, missing_id = FOREIGN[case.prefix], MISSING[case.prefix]

    # When the GB owner asks for each through the same document
    foreign, foreign_calls = await answer_and_calls(
        gateway, calls, case.document, caller, {"id": foreign_id}
    )
    missing, missing_calls = await answer_and_calls(
        gateway, calls, case.document, caller, {"id": missing_id}
    )

    # Then both are the same NOT_FOUND, with nothing of the object or its children
    assert foreign == missing == Answer(200, root_not_found(case))
    # and cost the same kind of downstream calls, all of them reads
    assert shapes(foreign_calls) == shapes(missing_calls)
    assert_reads_only(foreign_calls + missing_calls)
    assert foreign_id not in str(foreign.body)


@pytest.mark.parametrize("case", ROOT_CASES, ids=str)
async def test_the_same_document_reads_the_callers_own_object(
    gateway: httpx.AsyncClient, caller: str, case: RootCase
) -> None:
    # The control: the documents above are valid and reach data for the caller's own id.
    answer = await run(gateway, case.document, caller, {"id": OWN[case.prefix]})

    assert answer.status == 200
    assert "errors" not in answer.body
    assert answer.body["data"][case.field]["id"] == OWN[case.prefix]


NODES_DOC = "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }"


async def test_nodes_answers_strangers_ids_exactly_as_missing_ones(
    gateway: httpx.AsyncClient, calls: Calls, caller: str
) -> None:
    # Given one object of each type of the IN business, and as many unknown ids
    foreign_ids, missing_ids = list(FOREIGN.values()), list(MISSING.values())

    # When the GB owner asks for them in one `nodes`
    foreign, foreign_calls = await answer_and_calls(
        gateway, calls, NODES_DOC, caller, {"ids": foreign_ids}
    )
    missing, missing_calls = await answer_and_calls(
        gateway, calls, NODES_DOC, caller, {"ids": missing_ids}
    )

    # Then each position is a plain null, without an error that would tell them apart
    assert foreign == missing == Answer(200, {"data": {"nodes": [None] * len(FOREIGN)}})
    assert shapes(foreign_calls) == shapes(missing_calls)
    assert_reads_only(foreign_calls + missing_calls)


async def test_nodes_keeps_positions_when_own_strangers_and_missing_ids_mix(
    gateway: httpx.AsyncClient, calls: Calls, caller: str
) -> None:
    ids = [OWN["inv_"], FOREIGN["inv_"], MISSING["inv_"], OWN["pay_"], FOREIGN["pay_"]]

    answer, made = await answer_and_calls(gateway, calls, NODES_DOC, caller, {"ids": ids})

    assert answer == Answer(
        200, {"data": {"nodes": [{"id": OWN["inv_"]}, None, None, {"id": OWN["pay_"]}, None]}}
    )
    assert_reads_only(made)


# -- edges reached from an object the caller cannot see --------------------------------


@dataclass(frozen=True)
class EdgeCase:
    edge: str
    field: str
    prefix: str
    selection: str
    # The downstream calls fetching the parent costs; the child is never fetched.
    parent_calls: tuple[tuple[str, str, str, tuple[str, ...]], ...]

    @property
    def document(self) -> str:
        return f"query Q($id: ID!) {{ {self.field}(id: $id) {{ id {self.selection} }} }}"

    def __str__(self) -> str:
        return self.edge


def _batch(service: str, path: str) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    return ((service, "GET", path, ("ids",)),)


_PAGE = "(first: 5) { edges { node { id } } pageInfo { hasNextPage } }"
EDGE_CASES = [
    EdgeCase("Customer.business", "customer", "cus_", "business { id name }",
             _batch("invoicing", "/v1/customers")),
    EdgeCase("Customer.invoices", "customer", "cus_", f"invoices{_PAGE}",
             _batch("invoicing", "/v1/customers")),
    EdgeCase("Invoice.business", "invoice", "inv_", "business { id name }",
             _batch("invoicing", "/v1/invoices")),
    EdgeCase("Invoice.customer", "invoice", "inv_", "customer { id name }",
             _batch("invoicing", "/v1/invoices")),
    EdgeCase("Invoice.payments", "invoice", "inv_", "payments { id status }",
             _batch("invoicing", "/v1/invoices")),
    EdgeCase("Payment.business", "payment", "pay_", "business { id name }",
             _batch("payments", "/v1/payments")),
    EdgeCase("Payment.invoice", "payment", "pay_", "invoice { id number }",
             _batch("payments", "/v1/payments")),
    EdgeCase("Payment.refunds", "payment", "pay_", "refunds { id }",
             _batch("payments", "/v1/payments")),
    EdgeCase("Refund.payment", "node", "re_", "... on Refund { payment { id status } }",
             _batch("payments", "/v1/refunds")),
    EdgeCase("Business.customers", "business", "biz_", f"customers{_PAGE}", ()),
    EdgeCase("Business.invoices", "business", "biz_", f"invoices{_PAGE}", ()),
    EdgeCase("Business.payments", "business", "biz_", f"payments{_PAGE}", ()),
    EdgeCase("Business.balance", "business", "biz_", "balance { available { amount } }", ()),
]  # fmt: skip


@pytest.mark.parametrize("case", EDGE_CASES, ids=str)
async def test_an_edge_of_an_invisible_parent_leaks_nothing(
    gateway: httpx.AsyncClient, calls: Calls, caller: str, case: EdgeCase
) -> None:
    # Given a parent of the IN business with children on this edge, and a missing parent
    document = case.document

    # When the GB owner follows the edge from each
    foreign, foreign_calls = await answer_and_calls(
        gateway, calls, document, caller, {"id": FOREIGN[case.prefix]}
    )
    missing, missing_calls = await answer_and_calls(
        gateway, calls, document, caller, {"id": MISSING[case.prefix]}
    )

    # Then the parent itself is not found, identically, and the child is never fetched
    expected = {
        "data": {case.field: None},
        "errors": [not_found([case.field], at(document, f"{case.field}(id"))],
    }
    assert foreign == missing == Answer(200, expected)
    assert shapes(foreign_calls) == shapes(missing_calls) == sorted(case.parent_calls)
    assert_reads_only(foreign_calls + missing_calls)


MEMBERSHIPS_DOC = "{ viewer { memberships { role business { id name vatNumber } } } }"


async def test_memberships_show_only_the_tokens_businesses_known_or_not(
    gateway: httpx.AsyncClient, calls: Calls, token_for: TokenFactory
) -> None:
    # Given the GB owner's token, and the same with an extra unknown business
    plain = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    with_unknown = token_for([(GB_BUSINESS_ID, Role.OWNER), (MISSING["biz_"], Role.OWNER)])

    # When each reads its memberships
    first, first_calls = await answer_and_calls(gateway, calls, MEMBERSHIPS_DOC, plain, {})
    second, second_calls = await answer_and_calls(gateway, calls, MEMBERSHIPS_DOC, with_unknown, {})

    # Then both see exactly the GB business: never IN, which exists but is not theirs
    gb = {"id": GB_BUSINESS_ID, "name": "Northwind Studio Ltd", "vatNumber": "GB123456789"}
    expected = {"data": {"viewer": {"memberships": [{"role": "OWNER", "business": gb}]}}}
    assert first == second == Answer(200, expected)
    assert shapes(first_calls) == shapes(second_calls)
    assert_reads_only(first_calls + second_calls)


# -- edges of the caller's own objects, when a downstream links to another business -----


def _where(path: str, param: str, change: Callable[[list[JSON]], list[JSON]]) -> Rewrite:
    """Change the `data` of answers to GETs of `path` that carry query parameter `param`."""

    def rewrite(request_path: str, params: dict[str, str], payload: JSON) -> JSON:
        if request_path != path or param not in params:
            return payload
        return {**payload, "data": change(list(payload["data"]))}

    return rewrite


def _set(path: str, param: str, **values: str) -> Rewrite:
    return _where(path, param, lambda items: [{**item, **values} for item in items])


def _add_foreign(path: str, param: str, object_id: str) -> Rewrite:
    """Slip a copy of the first item, as an object of the IN business, into the answer."""

    def change(items: list[JSON]) -> list[JSON]:
        stray = {**items[0], "id": object_id, "business_id": IN_BUSINESS_ID}
        return [stray, *items]

    return _where(path, param, change)


def _answer_nothing(path: str, param: str) -> Rewrite:
    return _where(path, param, lambda items: [])


def _newest(records: list[Any], count: int) -> list[JSON]:
    ordered = sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)
    return [{"node": {"id": r.id}} for r in ordered[:count]]


def _gb(records: tuple[Any, ...]) -> list[Any]:
    return [r for r in records if r.business_id == GB_BUSINESS_ID]


@dataclass(frozen=True)
class LyingCase:
    edge: str
    document: str
    variables: JSON
    # The downstream links the edge to the IN business's object / to nothing.
    foreign: Rewrite
    missing: Rewrite
    expected: JSON

    def __str__(self) -> str:
        return self.edge


def _lost_child(field: str, edge: str, document: str) -> JSON:
    """A required child that is not the caller's: NOT_FOUND at the edge, parent null."""
    return {"data": {field: None}, "errors": [not_found([field, edge], at(document, edge))]}


INVOICE_CUSTOMER_DOC = "query Q($id: ID!) { invoice(id: $id) { id customer { id name } } }"
PAYMENT_INVOICE_DOC = "query Q($id: ID!) { payment(id: $id) { id invoice { id number } } }"
REFUND_PAYMENT_DOC = (
    "query Q($id: ID!) { node(id: $id) { id ... on Refund { payment { id status } } } }"
)
CUSTOMER_BUSINESS_DOC = "query Q($id: ID!) { customer(id: $id) { id business { id name } } }"
INVOICE_BUSINESS_DOC = "query Q($id: ID!) { invoice(id: $id) { id business { id name } } }"
PAYMENT_BUSINESS_DOC = "query Q($id: ID!) { payment(id: $id) { id business { id name } } }"
INVOICE_PAYMENTS_DOC = "query Q($id: ID!) { invoice(id: $id) { id payments { id } } }"
PAYMENT_REFUNDS_DOC = "query Q($id: ID!) { payment(id: $id) { id refunds { id } } }"
LIST_DOC = (
    "query Q($id: ID!) {{ {root}(id: $id) {{ id "
    "{edge}(first: 3) {{ edges {{ node {{ id }} }} }} }} }}"
)
BALANCE_DOC = "query Q($id: ID!) { business(id: $id) { id balance { available { currency } } } }"

_PAID_INVOICE_ID = next(p.invoice_id for p in PAYMENTS if p.id == SUCCEEDED_PAYMENT_ID)
_BIZ_IS_FOREIGN = _set("/v1/businesses", "ids", id=IN_BUSINESS_ID)
_BIZ_IS_MISSING = _answer_nothing("/v1/businesses", "ids")

LYING_CASES = [
    LyingCase(
        "Invoice.customer", INVOICE_CUSTOMER_DOC, {"id": GB_OPEN_INVOICE_ID},
        _set("/v1/invoices", "ids", customer_id=IN_CUSTOMER_ID),
        _set("/v1/invoices", "ids", customer_id=MISSING["cus_"]),
        _lost_child("invoice", "customer", INVOICE_CUSTOMER_DOC),
    ),
    LyingCase(
        "Payment.invoice", PAYMENT_INVOICE_DOC, {"id": SUCCEEDED_PAYMENT_ID},
        _set("/v1/payments", "ids", invoice_id=FOREIGN_INVOICE_ID),
        _set("/v1/payments", "ids", invoice_id=MISSING["inv_"]),
        _lost_child("payment", "invoice", PAYMENT_INVOICE_DOC),
    ),
    LyingCase(
        "Refund.payment", REFUND_PAYMENT_DOC, {"id": PARTIAL_REFUND_ID},
        _set("/v1/refunds", "ids", payment_id=FOREIGN_PAYMENT_ID),
        _set("/v1/refunds", "ids", payment_id=MISSING["pay_"]),
        _lost_child("node", "payment", REFUND_PAYMENT_DOC),
    ),
    LyingCase(
        "Customer.business", CUSTOMER_BUSINESS_DOC, {"id": GB_CUSTOMER_ID},
        _BIZ_IS_FOREIGN, _BIZ_IS_MISSING,
        _lost_child("customer", "business", CUSTOMER_BUSINESS_DOC),
    ),
    LyingCase(
        "Invoice.business", INVOICE_BUSINESS_DOC, {"id": GB_OPEN_INVOICE_ID},
        _BIZ_IS_FOREIGN, _BIZ_IS_MISSING,
        _lost_child("invoice", "business", INVOICE_BUSINESS_DOC),
    ),
    LyingCase(
        "Payment.business", PAYMENT_BUSINESS_DOC, {"id": SUCCEEDED_PAYMENT_ID},
        _BIZ_IS_FOREIGN, _BIZ_IS_MISSING,
        _lost_child("payment", "business", PAYMENT_BUSINESS_DOC),
    ),
    LyingCase(
        "Invoice.payments", INVOICE_PAYMENTS_DOC, {"id": _PAID_INVOICE_ID},
        _add_foreign("/v1/payments", "invoice_ids", FOREIGN_PAYMENT_ID), unchanged,
        {"data": {"invoice": {"id": _PAID_INVOICE_ID,
                              "payments": [{"id": SUCCEEDED_PAYMENT_ID}]}}},
    ),
    LyingCase(
        "Payment.refunds", PAYMENT_REFUNDS_DOC, {"id": PARTIALLY_REFUNDED_PAYMENT_ID},
        _add_foreign("/v1/refunds", "payment_ids", FOREIGN_REFUND_ID), unchanged,
        {"data": {"payment": {"id": PARTIALLY_REFUNDED_PAYMENT_ID,
                              "refunds": [{"id": PARTIAL_REFUND_ID}]}}},
    ),
    LyingCase(
        "Business.customers", LIST_DOC.format(root="business", edge="customers"),
        {"id": GB_BUSINESS_ID},
        _add_foreign("/v1/customers", "business_id", IN_CUSTOMER_ID), unchanged,
        {"data": {"business": {"id": GB_BUSINESS_ID,
                               "customers": {"edges": _newest(_gb(CUSTOMERS), 3)}}}},
    ),
    LyingCase(
        "Business.invoices", LIST_DOC.format(root="business", edge="invoices"),
        {"id": GB_BUSINESS_ID},
        _add_foreign("/v1/invoices", "business_id", FOREIGN_INVOICE_ID), unchanged,
        {"data": {"business": {"id": GB_BUSINESS_ID,
                               "invoices": {"edges": _newest(_gb(INVOICES), 3)}}}},
    ),
    LyingCase(
        "Business.payments", LIST_DOC.format(root="business", edge="payments"),
        {"id": GB_BUSINESS_ID},
        _add_foreign("/v1/payments", "business_id", FOREIGN_PAYMENT_ID), unchanged,
        {"data": {"business": {"id": GB_BUSINESS_ID,
                               "payments": {"edges": _newest(_gb(PAYMENTS), 3)}}}},
    ),
    LyingCase(
        "Customer.invoices", LIST_DOC.format(root="customer", edge="invoices"),
        {"id": GB_CUSTOMER_ID},
        _add_foreign("/v1/invoices", "customer_id", FOREIGN_INVOICE_ID), unchanged,
        {"data": {"customer": {"id": GB_CUSTOMER_ID, "invoices": {"edges": _newest(
            [i for i in INVOICES if i.customer_id == GB_CUSTOMER_ID], 3)}}}},
    ),
    LyingCase(
        "Business.balance", BALANCE_DOC, {"id": GB_BUSINESS_ID},
        _set("/v1/balances", "business_ids", business_id=IN_BUSINESS_ID),
        _answer_nothing("/v1/balances", "business_ids"),
        {"data": {"business": {"id": GB_BUSINESS_ID, "balance": None}}},
    ),
    LyingCase(
        "Viewer.memberships.business", MEMBERSHIPS_DOC, {},
        _BIZ_IS_FOREIGN, _BIZ_IS_MISSING,
        {"data": {"viewer": {"memberships": []}}},
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", LYING_CASES, ids=str)
async def test_an_edge_to_another_business_is_answered_as_an_edge_to_nothing(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    calls: Calls,
    caller: str,
    case: LyingCase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given services that link the caller's own object to an object of the IN business
    invoicing = RewritingTransport(downstreams.transports()["invoicing"])
    payments = RewritingTransport(downstreams.transports()["payments"])
    gateway = await gateway_factory(transports={"invoicing": invoicing, "payments": payments})

    # When the GB owner follows the edge, once to the stranger's object, once to nothing
    invoicing.rewrite = payments.rewrite = case.foreign
    foreign, foreign_calls = await answer_and_calls(
        gateway, calls, case.document, caller, case.variables
    )
    foreign_events = _security_events(caplog)
    caplog.clear()
    invoicing.rewrite = payments.rewrite = case.missing
    missing, missing_calls = await answer_and_calls(
        gateway, calls, case.document, caller, case.variables
    )

    # Then the answers are identical: the stranger's object is not found, never shown
    assert foreign == missing == Answer(200, case.expected)
    assert shapes(foreign_calls) == shapes(missing_calls)
    assert_reads_only(foreign_calls + missing_calls)
    # and the stranger's object did reach the gateway, which caught and logged it
    assert foreign_events != []
    assert _security_events(caplog) == []


def _security_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(getattr(record, "event", ""))
        for record in caplog.records
        if record.name == "gateway.security"
    ]


# -- ids of the wrong shape -----------------------------------------------------------


@dataclass(frozen=True)
class ShapeCase:
    field: str
    bad_id: str
    # Whether the gateway can tell without asking a service (so it must not ask).
    decided_locally: bool

    @property
    def document(self) -> str:
        return f"query Q($id: ID!) {{ {self.field}(id: $id) {{ id }} }}"

    def __str__(self) -> str:
        shown = (
            self.bad_id if len(self.bad_id) <= 24 else f"{self.bad_id[:8]}...x{len(self.bad_id)}"
        )
        return f"{self.field}[{shown!r}]"


_CASED = ["biz_indemo", "BIZ_INDEMO", "biz_INDEMO", "biz_gbdemo", "Biz_GBdemo"]
SHAPE_CASES = [
    *(ShapeCase("business", bad, True) for bad in ["biz_!!", "", "x" * 500, *_CASED]),
    *(ShapeCase("node", bad, True) for bad in ["", "x" * 500, "nope_GB0001", *_CASED]),
    *(
        ShapeCase("node", bad, False)
        for bad in ["inv_!!", f"{GB_OPEN_INVOICE_ID},{FOREIGN_INVOICE_ID}", "inv_,"]
    ),
    *(
        ShapeCase(field, bad, False)
        for field, own, foreign in [
            ("customer", GB_CUSTOMER_ID, IN_CUSTOMER_ID),
            ("invoice", GB_OPEN_INVOICE_ID, FOREIGN_INVOICE_ID),
            ("payment", SUCCEEDED_PAYMENT_ID, FOREIGN_PAYMENT_ID),
        ]
        for bad in [
            own[:4] + "!!",
            "",
            "x" * 500,
            own.upper(),
            foreign.lower(),
            f"{own},{foreign}",
            f"{own},",
            f" {own}",
        ]
    ),
]


@pytest.mark.parametrize("case", SHAPE_CASES, ids=str)
async def test_an_id_of_the_wrong_shape_is_simply_not_found(
    gateway: httpx.AsyncClient, calls: Calls, caller: str, case: ShapeCase
) -> None:
    # When the GB owner asks for an id that cannot be one of theirs
    answer, made = await answer_and_calls(
        gateway, calls, case.document, caller, {"id": case.bad_id}
    )

    # Then it is the same NOT_FOUND as any missing object
    expected = {
        "data": {case.field: None},
        "errors": [not_found([case.field], at(case.document, f"{case.field}(id"))],
    }
    assert answer == Answer(200, expected)
    assert_reads_only(made)
    if case.decided_locally:
        assert made == []


SIBLINGS_DOC = """query Q($bad: ID!, $own: ID!) {
  bad: FIELD(id: $bad) { id }
  own: FIELD(id: $own) { id }
}"""


@pytest.mark.parametrize(
    ("field", "own_id"),
    [
        ("customer", GB_CUSTOMER_ID),
        ("invoice", GB_OPEN_INVOICE_ID),
        ("payment", SUCCEEDED_PAYMENT_ID),
    ],
)
@pytest.mark.parametrize("bad_id", ["", "x,"])
async def test_a_malformed_id_does_not_spoil_the_callers_other_reads(
    gateway: httpx.AsyncClient, caller: str, field: str, own_id: str, bad_id: str
) -> None:
    # Given one request asking for a malformed id and for the caller's own object
    document = SIBLINGS_DOC.replace("FIELD", field)

    # When it runs (both reads of one type share a batch call downstream)
    answer = await run(gateway, document, caller, {"bad": bad_id, "own": own_id})

    # Then the malformed id is not found and the caller's own object is still read
    expected = {
        "data": {"bad": None, "own": {"id": own_id}},
        "errors": [not_found(["bad"], at(document, f"bad: {field}"))],
    }
    assert answer == Answer(200, expected)


# -- the same timing class --------------------------------------------------------------


@pytest.mark.parametrize("field", ["business", "node"])
async def test_a_strangers_business_and_an_unknown_business_cost_no_downstream_call(
    gateway: httpx.AsyncClient, calls: Calls, caller: str, field: str
) -> None:
    document = f"query Q($id: ID!) {{ {field}(id: $id) {{ id }} }}"

    _, foreign_calls = await answer_and_calls(
        gateway, calls, document, caller, {"id": IN_BUSINESS_ID}
    )
    _, missing_calls = await answer_and_calls(
        gateway, calls, document, caller, {"id": MISSING["biz_"]}
    )

    # Membership is in the token: neither is even asked for downstream.
    assert foreign_calls == missing_calls == []


@pytest.mark.parametrize(
    ("field", "prefix", "service", "path"),
    [
        ("invoice", "inv_", "invoicing", "/v1/invoices"),
        ("customer", "cus_", "invoicing", "/v1/customers"),
        ("payment", "pay_", "payments", "/v1/payments"),
        ("node", "inv_", "invoicing", "/v1/invoices"),
        ("node", "re_", "payments", "/v1/refunds"),
    ],
)
async def test_a_strangers_object_and_an_unknown_one_cost_the_same_calls(
    gateway: httpx.AsyncClient,
    calls: Calls,
    caller: str,
    field: str,
    prefix: str,
    service: str,
    path: str,
) -> None:
    document = f"query Q($id: ID!) {{ {field}(id: $id) {{ id }} }}"
    foreign_id, missing_id = FOREIGN[prefix], MISSING[prefix]

    _, foreign_calls = await answer_and_calls(gateway, calls, document, caller, {"id": foreign_id})
    _, missing_calls = await answer_and_calls(gateway, calls, document, caller, {"id": missing_id})

    # One batch read each, differing only in the id asked for.
    assert foreign_calls == [Call(service, "GET", path, f"ids={foreign_id}")]
    assert missing_calls == [Call(service, "GET", path, f"ids={missing_id}")]


# -- ids inside arguments: list filters and cursors ---------------------------------------

FILTER_DOC = """query Q($biz: ID!, $customer: ID) {
  business(id: $biz) {
    invoices(first: 5, customerId: $customer) {
      edges { node { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def test_filtering_invoices_by_a_strangers_customer_is_filtering_by_a_missing_one(
    gateway: httpx.AsyncClient, calls: Calls, caller: str
) -> None:
    # Given the GB business, filtered by an IN customer and by an unknown customer
    def variables(customer: str) -> JSON:
        return {"biz": GB_BUSINESS_ID, "customer": customer}

    # When the GB owner lists invoices with each filter
    foreign, foreign_calls = await answer_and_calls(
        gateway, calls, FILTER_DOC, caller, variables(IN_CUSTOMER_ID)
    )
    missing, missing_calls = await answer_and_calls(
        gateway, calls, FILTER_DOC, caller, variables(MISSING["cus_"])
    )
    own, _ = await answer_and_calls(gateway, calls, FILTER_DOC, caller, variables(GB_CUSTOMER_ID))

    # Then both are the same empty page (while the own customer's page is not empty)
    empty = {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert foreign == missing == Answer(200, {"data": {"business": {"invoices": empty}}})
    assert shapes(foreign_calls) == shapes(missing_calls)
    assert_reads_only(foreign_calls + missing_calls)
    assert own.body["data"]["business"]["invoices"]["edges"] != []


CURSOR_CASES = [
    ("business", GB_BUSINESS_ID, "customers", "cus_"),
    ("business", GB_BUSINESS_ID, "invoices", "inv_"),
    ("business", GB_BUSINESS_ID, "payments", "pay_"),
    ("customer", GB_CUSTOMER_ID, "invoices", "inv_"),
]


def _cursor_doc(root: str, edge: str) -> str:
    return (
        f"query Q($id: ID!, $after: String) {{ {root}(id: $id) {{ "
        f"{edge}(first: 2, after: $after) {{ edges {{ node {{ id }} }} }} }} }}"
    )


@pytest.mark.parametrize(("root", "root_id", "edge", "prefix"), CURSOR_CASES)
async def test_a_cursor_at_a_strangers_object_is_answered_as_one_at_a_missing_object(
    gateway: httpx.AsyncClient,
    calls: Calls,
    caller: str,
    root: str,
    root_id: str,
    edge: str,
    prefix: str,
) -> None:
    # Given cursors (which carry ids) at an IN object and at an unknown one
    document = _cursor_doc(root, edge)

    # When the GB owner pages its own list after each
    foreign, foreign_calls = await answer_and_calls(
        gateway, calls, document, caller, {"id": root_id, "after": encode_cursor(FOREIGN[prefix])}
    )
    missing, missing_calls = await answer_and_calls(
        gateway, calls, document, caller, {"id": root_id, "after": encode_cursor(MISSING[prefix])}
    )

    # Then the answers cannot be told apart
    assert foreign == missing
    assert shapes(foreign_calls) == shapes(missing_calls)
    assert_reads_only(foreign_calls + missing_calls)
    assert "FORBIDDEN" not in str(foreign.body)


@pytest.mark.parametrize(("root", "root_id", "edge", "prefix"), CURSOR_CASES)
async def test_a_cursor_outside_the_list_is_bad_user_input_not_a_downstream_outage(
    gateway: httpx.AsyncClient, caller: str, root: str, root_id: str, edge: str, prefix: str
) -> None:
    # app/schema/types/pagination.py: "a forged cursor is a BAD_USER_INPUT, never a downstream 400".
    document = _cursor_doc(root, edge)

    answer = await run(
        gateway, document, caller, {"id": root_id, "after": encode_cursor(FOREIGN[prefix])}
    )

    assert answer.status == 200
    assert [(e["path"], e["extensions"]["code"]) for e in answer.body["errors"]] == [
        ([root, edge], "BAD_USER_INPUT")
    ]
