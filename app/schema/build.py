"""The public GraphQL schema, built once per app: types, resolvers, the lean executor and
the extensions (document limits, error wording, error cap). No HTTP here, so tools (the
schema CLI, the manifest builder, tests) build it without importing the endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from app.schema.compiled import compiled_executor
from app.schema.error_policy import ErrorPolicy
from app.schema.executor import LeanExecutor
from app.schema.limits.config import Limits
from app.schema.limits.error_cap import ErrorCap
from app.schema.limits.extension import DocumentChecks, DocumentLimits
from app.schema.resolvers.mutation import Mutation
from app.schema.resolvers.query import Query
from app.schema.resolvers.subscription import Subscription
from app.schema.types.nodes import Business, Customer, Invoice, Payment, Refund
from app.schema.types.scalars import SCALARS
from app.schema.visibility import ScopedIntrospection


class GatewaySchema(strawberry.Schema):
    hide_suggestions = True
    # Told each operation the compiler leaves to graphql-core, with the reason
    # (app/schema/compiled/reasons.py); the endpoint counts them in its metrics.
    count_compiled_fallback: Callable[[str], None] | None = None

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        # Variables are coerced at execution, whose errors would otherwise suggest enum
        # values ("Did you mean ...?"); validation hides them in DocumentChecks.
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "hide_suggestions": self.hide_suggestions}

    async def execute(  # noqa: PLR0913, PLR0917 - Strawberry's signature
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # A subscription runs only as a stream (`stream`/`subscribe`): executed once, as
        # a plain POST would, its resolver is a generator nobody iterates.
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # ErrorPolicy logs what deserves it (unexpected errors, with traceback); the
        # default would log every NOT_FOUND and FORBIDDEN with a stack trace.
        return


def build_schema(
    limits: Limits | None = None,
    *,
    hide_suggestions: bool = True,
    checks: DocumentChecks | None = None,
    lean_executor: bool = True,
    compiled: bool = True,
    compiled_guards: bool = True,
    leaf_steps: bool = True,
) -> GatewaySchema:
    """`lean_executor=False` runs every field through graphql-core's executor (Strawberry's
    own execution context), without app/schema/executor.py's short path: the benchmark
    prices the short path with it (bench/gateway_app.py, `fullexecutor`). Both answer
    introspection from what the token's scopes reach (app/schema/visibility.py).
    `compiled=False` (with the short path on) runs without app/schema/compiled/'s plans:
    the benchmark prices them with it (`nocompiled`). `compiled_guards=False` keeps
    Strawberry's resolver wrapper for the guarded fields within the plans (`noguards`);
    `leaf_steps=False` completes every plain scalar and enum field through its completer
    (`noleaves`)."""
    limits = limits or Limits()
    checks = checks or DocumentChecks(limits, hide_suggestions=hide_suggestions)
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Business, Customer, Invoice, Payment, Refund],
        execution_context_class=_executor_class(
            lean_executor=lean_executor,
            compiled=compiled,
            compiled_guards=compiled_guards,
            leaf_steps=leaf_steps,
        ),
        # Factories, not instances: each execution gets its own extension object. The
        # order matters: each one's work after the operation runs in reverse order, so the
        # cap counts the errors ErrorPolicy words, which include DocumentLimits' own.
        extensions=[
            lambda: ErrorCap(limits.max_errors),
            ErrorPolicy,
            lambda: DocumentLimits(limits, checks),
        ],
        config=StrawberryConfig(
            scalar_map=SCALARS,
            batching_config={"max_operations": limits.max_batch} if limits.max_batch else None,
        ),
    )
    schema.hide_suggestions = hide_suggestions
    return schema


def _executor_class(
    *, lean_executor: bool, compiled: bool, compiled_guards: bool, leaf_steps: bool
) -> type[ScopedIntrospection]:
    if not lean_executor:
        return ScopedIntrospection
    if not compiled:
        return LeanExecutor
    return compiled_executor(guard_fields=compiled_guards, leaf_steps=leaf_steps)
