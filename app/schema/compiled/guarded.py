"""Guarded fields without Strawberry's per-field wrapper: the field rules (`Owned`,
`FieldPolicy` through Strawberry's PermissionExtension) applied per object straight
from the plan.

For a guarded field Strawberry builds, per object, graphql-core's resolve info (14
values and a path list), its own `Info`, converts the (absent) arguments, maps them
through every extension and chains the extensions with `functools.partial`; of all
that the rules read the token (`info.context`) and the field's name, and the
resolvers `info.context` (the dashboard's 50 customers, 50 payment lists, 39 refund
lists and 89 field checks). Here the chain is built once per field, from the
extensions' own `resolve` methods in Strawberry's order, so the rules are the same
code with the same errors; what each object gets is a `LazyInfo`, whose context and
field name cost nothing and whose graphql-core info is built only when something
reads it (`shown` reporting an omitted object at its path, an ownership violation's
log line). Measured with `make bench-ab` (bench/profiles/NOTE.md).

Only synchronous chains of fields without arguments whose extensions are `Owned` and
permission checks (no `map_arguments`, no exception handlers), over a resolver that
takes `self`, the root and the info and nothing else; any other field keeps
Strawberry's wrapper (plan.py's `_resolved` path).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, reduce
from typing import TYPE_CHECKING, Any

from graphql import GraphQLField, GraphQLResolveInfo, GraphQLSchema
from strawberry.extensions.field_extension import FieldExtension, build_field_extension_resolvers
from strawberry.permission import PermissionExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from app.schema.types.guards import Owned

if TYPE_CHECKING:
    from graphql.pyutils import Path

    from app.schema.compiled.plan import Step
    from app.schema.compiled.run import CompiledExecutor

# (source, info) -> what Strawberry's wrapper would have returned for the field.
Guarded = Callable[[Any, Info[Any, Any]], Any]

_RULES = (Owned, PermissionExtension)


class LazyInfo(Info[Any, Any]):
    """Strawberry's `Info` for one field of one object, its graphql-core info built on
    first use: the rules and resolvers mostly read only the context and the name."""

    def __init__(self, executor: CompiledExecutor, step: Step, path: Path) -> None:
        # Not the dataclass's __init__: `_raw_info` is built when read.
        self._executor = executor
        self._step = step
        self._path = path
        self._field = step.definition
        self._built: GraphQLResolveInfo[Any] | None = None

    # Read-only: built from the step and the path when first read.
    @property
    def _raw_info(self) -> GraphQLResolveInfo[Any]:  # type: ignore[override]
        built = self._built
        if built is None:
            step = self._step
            built = self._built = self._executor.build_resolve_info(
                step.field_def, step.nodes, step.parent_type, self._path
            )
        return built

    @property
    def context(self) -> Any:
        return self._executor.context_value

    @property
    def field_name(self) -> str:
        return self._step.field_name


def guarded_resolver(schema: GraphQLSchema, field_def: GraphQLField) -> Guarded | None:
    """The field's extension chain over its resolver, called with a `LazyInfo`; or None
    when the field needs Strawberry's own wrapper."""
    definition = field_def_definition(field_def)
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if (
        definition is None
        or not definition.extensions
        or field_def.args
        or definition.arguments
        or definition.is_async
        or strawberry_schema is None
        or strawberry_schema.exception_handlers
    ):
        return None
    for extension in definition.extensions:
        if not isinstance(extension, _RULES) or (
            type(extension).map_arguments is not FieldExtension.map_arguments
        ):
            return None
        if isinstance(extension, PermissionExtension) and not extension.supports_sync:
            return None
    get_result = _result_getter(definition)
    if get_result is None:
        return None
    # Strawberry's own chain (schema_converter `wrap_field_extensions`): the last
    # extension outermost.
    chained: Guarded = reduce(
        lambda inner, outer: partial(outer, inner),
        build_field_extension_resolvers(definition),
        lambda source, info, **_: get_result(source, info),
    )
    return chained


def field_def_definition(field_def: GraphQLField) -> StrawberryField | None:
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return definition if isinstance(definition, StrawberryField) else None


def _result_getter(definition: StrawberryField) -> Guarded | None:
    resolver = definition.base_resolver
    if resolver is None:
        default, name = definition.default_resolver, definition.python_name
        return lambda source, _info: default(source, name)
    if not callable(resolver.wrapped_func):  # pragma: no cover - Strawberry's error at the call
        return None
    method = resolver.wrapped_func
    reserved = {
        parameter.name: kind
        for kind, parameter in (
            ("self", resolver.self_parameter),
            ("parent", resolver.parent_parameter),
            ("root", resolver.root_parameter),
            ("info", resolver.info_parameter),
        )
        if parameter is not None
    }
    if len(reserved) != len(resolver.signature.parameters):  # pragma: no cover
        # Strawberry makes every other parameter an argument, and a field with
        # arguments was left to its wrapper above: a defence if that changes.
        return None
    takes_self = "self" in reserved.values()
    named_source = [name for name, kind in reserved.items() if kind in {"parent", "root"}]
    info_name = next((name for name, kind in reserved.items() if kind == "info"), None)
    if info_name not in {None, "info"}:
        return None  # Strawberry hands another name to the extensions too
    if takes_self and not named_source:
        # The usual shape: `def field(self, info)` or `def field(self)`.
        if info_name is None:
            return lambda source, _info: method(source)
        return lambda source, info: method(source, info=info)

    # Strawberry's get_arguments: self positional, parent/root and info by name.
    def get_result(source: Any, info: Info[Any, Any]) -> Any:
        kwargs: dict[str, Any] = dict.fromkeys(named_source, source)
        if info_name is not None:
            kwargs[info_name] = info
        return method(source, **kwargs) if takes_self else method(**kwargs)

    return get_result
