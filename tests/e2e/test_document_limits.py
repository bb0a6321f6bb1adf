"""Every document limit at, below and above its bound, in production settings. A refused
document gets one QUERY_TOO_COMPLEX error naming the limit and the computed value, and
reaches no downstream service: each refusal below checks both call logs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql

Json = dict[str, Any]


def refused(limit: str, what: str, maximum: int, value: int, shown: str | None = None) -> Json:
    return {
        "data": None,
        "errors": [
            {
                "message": f"Query too complex: {what}: {shown or value}, limit {maximum}.",
                "extensions": {
                    "code": "QUERY_TOO_COMPLEX",
                    "limit": limit,
                    "maximum": maximum,
                    "value": value,
                },
            }
        ],
    }


ALIASES = "aliases in the operation (fragments counted where they are spread)"


async def nothing_downstream(downstreams: Downstreams) -> None:
    assert await downstreams.calls("invoicing") == []
    assert await downstreams.calls("payments") == []


async def run(gateway: httpx.AsyncClient, token: str, query: str, **variables: object) -> Json:
    response = await graphql(gateway, query, token, variables)
    assert response.status_code == 200
    body: Json = response.json()
    return body


BUSINESS = f'business(id: "{GB_BUSINESS_ID}")'
OWNER = [(GB_BUSINESS_ID, Role.OWNER)]


def aliased_viewers(count: int) -> str:
    return "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(count)) + " }"


def aliased_businesses(count: int) -> str:
    return "{ " + " ".join(f"a{i}: {BUSINESS} {{ name }}" for i in range(count)) + " }"


# -- aliases (GRAPHQL_MAX_ALIASES, 30) -------------------------------------------------


@pytest.mark.parametrize("count", [29, 30])
async def test_aliases_up_to_the_limit_run(
    gateway: httpx.AsyncClient, token_for: TokenFactory, count: int
) -> None:
    body = await run(gateway, token_for(OWNER), aliased_businesses(count))

    assert "errors" not in body
    assert len(body["data"]) == count


async def test_one_alias_over_the_limit_is_refused(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    body = await run(gateway, token_for(OWNER), aliased_businesses(31))

    assert body == refused("aliases", ALIASES, 30, 31)
    await nothing_downstream(downstreams)


@pytest.mark.parametrize(
    ("max_tokens", "expected"),
    [
        # The default: 300 listings do not even fit in 2000 tokens.
        (2000, refused("tokens", "tokens in the document", 2000, 2001, "more than 2000")),
        (10_000, refused("aliases", ALIASES, 30, 300)),
    ],
    ids=["default tokens", "more tokens"],
)
async def test_300_aliased_listings_are_refused_with_no_downstream_call(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    downstreams: Downstreams,
    max_tokens: int,
    expected: Json,
) -> None:
    # Given a document that used to make one listing call per alias
    gateway = await gateway_factory(graphql_max_tokens=max_tokens)
    listing = (
        f'business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 1) {{ edges {{ node {{ id }} }} }} }}'
    )
    query = "{ " + " ".join(f"b{i}: {listing}" for i in range(300)) + " }"
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    # When it is sent, then it is refused and nothing is asked of any service
    assert await run(gateway, token, query) == expected
    await nothing_downstream(downstreams)


async def test_aliases_hidden_in_a_fragment_count_each_time_it_is_spread(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    fragment = "fragment Ids on Viewer { " + " ".join(f"i{i}: id" for i in range(15)) + " }"
    once = "{ viewer { ...Ids } } " + fragment
    twice = "{ viewer { ...Ids } again: viewer { ...Ids } } " + fragment
    token = token_for([])

    assert "errors" not in await run(gateway, token, once)
    # 15 + 1 + 15: the fragment's aliases count where each spread lands.
    assert await run(gateway, token, twice) == refused("aliases", ALIASES, 30, 31)


async def test_a_fragment_bomb_is_refused_quickly(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given fragments that each spread the next twice: 2^40 aliases once expanded
    fragments = " ".join(
        f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40)
    )
    query = "{ viewer { ...F0 } } " + fragments + " fragment F40 on Viewer { a: id }"

    body = await run(gateway, token_for([]), query)

    assert body == refused("aliases", ALIASES, 30, 2**40)


async def test_the_alias_limit_is_a_setting(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(graphql_max_aliases=2)

    assert "errors" not in await run(gateway, token_for([]), aliased_viewers(2))
    assert await run(gateway, token_for([]), aliased_viewers(3)) == refused(
        "aliases", ALIASES, 2, 3
    )


# -- depth (GRAPHQL_MAX_DEPTH, 12) -------------------------------------------------------

# Twelve fields on the longest path (`id` is the twelfth).
DEPTH_12 = (
    f'{{ invoice(id: "{GB_OPEN_INVOICE_ID}") {{ customer {{ business {{ invoices(first: 1) '
    "{ edges { node { customer { business { payments(first: 1) { edges { node { id } } } } } } } "
    "} } } } }"
)
DEPTH_11 = DEPTH_12.replace("edges { node { id } }", "pageInfo { hasNextPage }")
DEPTH_13 = DEPTH_12.replace("node { id }", "node { invoice { id } }")
DEPTH = "depth of the operation"


@pytest.mark.parametrize("query", [DEPTH_12, DEPTH_11], ids=["12", "11"])
async def test_queries_up_to_the_depth_limit_run(
    gateway: httpx.AsyncClient, token_for: TokenFactory, query: str
) -> None:
    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), query)

    assert "errors" not in body
    assert body["data"]["invoice"]["customer"]["business"]["invoices"]["edges"]


async def test_one_level_over_the_depth_limit_is_refused(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), DEPTH_13)

    assert body == refused("depth", DEPTH, 12, 13)
    await nothing_downstream(downstreams)


async def test_depth_counts_through_fragments(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given the 13-deep query split into fragments a few levels apart
    query = f"""
    {{ invoice(id: "{GB_OPEN_INVOICE_ID}") {{ ...I }} }}
    fragment I on Invoice {{ customer {{ business {{ invoices(first: 1) {{ ...E }} }} }} }}
    fragment E on InvoiceConnection {{ edges {{ node {{ customer {{ ...B }} }} }} }}
    fragment B on Customer {{ business {{ payments(first: 1) {{ edges {{ ...P }} }} }} }}
    fragment P on PaymentEdge {{ node {{ invoice {{ id }} }} }}
    """

    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), query)

    assert body == refused("depth", DEPTH, 12, 13)
    await nothing_downstream(downstreams)


async def test_graphiqls_introspection_query_is_not_held_to_the_depth_limit(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Its TypeRef fragment alone nests `ofType` nine deep.
    body = await run(gateway, token_for([]), get_introspection_query(descriptions=True))

    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# -- tokens (GRAPHQL_MAX_TOKENS, 2000) ---------------------------------------------------


# Business fields to fill a document with: none repeated often enough to meet the limit
# on repeated response keys (20), which is not what these tests are about.
FILLER = ("name", "country", "defaultCurrency", "id", "viewerRole")
FILLED = {
    "name": "Northwind Studio Ltd",
    "country": "GB",
    "defaultCurrency": "GBP",
    "id": GB_BUSINESS_ID,
    "viewerRole": "OWNER",
}


def filler(count: int, suffix: str = "") -> str:
    return "".join(f"{FILLER[n % len(FILLER)]}{suffix} " for n in range(count))


def ids_query(tokens: int) -> str:
    """`{ business(id: "...") { name country ... } }`: ten tokens of frame, one per field."""
    return "{ " + BUSINESS + " { " + filler(tokens - 10) + "} }"


@pytest.mark.parametrize("tokens", [99, 100])
async def test_documents_up_to_the_token_limit_run(
    gateway_factory: GatewayFactory, token_for: TokenFactory, tokens: int
) -> None:
    gateway = await gateway_factory(graphql_max_tokens=100)

    body = await run(gateway, token_for(OWNER), ids_query(tokens))

    assert body == {"data": {"business": FILLED}}


async def test_one_token_over_the_limit_is_refused(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(graphql_max_tokens=100)

    body = await run(gateway, token_for(OWNER), ids_query(101))

    # The parser stops counting at the limit.
    assert body == refused("tokens", "tokens in the document", 100, 101, "more than 100")
    await nothing_downstream(downstreams)


@pytest.mark.parametrize(
    "query",
    [
        ids_query(2001),
        # Comments are tokens too: a document padded with them is no cheaper to read.
        "#\n" * 2000 + "{ viewer { id } }",
    ],
    ids=["fields", "comments"],
)
async def test_the_default_token_limit_is_2000(
    gateway: httpx.AsyncClient, token_for: TokenFactory, query: str
) -> None:
    body = await run(gateway, token_for([]), query)

    assert body == refused("tokens", "tokens in the document", 2000, 2001, "more than 2000")


async def test_a_syntax_error_within_the_limit_stays_a_syntax_error(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    body = await run(gateway, token_for([]), "{ viewer { id }")

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Syntax Error: Expected Name, found <EOF>.",
                "locations": [{"line": 1, "column": 16}],
                "extensions": {"code": "GRAPHQL_PARSE_FAILED"},
            }
        ],
    }


# -- directives (GRAPHQL_MAX_DIRECTIVES, 50) ---------------------------------------------


def directives_query(count: int, directive: str = "@include(if: true)") -> str:
    return "{ " + BUSINESS + " { " + filler(count, f" {directive}") + "} }"


@pytest.mark.parametrize("count", [49, 50])
async def test_directives_up_to_the_limit_run(
    gateway: httpx.AsyncClient, token_for: TokenFactory, count: int
) -> None:
    body = await run(gateway, token_for(OWNER), directives_query(count))

    assert body == {"data": {"business": FILLED}}


async def test_one_directive_over_the_limit_is_refused(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    body = await run(gateway, token_for(OWNER), directives_query(51))

    assert body == refused("directives", "directives in the document", 50, 51)
    await nothing_downstream(downstreams)


async def test_a_thousand_unknown_directives_get_one_error(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(graphql_max_tokens=10_000)

    body = await run(gateway, token_for([]), directives_query(1000, "@x"))

    assert body == refused("directives", "directives in the document", 50, 1000)


# -- cost (GRAPHQL_MAX_COST, 500) ---------------------------------------------------------


def customers_with_invoices(*page_sizes: int) -> str:
    """One business read per alias (1), its customers listed (1), and each customer's
    invoices listed: `n + 2` downstream requests for `customers(first: n)`."""
    parts = [
        f'c{i}: business(id: "{GB_BUSINESS_ID}") {{ customers(first: {n}) {{ edges {{ node '
        "{ invoices(first: 1) { edges { node { id } } } } } } }"
        for i, n in enumerate(page_sizes)
    ]
    return "{ " + " ".join(parts) + " }"


COST = "estimated cost of the operation (downstream requests)"


@pytest.mark.parametrize("page_size", [27, 28], ids=["cost 29", "cost 30"])
async def test_queries_up_to_the_cost_limit_run(
    gateway_factory: GatewayFactory, token_for: TokenFactory, page_size: int
) -> None:
    gateway = await gateway_factory(graphql_max_cost=30)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    body = await run(gateway, token, customers_with_invoices(page_size))

    assert "errors" not in body
    assert body["data"]["c0"]["customers"]["edges"]


async def test_a_query_over_the_cost_limit_is_refused(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(graphql_max_cost=30)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    body = await run(gateway, token, customers_with_invoices(29))

    assert body == refused("cost", COST, 30, 31)
    await nothing_downstream(downstreams)


async def test_nested_connections_are_bounded_by_the_default_cost(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given five aliases, each one listing a hundred customers' invoices: 510 requests
    query = customers_with_invoices(100, 100, 100, 100, 100)

    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), query)

    assert body == refused("cost", COST, 500, 510)
    await nothing_downstream(downstreams)


async def test_the_cost_takes_first_from_the_variables(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(graphql_max_cost=30)
    query = (
        f'query($n: Int) {{ business(id: "{GB_BUSINESS_ID}") {{ customers(first: $n) '
        "{ edges { node { invoices(first: 1) { edges { node { id } } } } } } } }"
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    assert "errors" not in await run(gateway, token, query, n=5)
    assert await run(gateway, token, query, n=29) == refused("cost", COST, 30, 31)


# -- page sizes: `first` in 1..100 everywhere --------------------------------------------

NESTED_FIRST = (
    'query($inner: Int) { business(id: "biz_GBdemo") { customers(first: 2) { edges { node '
    "{ invoices(first: $inner) { edges { node { id } } } } } } } }"
)


@pytest.mark.parametrize("inner", [0, 101, -5])
async def test_a_nested_first_out_of_range_is_refused_before_anything_runs(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams, inner: int
) -> None:
    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), NESTED_FIRST, inner=inner)

    column = NESTED_FIRST.index("first: $inner") + 1
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "first must be between 1 and 100.",
                "locations": [{"line": 1, "column": column}],
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
    }
    await nothing_downstream(downstreams)


@pytest.mark.parametrize("inner", [1, 100, None])
async def test_a_nested_first_within_range_runs(
    gateway: httpx.AsyncClient, token_for: TokenFactory, inner: int | None
) -> None:
    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), NESTED_FIRST, inner=inner)

    assert "errors" not in body
    assert len(body["data"]["business"]["customers"]["edges"]) == 2


@pytest.mark.parametrize(
    "query",
    [
        'query { business(id: "biz_GBdemo") { ...P } } '
        "fragment P on Business { payments(first: 500) { edges { node { id } } } }",
        'query($n: Int = 500) { business(id: "biz_GBdemo") '
        "{ payments(first: $n) { edges { node { id } } } } }",
    ],
    ids=["in a fragment", "variable default"],
)
async def test_first_out_of_range_is_found_in_fragments_and_variable_defaults(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams, query: str
) -> None:
    body = await run(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]), query)

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["data"] is None
    await nothing_downstream(downstreams)


# -- circular fragments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "{ viewer { ...A } } fragment A on Viewer { id ...A }",
            "Cannot spread fragment 'A' within itself.",
        ),
        (
            "{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }",
            "Cannot spread fragment 'A' within itself via 'B'.",
        ),
    ],
    ids=["self", "two"],
)
async def test_circular_fragments_are_a_validation_error(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    query: str,
    message: str,
) -> None:
    body = await run(gateway, token_for([]), query)

    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (message, "GRAPHQL_VALIDATION_FAILED")
    ]
    await nothing_downstream(downstreams)


# -- the error list cap (GRAPHQL_MAX_ERRORS, 10) -------------------------------------------


async def test_the_error_list_is_capped_with_a_count_of_the_rest(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Given 200 unknown fields: validation stops at 100 and says so (101 errors)
    query = "{ viewer { " + " ".join(f"f{i}" for i in range(200)) + " } }"

    body = await run(gateway, token_for([]), query)

    *shown, rest = body["errors"]
    assert [e["message"] for e in shown] == [
        f"Cannot query field 'f{i}' on type 'Viewer'." for i in range(10)
    ]
    assert {e["extensions"]["code"] for e in shown} == {"GRAPHQL_VALIDATION_FAILED"}
    assert rest == {
        "message": "91 more errors were left out.",
        "extensions": {"code": "TOO_MANY_ERRORS", "omitted": 91},
    }


@pytest.mark.parametrize(("unknown", "expected"), [(2, 2), (3, 3), (4, 4)])
async def test_the_error_cap_is_a_setting_at_below_and_above(
    gateway_factory: GatewayFactory, token_for: TokenFactory, unknown: int, expected: int
) -> None:
    gateway = await gateway_factory(graphql_max_errors=3)
    query = "{ viewer { " + " ".join(f"f{i}" for i in range(unknown)) + " } }"

    errors = (await run(gateway, token_for([]), query))["errors"]

    assert len(errors) == expected
    if unknown > 3:
        assert errors[-1]["extensions"] == {"code": "TOO_MANY_ERRORS", "omitted": 1}
    else:
        assert {e["extensions"]["code"] for e in errors} == {"GRAPHQL_VALIDATION_FAILED"}


# -- operation batching (GRAPHQL_MAX_BATCH, 0: off) ------------------------------------------


async def test_batching_is_off_by_default(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    response = await gateway.post(
        "/graphql",
        json=[{"query": "{ viewer { id } }"}],
        headers={"Authorization": f"Bearer {token_for([])}"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": "Batching is not enabled", "extensions": {"code": "BAD_REQUEST"}}]
    }


async def test_a_batch_within_its_bound_runs_each_operation_under_the_limits(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(graphql_max_batch=2)

    response = await gateway.post(
        "/graphql",
        json=[{"query": "{ viewer { id } }"}, {"query": aliased_viewers(31)}],
        headers={"Authorization": f"Bearer {token_for([])}"},
    )

    assert response.status_code == 200
    assert response.json() == [
        {"data": {"viewer": {"id": "user_test"}}},
        refused("aliases", ALIASES, 30, 31),
    ]


@pytest.mark.parametrize("size", [0, 3])
async def test_a_batch_outside_its_bound_is_refused(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams, size: int
) -> None:
    gateway = await gateway_factory(graphql_max_batch=2)
    operation = {"query": f'{{ business(id: "{GB_BUSINESS_ID}") {{ name }} }}'}

    response = await gateway.post(
        "/graphql",
        json=[operation] * size,
        headers={"Authorization": f"Bearer {token_for([(GB_BUSINESS_ID, Role.OWNER)])}"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"message": "A batch holds 1 to 2 operations.", "extensions": {"code": "BAD_REQUEST"}}
        ]
    }
    await nothing_downstream(downstreams)


# -- operation selection (the specification's GetOperation) ---------------------------


async def test_several_operations_without_a_name_are_an_error_and_nothing_runs(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    document = f"query First {{ {BUSINESS} {{ name }} }} query Second {{ viewer {{ id }} }}"

    body = await run(gateway, token_for(OWNER), document)

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Must provide operation name if query contains multiple operations.",
                "locations": [{"line": 1, "column": 1}, {"line": 1, "column": 53}],
                "extensions": {"code": "OPERATION_RESOLUTION_FAILURE"},
            }
        ],
    }
    await nothing_downstream(downstreams)


async def test_several_operations_run_the_one_named(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    document = f"query First {{ {BUSINESS} {{ name }} }} query Second {{ viewer {{ id }} }}"

    response = await gateway.post(
        "/graphql",
        json={"query": document, "operationName": "Second"},
        headers={"Authorization": f"Bearer {token_for(OWNER, subject='user_ops')}"},
    )

    assert response.json() == {"data": {"viewer": {"id": "user_ops"}}}


# -- fields and repeated response keys: validation's work, bounded before it runs -------

FIELDS = "fields in the operation (fragments counted where they are spread)"
REPEATED = "fields sharing one response key in a selection"


def repeated_viewers(count: int) -> str:
    # The comment makes the text new, as an attacker would to miss the validation cache.
    return f"# {count}\n{{ " + "viewer { id } " * count + "}"


@pytest.mark.parametrize("count", [19, 20])
async def test_a_response_key_repeated_up_to_the_limit_runs(
    gateway: httpx.AsyncClient, token_for: TokenFactory, count: int
) -> None:
    body = await run(gateway, token_for(OWNER, subject="user_rep"), repeated_viewers(count))

    assert body == {"data": {"viewer": {"id": "user_rep"}}}


async def test_hundreds_of_repeated_fields_are_refused_before_validation(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # 200 repetitions (400 fields, under the field limit) took 0.27 s to validate when
    # nothing stopped them first
    body = await run(gateway, token_for(OWNER), repeated_viewers(200))

    assert body == refused("repeated_fields", REPEATED, 20, 200)
    await nothing_downstream(downstreams)


async def test_repetitions_spread_from_fragments_are_counted_in_the_selection(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    fragments = " ".join(f"fragment F{n} on Query {{ viewer {{ id }} }}" for n in range(21))
    spreads = " ".join(f"...F{n}" for n in range(21))

    body = await run(gateway, token_for(OWNER), f"{{ {spreads} }} {fragments}")

    assert body == refused("repeated_fields", REPEATED, 20, 21)


async def test_a_document_at_the_field_limit_runs(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(graphql_max_fields=10)
    document = f"{{ {BUSINESS} {{ {filler(9)} }} }}"  # the business and nine of its fields

    body = await run(gateway, token_for(OWNER), document)

    assert body == {"data": {"business": FILLED}}


async def test_a_document_over_the_field_limit_is_refused(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(graphql_max_fields=10)
    document = f"{{ {BUSINESS} {{ {filler(10)} }} }}"  # the business and ten of its fields

    body = await run(gateway, token_for(OWNER), document)

    assert body == refused("fields", FIELDS, 10, 11)
    await nothing_downstream(downstreams)


# -- introspection is priced for its CPU ----------------------------------------------


async def test_one_introspection_runs_and_several_aliased_ones_are_over_the_cost_limit(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([])
    full = get_introspection_query(descriptions=True)
    aliased = "{ " + " ".join(f"s{n}: __schema {{ types {{ name }} }}" for n in range(3)) + " }"

    one = await run(gateway, token, full)
    three = await run(gateway, token, aliased)

    assert "errors" not in one
    assert one["data"]["__schema"]["queryType"]["name"] == "Query"
    assert three == refused("cost", COST, 500, 600)
