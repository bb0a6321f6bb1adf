"""graphql-core's executor with a short path for plain fields.

Most of an answer is plain values of objects the resolvers already built: of the
dashboard's 1,314 fields, about 1,100 are ids, statuses, names, dates, amounts.
For each, graphql-core builds a resolve-info object (14 values), asks the middleware for
a wrapper, looks for arguments, checks for awaitables twice and walks its completion
steps; for a method resolver Strawberry adds an Info object, argument conversion and an
extension chain. That bookkeeping, not the value, is most of what such a field costs
(bench/profiles/NOTE.md).

A field is plain when it has no arguments, no extension and no permission class, and is
either an attribute (Strawberry's "basic" field) or a synchronous method of its object
that takes nothing but `self`, like `Money.amount`; and its type is a scalar, an enum or
an object type without an is_type_of check (such as `Money`). None of that can look at
the info object, so the short path reads the value directly and completes it as
graphql-core does: the same serialisation, the same error at the same path for a null in
a non-null field, a value the scalar refuses or an error bubbling up from below.

The short path is off when the schema has a middleware (a schema extension with a
resolve hook must see every field) or Strawberry exception handlers. Every other field
takes graphql-core's own path unchanged, so a field that gains a resolver that reads
info, a guard or an argument leaves the short path by construction
(tests/schema/test_executor.py compares both executors answer for answer).

It answers introspection as app/schema/visibility.py's ScopedIntrospection does (the
schema the token may see): introspection fields never take the short path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from operator import attrgetter
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from app.schema.visibility import ScopedIntrospection


class _PlainLeaf(NamedTuple):
    read: Callable[[Any], Any]
    leaf_type: GraphQLLeafType
    non_null: bool


class _PlainObject(NamedTuple):
    read: Callable[[Any], Any]
    object_type: GraphQLObjectType
    non_null: bool


_Plan = _PlainLeaf | _PlainObject
_Plans = dict[tuple[str, str], _Plan | None]
# Per schema (tests build many): (parent type, field) -> its plan, or None: not plain.
_plans_by_schema: WeakKeyDictionary[GraphQLSchema, _Plans] = WeakKeyDictionary()


def takes_short_path(schema: GraphQLSchema, type_name: str, field_name: str) -> bool:
    """Whether the field takes the short path (tests pin which fields do)."""
    parent_type = schema.get_type(type_name)
    if not isinstance(parent_type, GraphQLObjectType):
        raise ValueError(f"{type_name} is not an object type")
    return _plan(_plans_of(schema), schema, parent_type, field_name) is not None


def _plans_of(schema: GraphQLSchema) -> _Plans:
    plans = _plans_by_schema.get(schema)
    if plans is None:
        plans = _plans_by_schema.setdefault(schema, {})
    return plans


def _plan(
    plans: _Plans, schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str
) -> _Plan | None:
    key = (parent_type.name, name)
    try:
        return plans[key]
    except KeyError:
        plans[key] = plan = _planned(schema, parent_type, name)
        return plan


def _planned(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> _Plan | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    field_type = field_def.type
    non_null = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    read = plain_reader(schema, field_def)
    if read is None:
        return None
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return _PlainLeaf(read, inner, non_null)
    # An object type without is_type_of (Strawberry sets one only for types with
    # interfaces) is completed without ever reading the info object.
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return _PlainObject(read, inner, non_null)
    return None


def plain_reader(schema: GraphQLSchema, field_def: GraphQLField) -> Callable[[Any], Any] | None:
    """How a plain field reads its value from its object (an attribute getter or a
    `self`-only method), or None: the field needs its resolver (app/schema/compiled/ too)."""
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if (
        not isinstance(definition, StrawberryField)
        or definition.extensions
        or strawberry_schema is None
        or strawberry_schema.exception_handlers
    ):
        return None
    resolver = definition.base_resolver
    if resolver is None:
        # Strawberry's own reader for it is `default_resolver(source, python_name)`.
        if definition.default_resolver is getattr:
            return attrgetter(definition.python_name)
        return lambda source: definition.default_resolver(source, definition.python_name)
    takes_only_self = (
        resolver.self_parameter is not None and len(resolver.signature.parameters) == 1
    )
    method = resolver.wrapped_func
    if resolver.is_async or definition.arguments or not takes_only_self or not callable(method):
        return None
    return method


class LeanExecutor(ScopedIntrospection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A middleware (a schema extension with a resolve hook) must see every field.
        self._short_path = manager is None or not manager.middlewares
        self._plans = _plans_of(self.schema)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        name = node.name.value
        plan = None
        if self._short_path and not node.arguments:
            plans = self._plans
            key = (parent_type.name, name)
            plan = plans.get(key)
            if plan is None and key not in plans:
                plan = _plan(plans, self.schema, parent_type, name)
        if plan is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        try:
            result = plan.read(source)
            if self.is_awaitable(result):
                # An awaitable attribute: graphql-core's own way to wait for it.
                return self._completed_later(
                    parent_type, field_details_list, path, result, position_context
                )
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                if plan.non_null:
                    raise TypeError(  # noqa: TRY301 - graphql-core's own error, same path
                        f"Cannot return null for non-nullable field {parent_type.name}.{name}."
                    )
                return None
            if isinstance(plan, _PlainLeaf):
                return self.complete_leaf_value(plan.leaf_type, result)
            completed = self.complete_object_value(
                plan.object_type,
                field_details_list,
                None,  # type: ignore[arg-type] # read only by is_type_of, which it has not
                path,
                result,
                position_context,
            )
            if self.is_awaitable(completed):
                return self._settled(completed, parent_type, field_details_list, path)
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary: locates it
            field_def = self._field_def(parent_type, name)
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
        return completed

    async def _settled(
        self,
        completed: Awaitable[Any],
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        # As graphql-core's execute_field: an error below is this field's error.
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            field_def = self._field_def(parent_type, field_details_list[0].node.name.value)
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None

    def _completed_later(
        self,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        field_def = self._field_def(parent_type, field_details_list[0].node.name.value)
        info = self.build_resolve_info(field_def, to_nodes(field_details_list), parent_type, path)
        return self.complete_awaitable_value(
            field_def.type, field_details_list, info, path, result, position_context
        )

    def _field_def(self, parent_type: GraphQLObjectType, name: str) -> GraphQLField:
        field_def = self.schema.get_field(parent_type, name)
        if field_def is None:  # pragma: no cover - planned only for fields that exist
            raise AssertionError(name)
        return field_def
