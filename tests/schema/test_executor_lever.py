"""build_schema's `lean_executor` lever: on (the default) the schema runs on LeanExecutor
and its short path; off, every field goes through graphql-core's own execute_field."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.schema.build import build_schema
from app.schema.compiled import CompiledExecutor
from app.schema.executor import LeanExecutor
from app.schema.visibility import ScopedIntrospection

VIEWER = "{ viewer { id } }"


def _context() -> Any:
    # `viewer` reads only the principal's subject: no read service is built.
    return SimpleNamespace(principal=SimpleNamespace(subject="user_lever"))


@pytest.fixture
def graphql_core_fields(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fields graphql-core's own execute_field runs (the short path bypasses it)."""
    seen: list[str] = []
    original = Executor.execute_field

    def counted(self: Executor[Any], parent: Any, source: Any, details: Any, *rest: Any) -> Any:
        seen.append(f"{parent.name}.{details[0].node.name.value}")
        return original(self, parent, source, details, *rest)

    monkeypatch.setattr(Executor, "execute_field", counted)
    return seen


def test_the_default_schema_runs_on_compiled_plans_over_the_lean_executor() -> None:
    assert build_schema().execution_context_class is CompiledExecutor
    assert issubclass(CompiledExecutor, LeanExecutor)
    assert build_schema(compiled=False).execution_context_class is LeanExecutor


def test_without_the_lean_executor_the_schema_runs_on_graphql_cores_execute_field() -> None:
    schema = build_schema(lean_executor=False)

    # Strawberry's own execution context, answering introspection by the token's scopes
    # (app/schema/visibility.py) but running every field through graphql-core.
    assert schema.execution_context_class is ScopedIntrospection
    assert issubclass(ScopedIntrospection, StrawberryGraphQLCoreExecutionContext)
    assert schema.execution_context_class.execute_field is Executor.execute_field


@pytest.mark.parametrize(
    ("lean_executor", "compiled", "through_graphql_core"),
    [
        (True, True, []),
        (True, False, ["Query.viewer"]),
        (False, False, ["Query.viewer", "Viewer.id"]),
    ],
)
async def test_a_plain_field_takes_the_short_path_only_with_the_lean_executor(
    graphql_core_fields: list[str],
    lean_executor: bool,
    compiled: bool,
    through_graphql_core: list[str],
) -> None:
    # Given the gateway's schema built with the lever on or off
    schema = build_schema(lean_executor=lean_executor, compiled=compiled)

    # When a document with a resolver (viewer) and a plain attribute (id) runs
    result = await schema.execute(VIEWER, context_value=_context())

    # Then the answer is the same; the lean executor skips graphql-core for `id`, and a
    # compiled plan for both (its steps replace execute_field)
    assert result.errors is None
    assert result.data == {"viewer": {"id": "user_lever"}}
    assert graphql_core_fields == through_graphql_core
