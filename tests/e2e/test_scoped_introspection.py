"""Introspection over HTTP follows the token (so GraphiQL's documentation does), while the
fields themselves are still validated against the whole schema and refused at execution
with the one scope refusal; introspection stays priced as before."""

from __future__ import annotations

import httpx

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID
from tests.e2e.conftest import TokenFactory
from tests.e2e.matrix_helpers import Answer, at, run
from tests.e2e.scope_table import refused

DOCUMENT = f"""{{
  __schema {{ mutationType {{ name }} }}
  __type(name: "Invoice") {{ name }}
  invoice(id: "{GB_OPEN_INVOICE_ID}") {{ id }}
}}"""


async def test_a_partner_token_introspects_its_part_and_is_refused_the_rest(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Given a partner token that may read payments only
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["payments:read"])

    # When it introspects and reads an invoice in one request
    answer = await run(gateway, DOCUMENT, token)

    # Then introspection shows no invoices and no mutations, and the invoice field (valid
    # against the whole schema) is refused once, naming the scope
    assert answer == Answer(
        200,
        {
            "data": {"__schema": {"mutationType": None}, "__type": None, "invoice": None},
            "errors": [refused("invoices:read", ["invoice"], at(DOCUMENT, "invoice("))],
        },
    )


async def test_a_first_party_token_introspects_the_whole_schema(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    answer = await run(gateway, DOCUMENT, token)

    assert answer == Answer(
        200,
        {
            "data": {
                "__schema": {"mutationType": {"name": "Mutation"}},
                "__type": {"name": "Invoice"},
                "invoice": {"id": GB_OPEN_INVOICE_ID},
            }
        },
    )
