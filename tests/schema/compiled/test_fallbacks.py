"""What the compiler leaves to graphql-core runs there, answers the same, and is counted
by reason in gateway_compiled_fallbacks; a known query is never counted. And the toy
schema of tests/schema/test_executor.py (plain leaves, refused scalars, bubbling nulls,
awaitable attributes, interfaces, arguments) answers the same on compiled plans."""

from __future__ import annotations

import pytest
import strawberry
from prometheus_client.parser import text_string_to_metric_families
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.auth.principal import Role
from app.schema.compiled import CompiledExecutor, Fallback
from app.schema.compiled.reasons import directive_variables, document_reason
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import GatewayFactory, TokenFactory, graphql
from tests.schema.test_executor import DOCUMENTS, Query, _answer

METRICS_TOKEN = "metrics-test-token"


async def _fallbacks(gateway: object) -> dict[str, float]:
    response = await gateway.get(  # type: ignore[attr-defined]
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "gateway_compiled_fallbacks"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def test_a_query_runs_compiled_and_introspection_falls_back_counted(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(metrics_token=METRICS_TOKEN)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    # when a known query runs twice, then an introspection query once
    for _ in range(2):
        assert (await graphql(gateway, "{ viewer { id } }", token)).status_code == 200
    assert await _fallbacks(gateway) == {}
    response = await graphql(gateway, "{ __schema { queryType { name } } }", token)

    # then only the introspection is counted, by its reason, and answered
    assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert await _fallbacks(gateway) == {"introspection": 1.0}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("mutation { x }", Fallback.MUTATION),
        ("subscription { x }", Fallback.SUBSCRIPTION),
        ('{ a { __type(name: "X") { name } } }', Fallback.INTROSPECTION),
        ("{ ...F } fragment F on Query { __schema { types { name } } }", Fallback.INTROSPECTION),
        ("{ a @defer { b } }", Fallback.DIRECTIVE),
        ("{ a @skip(if: true) { b @include(if: false) __typename } }", None),
    ],
)
def test_each_reason_is_decided_from_the_document(document: str, reason: Fallback | None) -> None:
    from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }

    assert document_reason(operation, fragments) == reason


def test_plans_are_kept_per_value_of_the_directive_variables() -> None:
    from graphql import OperationDefinitionNode, parse

    parsed = parse(
        "query($a: Boolean!, $b: Boolean!) { x @skip(if: $a) ...F } "
        "fragment F on Query { y @include(if: $b) z(arg: $c) }"
    )
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)

    assert directive_variables(operation, {"F": parsed.definitions[1]}) == ("a", "b")  # type: ignore[dict-item]


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
async def test_the_toy_schema_answers_the_same_on_compiled_plans(document: str) -> None:
    compiled = strawberry.Schema(query=Query, execution_context_class=CompiledExecutor)
    reference = strawberry.Schema(
        query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
    )

    # twice: the first run builds the plan, the second walks it
    for _ in range(2):
        assert _answer(await compiled.execute(document)) == _answer(
            await reference.execute(document)
        )
