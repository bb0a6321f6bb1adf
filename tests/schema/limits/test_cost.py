"""document_cost as a pure function: worst-case downstream requests, with list sizes from
`first`, `ids` or the maximum page size; the numbers the defaults are chosen against."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, get_introspection_query, parse

from app.schema.build import build_schema
from app.schema.limits.cost import INTROSPECTION_COST, MUTATION_COST, analyse_cost, document_cost
from tests.e2e.test_dashboard import DASHBOARD


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def cost(schema: GraphQLSchema, query: str, **variables: object) -> int:
    return document_cost(parse(query), variables, None, schema)


@pytest.mark.parametrize(("first", "expected"), [(20, 25), (50, 55), (100, 105)])
def test_the_dashboard_costs_what_the_readme_says(
    schema: GraphQLSchema, first: int, expected: int
) -> None:
    # business, balance and the invoice listing (3); customers and payments batched per
    # 100 invoices (2); refunds per 100 payments, 100 payments assumed per invoice.
    assert cost(schema, DASHBOARD, id="biz_GBdemo", first=first) == expected


def test_nested_connections_cost_one_listing_per_parent(schema: GraphQLSchema) -> None:
    query = (
        '{ business(id: "b") { customers(first: 20) { edges { node '
        "{ invoices(first: 50) { edges { node { id } } } } } } } }"
    )

    # business 1 + customers listing 1 + one invoices listing per customer 20
    assert cost(schema, query) == 22


def test_first_defaults_to_the_arguments_default(schema: GraphQLSchema) -> None:
    query = (
        '{ business(id: "b") { customers { edges { node '
        "{ invoices { edges { node { id } } } } } } } }"
    )

    assert cost(schema, query) == 22


@pytest.mark.parametrize(
    ("variables", "expected"),
    [({"n": 7}, 9), ({}, 22), ({"n": None}, 22), ({"n": "7"}, 102), ({"n": True}, 102)],
    ids=["given", "absent", "null", "a string", "a boolean"],
)
def test_first_from_a_variable(
    schema: GraphQLSchema, variables: dict[str, object], expected: int
) -> None:
    # A value that is not an Int is refused when variables are coerced; until then it
    # counts as a full page.
    query = (
        'query($n: Int) { business(id: "b") { customers(first: $n) { edges { node '
        "{ invoices(first: 1) { edges { node { id } } } } } } } }"
    )

    assert cost(schema, query, **variables) == expected


def test_a_variables_default_counts_when_it_is_not_given(schema: GraphQLSchema) -> None:
    query = (
        'query($n: Int = 3) { business(id: "b") { customers(first: $n) { edges { node '
        "{ invoices(first: 1) { edges { node { id } } } } } } } }"
    )

    assert cost(schema, query) == 5


def test_nodes_count_their_ids(schema: GraphQLSchema) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Payment { refunds { id } } } }"

    # nodes 1 + refunds for up to 150 payments, 100 a batch: 2
    assert cost(schema, query, ids=["pay_1"] * 150) == 3
    assert cost(schema, '{ nodes(ids: ["pay_1", "pay_2"]) { id } }') == 1


def test_lists_without_first_are_assumed_full(schema: GraphQLSchema) -> None:
    query = '{ invoice(id: "i") { payments { refunds { payment { invoice { id } } } } } }'

    # invoice 1, payments 1, refunds 1 (100 payments), payment 100 (10,000 refunds),
    # invoice 100
    assert cost(schema, query) == 203


def test_a_mutation_counts_its_writes_and_its_reads(schema: GraphQLSchema) -> None:
    query = (
        'mutation { a: payInvoice(input: {idempotencyKey: "k", invoiceId: "inv_1", '
        'paymentMethod: "pm"}) { payment { id } invoice { id } userErrors { code } } '
        'b: voidInvoice(input: {idempotencyKey: "k2", invoiceId: "inv_1"}) { replayed } }'
    )

    assert cost(schema, query) == 2 * MUTATION_COST + 2


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { id } }",
        "{ __typename }",
        '{ node(id: "x") { __typename } }',
    ],
)
def test_what_reads_nothing_costs_the_minimum(schema: GraphQLSchema, query: str) -> None:
    # (node reads one object: one batched call, the minimum as well)
    assert cost(schema, query) == 1


def test_introspection_is_priced_for_its_cpu(schema: GraphQLSchema) -> None:
    full = get_introspection_query(descriptions=True)
    one_type = '{ __type(name: "Invoice") { name fields { name } } }'

    assert cost(schema, full) == INTROSPECTION_COST == 200
    assert cost(schema, one_type) == 10
    # aliased introspections add up, so a document of them is over the limit
    assert (
        cost(schema, "{ a: __schema { queryType { name } } b: __schema { types { name } } }") == 400
    )
    assert document_cost(parse(full), None, None, schema, introspection_cost=40) == 40


def test_both_branches_of_a_type_condition_count(schema: GraphQLSchema) -> None:
    query = (
        '{ node(id: "x") { ... on Invoice { payments { id } } '
        "... on Payment { refunds { id } invoice { id } } } }"
    )

    assert cost(schema, query) == 4


def test_a_fragment_spread_twice_in_one_selection_counts_once(schema: GraphQLSchema) -> None:
    query = '{ invoice(id: "i") { ...P ...P } } fragment P on Invoice { payments { id } }'

    assert cost(schema, query) == 2


def test_only_the_named_operation_counts(schema: GraphQLSchema) -> None:
    document = parse(
        'query Cheap { viewer { id } } query Dear { invoice(id: "i") { customer { id } } }'
    )

    assert document_cost(document, None, "Cheap", schema) == 1
    assert document_cost(document, None, "Dear", schema) == 2
    assert document_cost(document, None, "Missing", schema) == 1
    # Without a name execution refuses a document of two operations; both count.
    assert document_cost(document, None, None, schema) == 0 + 2


def test_unknown_fields_and_types_count_nothing(schema: GraphQLSchema) -> None:
    # (Validation refuses these before the cost is asked.)
    query = '{ nope { id } invoice(id: "i") { ... on Nope { id } ...F } }'
    fragment = " fragment F on Int { id }"

    assert cost(schema, query + fragment) == 1


def test_out_of_range_first_counts_as_a_full_page_and_is_reported(schema: GraphQLSchema) -> None:
    query = (
        '{ business(id: "b") { a: customers(first: 0) { edges { node { id } } } '
        "b: payments(first: 101) { edges { node { invoice { id } } } } } }"
    )

    analysis = analyse_cost(parse(query), None, None, schema)

    assert analysis.cost == 4
    assert [(e.message, e.extensions) for e in analysis.page_size_errors] == [
        ("first must be between 1 and 100.", {"code": "BAD_USER_INPUT"})
    ] * 2


def test_a_fragment_bomb_is_walked_once_per_shape(schema: GraphQLSchema) -> None:
    # Given fragments that each spread the next twice, 40 deep: 2^40 paths if expanded
    fragments = " ".join(
        f"fragment F{i} on Invoice {{ customer {{ invoices(first: 2) {{ edges {{ node "
        f"{{ ...F{i + 1} ...F{i + 1} }} }} }} }} }}"
        for i in range(40)
    )
    query = '{ invoice(id: "i") { ...F0 } } ' + fragments + " fragment F40 on Invoice { id }"

    # Then level i has 2^i invoices: their customers batched, one listing per customer
    assert cost(schema, query) == 1 + sum(-(-(2**i) // 100) + 2**i for i in range(40))
