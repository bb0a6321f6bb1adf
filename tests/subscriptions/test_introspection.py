"""What a partner token's introspection shows of the Subscription root: the
subscriptions whose objects its scopes reach; mutationOutcome only to a token that may
write (as the query of the same name)."""

from __future__ import annotations

import pytest

from app.schema.build import GatewaySchema, build_schema
from tests.schema.test_visibility import _fields, _introspect


@pytest.fixture(scope="module")
def schema() -> GatewaySchema:
    return build_schema()


@pytest.mark.parametrize(
    ("scopes", "shown"),
    [
        (None, {"paymentUpdated", "invoiceUpdated", "businessEvents", "mutationOutcome"}),
        (
            {"invoices:read", "payments:read"},
            {"paymentUpdated", "invoiceUpdated", "businessEvents"},
        ),
        (
            {"invoices:read", "invoices:write"},
            {"invoiceUpdated", "businessEvents", "mutationOutcome"},
        ),
    ],
    ids=["first-party", "reader", "invoice-writer"],
)
async def test_a_token_sees_the_subscriptions_its_scopes_reach(
    schema: GatewaySchema, scopes: set[str] | None, shown: set[str]
) -> None:
    data = await _introspect(schema, frozenset(scopes) if scopes is not None else None)
    assert _fields(data, "Subscription") == shown
