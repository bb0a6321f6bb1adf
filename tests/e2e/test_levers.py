"""The levers create_app takes (app/levers.py), each through the component that owns it:
an invoice page's children read for the whole page or field by field (ReadService), and
with any lever off the gateway still gives the same answer for the same downstream calls.
The executor's lever is tested in tests/schema/test_executor_lever.py, the JSON one in
tests/downstream/test_json_lever.py and the collector's in tests/test_gc_tuning.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest

from app.auth.principal import Principal, Role
from app.downstream.breaker import CircuitBreaker
from app.downstream.invoicing import InvoicingClient
from app.downstream.payments import PaymentsClient
from app.downstream.service import CallMeta, Channel, ServiceClient, build_http_client
from app.levers import Levers
from app.reads.levels import InvoiceChildren
from app.reads.loaders import Loaders
from app.reads.service import ReadService
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import (
    INVOICING_TOKEN,
    PAYMENTS_TOKEN,
    Downstreams,
    GatewayFactory,
    TokenFactory,
)
from tests.e2e.test_dashboard import calls_by_path, run_dashboard

OWNER = Principal(issuer="test", subject="user_test", memberships={GB_BUSINESS_ID: Role.OWNER})


@asynccontextmanager
async def read_service(
    downstreams: Downstreams, *, whole_page_children: bool
) -> AsyncIterator[ReadService]:
    async with AsyncExitStack() as stack:
        clients = []
        for name, app, token in (
            ("invoicing", downstreams.invoicing, INVOICING_TOKEN),
            ("payments", downstreams.payments, PAYMENTS_TOKEN),
        ):
            http = await stack.enter_async_context(
                build_http_client(
                    f"http://{name}.test", token, transport=httpx.ASGITransport(app=app)
                )
            )
            channel = Channel(name, http, CircuitBreaker(name, failure_threshold=9, open_seconds=1))
            clients.append(ServiceClient(channel, CallMeta(request_id="req-levers")))
        invoicing, payments = InvoicingClient(clients[0]), PaymentsClient(clients[1])
        yield ReadService(
            OWNER,
            Loaders(invoicing, payments),
            invoicing,
            payments,
            date.today,
            whole_page_children=whole_page_children,
        )


async def new_calls(downstreams: Downstreams, before: Counter[str]) -> Counter[str]:
    now = calls_by_path(
        [*await downstreams.calls("invoicing"), *await downstreams.calls("payments")]
    )
    return now - before


async def test_a_page_reads_its_childrens_kinds_once_each_for_the_whole_page(
    downstreams: Downstreams,
) -> None:
    async with read_service(downstreams, whole_page_children=True) as reads:
        page = await reads.invoices_page(
            GB_BUSINESS_ID, limit=20, starting_after=None, status=None, customer_id=None
        )
        before = await new_calls(downstreams, Counter())

        children = await reads.invoice_children(
            page.items, customers=True, payments=True, refunds=True
        )

        assert await new_calls(downstreams, before) == Counter(
            {"GET /v1/customers": 1, "GET /v1/payments": 1, "GET /v1/refunds": 1}
        )
    assert isinstance(children.customers, dict)
    assert isinstance(children.payments, dict)
    assert set(children.customers) == set(children.payments) == {i.id for i in page.items}
    assert isinstance(children.refunds, dict)


async def test_without_whole_page_children_the_page_reads_nothing_and_each_field_reads(
    downstreams: Downstreams,
) -> None:
    async with read_service(downstreams, whole_page_children=False) as reads:
        page = await reads.invoices_page(
            GB_BUSINESS_ID, limit=20, starting_after=None, status=None, customer_id=None
        )
        before = await new_calls(downstreams, Counter())

        # The page reads nothing: each child field finds no level and reads for itself
        children = await reads.invoice_children(
            page.items, customers=True, payments=True, refunds=True
        )
        assert children == InvoiceChildren()
        assert await new_calls(downstreams, before) == Counter()

        # (through the loaders, which still batch what the fields ask in one go)
        invoice = page.items[0]
        assert (await reads.customer_of(invoice)) is not None
        await reads.payments_of(invoice)
        assert await new_calls(downstreams, before) == Counter(
            {"GET /v1/customers": 1, "GET /v1/payments": 1}
        )


LEVERS_OFF = {
    "executor": Levers(lean_executor=False),
    "compiled plans": Levers(compiled_plans=False),
    "compiled guards": Levers(compiled_guards=False),
    "leaf steps": Levers(leaf_steps=False),
    "whole-page children": Levers(whole_page_children=False),
    "one-pass json": Levers(one_pass_json=False),
}


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
@pytest.mark.parametrize("levers", LEVERS_OFF.values(), ids=LEVERS_OFF.keys())
async def test_with_a_lever_off_the_dashboard_answers_the_same_for_the_same_calls(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    levers: Levers,
    role: Role,
) -> None:
    token = token_for([(GB_BUSINESS_ID, role)])
    shipped = await gateway_factory()
    expected = await run_dashboard(shipped, token)
    shipped_calls = await new_calls(downstreams, Counter())

    varied = await gateway_factory(levers=levers)
    answer: dict[str, Any] = await run_dashboard(varied, token)

    assert answer["data"] == expected["data"]
    if levers.whole_page_children:
        assert answer == expected
    assert await new_calls(downstreams, shipped_calls) == shipped_calls
    if role is Role.VIEWER:
        # FieldPolicy refuses the viewer's guarded fields either way. They are more than
        # the error cap lets through, and which ones come first depends on the order
        # fields resolve in, which field-by-field reads change: the same kinds, not the
        # same paths.
        codes = Counter(e["extensions"]["code"] for e in answer["errors"])
        assert codes == Counter(e["extensions"]["code"] for e in expected["errors"])
        assert codes["FORBIDDEN"] > 0
    else:
        assert "errors" not in answer
        assert "errors" not in expected
