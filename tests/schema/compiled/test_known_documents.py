"""Every known document answers the same through the compiled plans as through
graphql-core's executor: the clients' documents, the partner guide's, and documents made
to reach abstract types, fragments, directives and refusals; each as an owner, a viewer
(FieldPolicy's FORBIDDEN nulls), a partner token with one scope (ScopeRequiredError) and
a stranger (no membership: NOT_FOUND). Two gateways on the same sandbox, one with the
shipped levers, one with graphql-core's executor alone; answers compared whole (data,
errors with message, path, locations and extensions, key order and error order)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.auth.principal import Role
from app.levers import Levers
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import GatewayFactory, TokenFactory, graphql
from tests.schema.compiled.documents import ALL_DOCUMENTS

PEOPLE: dict[str, tuple[list[tuple[str, Role]], list[str] | None]] = {
    "owner": ([(GB_BUSINESS_ID, Role.OWNER)], None),
    "viewer": ([(GB_BUSINESS_ID, Role.VIEWER)], None),
    "partner": ([(GB_BUSINESS_ID, Role.OWNER)], ["invoices:read"]),
    "stranger": ([], None),
}
GENEROUS = {"rate_limit_capacity": 1_000_000, "rate_limit_refill_per_second": 1_000_000.0}


def _ordered(body: bytes) -> Any:
    # Key order is part of the answer: compared as pairs, not as dicts.
    return json.loads(body, object_pairs_hook=list)


@pytest.mark.parametrize("person", PEOPLE)
async def test_known_documents_answer_as_graphql_core_does(
    gateway_factory: GatewayFactory, token_for: TokenFactory, person: str
) -> None:
    # given a gateway on compiled plans and one on graphql-core's executor alone
    memberships, scopes = PEOPLE[person]
    token = token_for(memberships, subject=f"user_{person}", scopes=scopes)
    compiled = await gateway_factory(levers=Levers(), **GENEROUS)
    reference = await gateway_factory(levers=Levers(lean_executor=False), **GENEROUS)

    for name, document, variables in ALL_DOCUMENTS:
        # when each document runs twice on each (the second time from its plan)
        answers = []
        for gateway in (compiled, compiled, reference, reference):
            response = await graphql(gateway, document, token, variables)
            answers.append((response.status_code, _ordered(response.content)))

        # then every answer is the same, byte for byte once parsed in order
        assert answers[0] == answers[2], name
        assert answers[1] == answers[3], name
