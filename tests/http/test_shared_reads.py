"""The endpoint lets a request's reads share identical ones in flight for others (single
flight, app/downstream/coalesce.py) only when every operation it runs is a query: a
mutation's reads, in a batch too, must see the service as it is after its writes."""

from __future__ import annotations

import pytest
from strawberry.http import GraphQLRequestData

from app.http.endpoint import GraphQLEndpoint
from app.wiring.resources import ResourceHolder

QUERY = "query Q { viewer { id } }"
MUTATION = 'mutation M { voidInvoice(input: {invoiceId: "inv_1"}) { __typename } }'
BOTH = f"{QUERY} {MUTATION}"


def request(query: str | None, name: str | None = None) -> GraphQLRequestData:
    return GraphQLRequestData(query=query, variables=None, operation_name=name, extensions=None)


@pytest.fixture
def endpoint() -> GraphQLEndpoint:
    return GraphQLEndpoint(ResourceHolder(), graphiql=None)


@pytest.mark.parametrize(
    ("admitted", "shared"),
    [
        (request(QUERY), True),
        (request("{ viewer { id } }"), True),
        (request(BOTH, "Q"), True),
        (request(MUTATION), False),
        (request(BOTH, "M"), False),
        ([request(QUERY), request(QUERY)], True),
        ([request(QUERY), request(MUTATION)], False),
        (request("subscription S { x }"), False),
        (request("not graphql"), False),
        (request(None), False),
    ],
    ids=[
        "query",
        "anonymous-query",
        "query-chosen",
        "mutation",
        "mutation-chosen",
        "batch-of-queries",
        "batch-with-a-mutation",
        "subscription",
        "unparsable",
        "no-document",
    ],
)
def test_only_requests_of_queries_share_reads(
    endpoint: GraphQLEndpoint, admitted: GraphQLRequestData | list[GraphQLRequestData], shared: bool
) -> None:
    assert endpoint._queries_only(admitted) is shared
