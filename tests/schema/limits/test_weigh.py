"""A request's rate-limit weight is its document's cost, worked out from the same cached
parse and checks that execution reuses; a document that will be refused weighs what
reading it costs."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query, parse

from app.schema.build import GatewaySchema, build_schema
from app.schema.limits.config import Limits
from app.schema.limits.cost import document_cost
from app.schema.limits.extension import DocumentChecks
from app.schema.limits.weigh import CostWeigher, text_weight
from sandbox.seed import GB_BUSINESS_ID

NESTED = (
    f'query Q($n: Int!) {{ business(id: "{GB_BUSINESS_ID}") {{ customers(first: $n) '
    "{ edges { node { invoices(first: 5) { edges { node { id } } } } } } } }"
)


def rig() -> tuple[CostWeigher, DocumentChecks, GatewaySchema]:
    checks = DocumentChecks(Limits(), hide_suggestions=True)
    schema = build_schema(checks=checks)
    return CostWeigher(schema._schema, checks, Limits().max_cost), checks, schema


def test_the_weight_is_the_documents_cost_with_its_variables() -> None:
    weigh, _, _ = rig()

    weight = weigh(NESTED, "Q", {"n": 20})

    # the business (1), its customers listing (1), one invoice listing per customer (20)
    assert weight == 22
    assert weight == document_cost(parse(NESTED), {"n": 20}, "Q", build_schema()._schema)


def test_a_document_that_will_be_refused_weighs_only_its_reading() -> None:
    weigh, _, _ = rig()

    def refused(query: str, name: str | None, variables: dict[str, int] | None) -> None:
        assert weigh(query, name, variables) == weigh.text(query)

    refused("{ business(", None, None)  # does not parse
    refused("{ viewer { nope } }", None, None)  # fails validation
    too_deep = "{ viewer " + "{ memberships " * 20 + "{ role }" + " }" * 21
    refused(too_deep, None, None)  # over the depth limit
    refused(NESTED, "Q", {"n": 0})  # a page size out of range
    costly = NESTED.replace(
        "invoices(first: 5)",
        "invoices(first: 100) { edges { node { payments { refunds { id } } } } } "
        "x: invoices(first: 5)",
    )
    refused(costly, "Q", {"n": 100})  # over the cost limit
    repeated = "{ " + "viewer { id } " * 200 + "}"
    refused(repeated, None, None)  # over the limit on repeated response keys
    # several operations and no name: refused before anything runs
    refused(f"{NESTED} query R {{ viewer {{ id }} }}", None, {"n": 20})
    assert weigh(f"{NESTED} query R {{ viewer {{ id }} }}", "Q", {"n": 20}) == 22


@pytest.mark.parametrize(
    ("query", "weight"),
    [
        ("{ viewer { id } }", 1),
        ("query B($id: ID!) { business(id: $id) { id name } }", 1),
        ("{ " + "viewer { id } " * 200 + "}", 33),  # 802 tokens
        ("{ " + "viewer { id } " * 600 + "}", 81),  # counted to just past 2,000
        ("#" + "x" * 100_000 + "\n{ viewer { id } }", 98),  # 100 KB of comment
        ('{ viewer(a: "' + "x" * 10_000 + '") { id } }', 10),  # 10 KB in one string
    ],
    ids=["viewer", "one object", "800 tokens", "over the token limit", "comment", "string"],
)
def test_reading_a_document_weighs_1_per_25_tokens_or_a_kib(query: str, weight: int) -> None:
    weigh, _, _ = rig()

    assert weigh.text(query) == weight
    assert text_weight(query, max_tokens=2000) == weight


def test_an_introspection_weighs_what_it_costs() -> None:
    weigh, _, _ = rig()

    assert weigh(get_introspection_query(descriptions=True), None, None) == 200
    assert weigh('{ __type(name: "Invoice") { name } }', None, None) == 10


async def test_execution_reuses_the_parse_and_checks_the_weighing_did() -> None:
    weigh, checks, schema = rig()
    query = "query Once { viewer { id } }"

    weigh(query, None, None)
    result = await schema.execute(query)

    info = checks.parse.cache_info()  # type: ignore[attr-defined]
    assert (info.misses, info.hits) == (1, 1)
    assert result.errors  # no context: the resolver fails, but parsing was shared
