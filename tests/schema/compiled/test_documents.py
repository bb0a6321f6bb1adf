"""Every query document the test suite sends (string constants in tests/ that parse as
GraphQL queries) answers the same on compiled plans as on graphql-core's executor, as
the sandbox business's owner. Variables are filled by name from the sandbox (an `id`
is the business, `ids` its first invoices, `first` a small page); documents needing
others are compared with what both answer for the missing ones."""

from __future__ import annotations

import ast
from functools import cache
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    parse,
)

from app.auth.principal import Role
from app.levers import Levers
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import GatewayFactory, TokenFactory, graphql
from tests.schema.compiled.documents import FIRST_GB_INVOICE, ROOT
from tests.schema.compiled.test_known_documents import GENEROUS, _ordered

VARIABLES: dict[str, Any] = {
    "id": GB_BUSINESS_ID,
    "businessId": GB_BUSINESS_ID,
    "ids": [GB_BUSINESS_ID, FIRST_GB_INVOICE, "inv_nope"],
    "first": 3,
    "invoiceId": FIRST_GB_INVOICE,
}


def _query(text: str) -> OperationDefinitionNode | None:
    """The document's only operation when it is a query, else None."""
    if "{" not in text:
        return None
    try:
        document = parse(text)
    except Exception:  # noqa: BLE001 - most string constants are not GraphQL
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    others = [
        d
        for d in document.definitions
        if not isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    if len(operations) != 1 or others or operations[0].operation is not OperationType.QUERY:
        return None
    return operations[0]


@cache
def suite_documents() -> list[tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.parent.name == "compiled":
            continue  # this folder's own documents are compared where they are made
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            operation = _query(node.value)
            if operation is None or node.value in found:
                continue
            names = [v.variable.name.value for v in operation.variable_definitions or ()]
            variables = {name: VARIABLES[name] for name in names if name in VARIABLES}
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            found[node.value] = (where, node.value, variables)
    return list(found.values())


def test_the_collector_finds_the_suites_queries() -> None:
    documents = suite_documents()
    # (the dashboard's, from tests/e2e/test_dashboard.py, among them)
    assert any(where.startswith("tests/e2e/test_dashboard.py") for where, _, _ in documents)
    assert len(documents) > 20


async def test_the_suites_queries_answer_as_graphql_core_does(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    compiled = await gateway_factory(levers=Levers(), **GENEROUS)
    reference = await gateway_factory(levers=Levers(lean_executor=False), **GENEROUS)

    for where, document, variables in suite_documents():
        answers = []
        for gateway in (compiled, compiled, reference):
            response = await graphql(gateway, document, token, variables)
            answers.append((response.status_code, _ordered(response.content)))
        assert answers[0] == answers[2], where
        assert answers[1] == answers[2], where
