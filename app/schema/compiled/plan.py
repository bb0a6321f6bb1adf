"""A compiled plan: per (document, operation, @skip/@include variables), what each field
of each object type does, decided once.

A `Step` is one response key of one object type: its field definition, how it reads its
value (straight from the object for a plain field, app/schema/executor.py's rule; else the
field's own resolver, Strawberry's wrapper with `Owned` and `FieldPolicy`, so the field
rules are applied exactly as before), its literal arguments already coerced, and a
completer for its type (non-null, list, leaf, object, abstract) built once instead of
graphql-core's per-value dispatch on the type. The walk itself is app/schema/compiled/run.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFieldResolver,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import invalid_return_type_error
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode, VariableNode
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.enum import StrawberryEnumDefinition

from app.schema.compiled.guarded import Guarded, field_def_definition, guarded_resolver
from app.schema.executor import plain_reader

if TYPE_CHECKING:
    from app.schema.compiled.run import CompiledExecutor

# (executor, step, info or None, path, value) -> the completed value, or an awaitable.
Completer = Callable[["CompiledExecutor", "Step", Any, Any, Any], Any]

# Value types graphql-core's is_awaitable says no to by their type alone: built-in and C
# types whose instances carry no attributes of their own, and none defines `__await__`.
_NEVER_AWAITABLE: frozenset[type] = frozenset({str, int, float, bool, Decimal, datetime, date})


@dataclass(frozen=True, slots=True)
class Leaf:
    """A plain scalar or enum field, serialised inline by the walk when its value's type
    is in `settled` and the serialiser answers; None in a nullable field is answered as
    None (`nullable`)."""

    coerce: Callable[[Any], Any]
    settled: frozenset[type]
    nullable: bool


@dataclass(slots=True, eq=False)
class Step:
    key: str
    parent_type: GraphQLObjectType
    field_def: GraphQLField
    field_details_list: FieldDetailsList
    nodes: list[FieldNode]
    return_type: GraphQLOutputType
    # A plain field's reader (no info, no resolver wrapper), else None.
    read: Callable[[Any], Any] | None
    # A guarded field's rules and resolver, called with a LazyInfo (guarded.py), else None.
    guarded: Guarded | None
    definition: Any
    field_name: str
    resolve: GraphQLFieldResolver
    # Literal arguments, coerced once; None: coerced per call (variables, or a failure
    # graphql-core reports at each object).
    args: dict[str, Any] | None
    complete: Completer
    null_message: str
    # A plain scalar or enum field's inline serialisation, else None.
    leaf: Leaf | None = None


@dataclass(slots=True, eq=False)
class Plan:
    operation: OperationDefinitionNode
    root: GroupedFieldSet | None = None
    # (type name, id(field details list)) -> (the list, kept alive; its sub-fields).
    subfields: dict[tuple[str, int], tuple[FieldDetailsList, CollectedFields]] = field(
        default_factory=dict
    )
    # (type name, id(grouped field set)) -> (the set, kept alive; its steps).
    steps: dict[tuple[str, int], tuple[GroupedFieldSet, list[Step]]] = field(default_factory=dict)


def build_steps(
    executor: CompiledExecutor, parent_type: GraphQLObjectType, grouped: GroupedFieldSet
) -> list[Step]:
    schema = executor.schema
    steps = []
    for key, field_details_list in grouped.items():
        node = field_details_list[0].node
        field_def = schema.get_field(parent_type, node.name.value)
        if field_def is None:  # pragma: no cover - validated documents name known fields
            continue  # graphql-core answers nothing for it either
        read = guarded = None
        if not field_def.args and not node.arguments and not _needs_info(field_def.type):
            read = plain_reader(schema, field_def)
        if read is None and executor.guard_fields and not node.arguments:
            guarded = guarded_resolver(schema, field_def)
        steps.append(
            Step(
                key=key,
                parent_type=parent_type,
                field_def=field_def,
                field_details_list=field_details_list,
                nodes=[details.node for details in field_details_list],
                return_type=field_def.type,
                read=read,
                guarded=guarded,
                definition=field_def_definition(field_def),
                field_name=node.name.value,
                resolve=field_def.resolve or executor.field_resolver,
                args=_literal_args(executor, field_def, node),
                complete=completer(field_def.type),
                null_message=(
                    f"Cannot return null for non-nullable field {parent_type}.{node.name.value}."
                ),
                leaf=plain_leaf(field_def.type)
                if read is not None and executor.leaf_steps
                else None,
            )
        )
    return steps


def plain_leaf(type_: GraphQLOutputType) -> Leaf | None:
    nullable = not is_non_null_type(type_)
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not is_leaf_type(named):
        return None
    settled = _NEVER_AWAITABLE
    if isinstance(named, GraphQLEnumType):
        # Strawberry's resolvers answer the Python enum's members; its serialiser takes them.
        definition = (named.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        members = (
            getattr(definition, "wrapped_cls", None)
            if isinstance(definition, StrawberryEnumDefinition)
            else None
        )
        if (
            isinstance(members, type)
            and issubclass(members, Enum)
            and not hasattr(members, "__await__")
        ):
            settled = settled | {members}
    return Leaf(named.coerce_output_value, settled, nullable)


def _literal_args(
    executor: CompiledExecutor, field_def: GraphQLField, node: FieldNode
) -> dict[str, Any] | None:
    if not field_def.args and not node.arguments:
        return {}
    if any(isinstance(argument.value, VariableNode) for argument in node.arguments or ()):
        return None
    try:
        return get_argument_values(
            field_def, node, executor.variable_values, None, executor.hide_suggestions
        )
    except Exception:  # noqa: BLE001  # pragma: no cover - validation coerces literals first
        return None  # reported per object at the field, as graphql-core does


def _needs_info(type_: GraphQLOutputType) -> bool:
    """Whether completing a value of the type reads the resolve info (resolve_type, or an
    is_type_of other than Strawberry's own isinstance check)."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if is_abstract_type(type_):
        return True
    return isinstance(type_, GraphQLObjectType) and not _info_free_is_type_of(type_)


def _info_free_is_type_of(object_type: GraphQLObjectType) -> bool:
    is_type_of = object_type.is_type_of
    # Strawberry's default (schema_converter `_get_is_type_of`) never reads info.
    return is_type_of is None or is_type_of.__qualname__.endswith(
        "_get_is_type_of.<locals>.is_type_of"
    )


def completer(type_: GraphQLOutputType) -> Completer:
    if is_non_null_type(type_):
        return _non_null(completer(type_.of_type))
    if is_list_type(type_):
        return _list(type_, completer(type_.of_type))
    if is_leaf_type(type_):
        return _leaf(type_)
    if is_abstract_type(type_):
        return _abstract(type_)
    return _object(type_)  # type: ignore[arg-type]


def _non_null(inner: Completer) -> Completer:
    def complete(ex: CompiledExecutor, step: Step, info: Any, path: Any, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        completed = inner(ex, step, info, path, result)
        if completed is None:
            raise TypeError(step.null_message)
        return completed

    return complete


def _leaf(leaf_type: GraphQLLeafType) -> Completer:
    coerce = leaf_type.coerce_output_value
    complete_leaf = _complete_leaf_value

    def complete(ex: CompiledExecutor, step: Step, info: Any, path: Any, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        coerced = coerce(result)
        if coerced is Undefined or coerced is None:
            return complete_leaf(leaf_type, result)  # raises graphql-core's own TypeError
        return coerced

    return complete


def _complete_leaf_value(leaf_type: GraphQLLeafType, result: Any) -> Any:
    from graphql.execution.executor import Executor  # noqa: PLC0415 - its static method

    return Executor.complete_leaf_value(leaf_type, result)


def _list(list_type: GraphQLList[Any], item: Completer) -> Completer:
    item_type = list_type.of_type

    def complete(ex: CompiledExecutor, step: Step, info: Any, path: Any, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if not isinstance(result, list | tuple):
            # Any other iterable (or none): graphql-core's own list completion.
            return ex.complete_value(
                list_type,
                step.field_details_list,
                ex.info_for(step, info, path),
                path,
                result,
                None,
            )
        return ex.complete_items(item, item_type, step, info, path, result)

    return complete


def _object(object_type: GraphQLObjectType) -> Completer:
    is_type_of = object_type.is_type_of
    info_free = _info_free_is_type_of(object_type)

    def complete(ex: CompiledExecutor, step: Step, info: Any, path: Any, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if is_type_of is not None:
            # Strawberry's own check reads no info: none is built for it.
            matches = is_type_of(result, None if info_free else ex.info_for(step, info, path))  # type: ignore[arg-type]
            if ex.is_awaitable(matches):
                return _object_later(ex, object_type, step, path, result, matches)
            if not matches:
                raise invalid_return_type_error(object_type, result, step.field_details_list)
        return ex.execute_object(object_type, step.field_details_list, path, result)

    return complete


async def _object_later(  # noqa: PLR0913, PLR0917 - the completer's own values
    ex: CompiledExecutor,
    object_type: GraphQLObjectType,
    step: Step,
    path: Any,
    result: Any,
    matches: Awaitable[bool],
) -> Any:
    # graphql-core's complete_object_value for an awaitable is_type_of: this check, not
    # a second one (calling it again would leave the first never awaited).
    if not await ex.with_abort_signal(matches):
        raise invalid_return_type_error(object_type, result, step.field_details_list)
    subfields = ex.execute_object(object_type, step.field_details_list, path, result)
    if ex.is_awaitable(subfields):
        return await subfields
    return subfields


def _abstract(abstract_type: GraphQLAbstractType) -> Completer:
    def complete(ex: CompiledExecutor, step: Step, info: Any, path: Any, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        # `node`, `nodes`: resolve_type reads info; the object is then walked by the plan.
        return ex.complete_abstract_value(
            abstract_type,
            step.field_details_list,
            ex.info_for(step, info, path),
            path,
            result,
            None,
        )

    return complete


def resolve_info(executor: CompiledExecutor, step: Step, path: Any) -> GraphQLResolveInfo[Any]:
    return executor.build_resolve_info(step.field_def, step.nodes, step.parent_type, path)
