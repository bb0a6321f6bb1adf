"""Introspection that follows the token: a partner token sees the part of the schema its
scopes reach; a first-party token (no `scope` claim) sees all of it.

What a scope opens is not declared a second time here: it is read from the rules the
schema already enforces (app/auth/policy.py's FIELD_RULES and MUTATION_RULES, and the
type each field's `Owned` guard admits, priced by TYPE_READ_SCOPES). A field needing a
scope the token lacks is left out; a type no remaining field reaches (its pages, its
payloads, the inputs of a mutation left out) goes with it, because the filtered schema
is rebuilt from its roots (graphql-core's map_schema_config, as lexicographic_sort_schema
does). Of the interface implementations the schema lists beside its roots (the `Node`
types), only those the scopes may read are kept.

Only introspection answers from the filtered schema (`__schema`, `__type` and the fields
of the introspection types, through the resolve info's schema); parsing, validation and
every other field stay on the whole schema, so a field outside the scopes is still
FORBIDDEN at execution (one refusal, naming the scope) rather than a validation error
that would differ by token. This is for the reader, not a secret: the published SDL
(app/schema/schema.graphql, `python -m app schema`) stays whole.

Filtered schemas are built on first use and kept per schema and scope set: the scopes
are a subset of KNOWN_SCOPES (the verifier drops the rest), so there are at most 128 of
them, and an LRU bound keeps the few in use.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, cast
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from graphql.language import FieldNode
from graphql.pyutils import Path
from graphql.utilities.map_schema_config import (
    ConfigMapperMap,
    MappedSchemaContext,
    SchemaElementKind,
    map_schema_config,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from app.auth import policy
from app.auth.principal import KNOWN_SCOPES, Principal
from app.schema.types.guards import Owned

Coordinate = tuple[str, str]
# Filtered schemas kept per whole schema; more scope sets than this in use at once
# are rebuilt (a few milliseconds each) rather than kept.
MAX_KEPT = 32
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
# Fields shown to a token with any one of these scopes: a token that may run no mutation
# has no mutation outcome to ask about (its payload union then keeps only the payloads of
# the mutations shown).
_WRITE_SCOPES = frozenset(rule.scope for rule in policy.MUTATION_RULES.values() if rule.scope)
_SHOWN_WITH_ANY: dict[Coordinate, frozenset[str]] = {
    ("Query", "mutationOutcome"): _WRITE_SCOPES,
    ("Subscription", "mutationOutcome"): _WRITE_SCOPES,
    # The scope each subscription checks when it is opened (its event types carry the
    # object in a field of their own, which alone would leave the root field shown).
    ("Subscription", "paymentUpdated"): frozenset({str(policy.TYPE_READ_SCOPES["Payment"])}),
    ("Subscription", "invoiceUpdated"): frozenset({str(policy.TYPE_READ_SCOPES["Invoice"])}),
}


class _Kept:
    __slots__ = ("needs", "schemas")

    def __init__(self, needs: dict[Coordinate, frozenset[str]]) -> None:
        self.needs = needs
        self.schemas: OrderedDict[frozenset[str], GraphQLSchema] = OrderedDict()


_kept: WeakKeyDictionary[GraphQLSchema, _Kept] = WeakKeyDictionary()


def field_scopes(schema: GraphQLSchema) -> dict[Coordinate, frozenset[str]]:
    """Every field that needs partner scopes, and which, from the rules it enforces."""
    needs: dict[Coordinate, frozenset[str]] = {}
    mutation = schema.mutation_type
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            continue
        if type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            rules = [policy.FIELD_RULES.get((type_.name, name))]
            if type_ is mutation:
                rules.append(policy.MUTATION_RULES.get(name))
            scopes = {rule.scope for rule in rules if rule is not None and rule.scope}
            scopes |= {
                scope
                for guard in _owned(field)
                if (scope := policy.TYPE_READ_SCOPES.get(guard.type_name)) is not None
            }
            if scopes:
                needs[(type_.name, name)] = frozenset(scopes)
    return needs


def visible_schema(schema: GraphQLSchema, scopes: frozenset[str]) -> GraphQLSchema:
    """What a token with these scopes sees of the schema (the schema itself when its
    scopes leave nothing out)."""
    kept = _kept.get(schema)
    if kept is None:
        kept = _kept.setdefault(schema, _Kept(field_scopes(schema)))
    scopes = scopes & KNOWN_SCOPES
    shown = kept.schemas.get(scopes)
    if shown is not None:
        kept.schemas.move_to_end(scopes)
        return shown
    hidden = frozenset(c for c, needed in kept.needs.items() if not needed <= scopes)
    hidden |= {c for c, any_of in _SHOWN_WITH_ANY.items() if not any_of & scopes}
    shown = filtered(schema, hidden, scopes) if hidden else schema
    kept.schemas[scopes] = shown
    if len(kept.schemas) > MAX_KEPT:
        kept.schemas.popitem(last=False)
    return shown


def filtered(
    schema: GraphQLSchema, hidden: frozenset[Coordinate], scopes: frozenset[str]
) -> GraphQLSchema:
    """A copy of `schema` without the `hidden` fields and whatever only they reached."""

    mutation_name = schema.mutation_type.name if schema.mutation_type else None
    hidden_payloads = frozenset(
        _payload_name(field) for (type_name, field) in hidden if type_name == mutation_name
    )
    # A union of payloads (mutationOutcome's) keeps the payloads of the mutations shown;
    # a field whose union is left empty goes too.
    emptied = frozenset(
        name
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLUnionType)
        and all(member.name in hidden_payloads for member in type_.types)
    )

    def shown(type_name: str, name: str, field: Any) -> bool:
        return (type_name, name) not in hidden and get_named_type(field.type).name not in emptied

    def without_hidden(config: Any) -> Any:
        type_name, fields = config["name"], config["fields"]
        return {
            **config,
            "fields": lambda: {
                name: field for name, field in fields().items() if shown(type_name, name, field)
            },
        }

    def members_shown(config: Any) -> Any:
        members = config["types"]
        return {
            **config,
            "types": lambda: [t for t in members() if t.name not in hidden_payloads],
        }

    def mappers(_context: MappedSchemaContext) -> ConfigMapperMap:
        return cast(
            ConfigMapperMap,
            {
                SchemaElementKind.OBJECT: without_hidden,
                SchemaElementKind.INTERFACE: without_hidden,
                SchemaElementKind.UNION: members_shown,
            },
        )

    config = map_schema_config(schema.to_kwargs(), mappers)
    mutation = config["mutation"]
    if mutation is not None and not mutation.fields:
        mutation = None
    # The implementations listed beside the roots (`node` may return any of them): only
    # the types these scopes may read. Anything else is kept only if a field reaches it.
    listed = {t.name for t in schema.to_kwargs()["types"] or ()} & set(policy.TYPE_READ_SCOPES)
    readable = [
        type_
        for type_ in config["types"] or ()
        if type_.name in listed and _readable(type_, scopes)
    ]

    def built(types: list[GraphQLNamedType]) -> GraphQLSchema:
        return GraphQLSchema(
            query=config["query"],
            mutation=mutation,
            subscription=config["subscription"],
            types=types,
            directives=config["directives"],
            description=config["description"],
            extensions=config["extensions"],
        )

    # Built twice: once to learn what is reachable, then with those types in the whole
    # schema's order, so that `__schema.types` lists them as the whole schema does.
    reachable = built(readable).type_map
    mapped = {type_.name: type_ for type_ in config["types"] or ()}
    return built([mapped[name] for name in schema.type_map if name in reachable])


def _payload_name(mutation_field: str) -> str:
    """payInvoice -> PayInvoicePayload: the schema's naming of mutation payloads."""
    return mutation_field[:1].upper() + mutation_field[1:] + "Payload"


def _readable(type_: GraphQLNamedType, scopes: frozenset[str]) -> bool:
    scope = policy.TYPE_READ_SCOPES.get(type_.name)
    return scope is None or scope in scopes


def _owned(field: GraphQLField) -> list[Owned]:
    definition = (field.extensions or {}).get("strawberry-definition")
    if not isinstance(definition, StrawberryField):
        return []
    return [e for e in definition.extensions if isinstance(e, Owned)]


class ScopedIntrospection(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, answering introspection from the schema the
    request's token may see."""

    _shown: GraphQLSchema | None = None

    def build_resolve_info(
        self,
        field_def: GraphQLField,
        field_nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo[Any]:
        info = super().build_resolve_info(field_def, field_nodes, parent_type, path)
        # `__schema` and `__type` answer info.schema; the introspection types' own fields
        # (possibleTypes, ...) read it again, so all of them get the filtered one.
        if parent_type.name.startswith("__") or info.field_name in _INTROSPECTION_ROOTS:
            shown = self._shown_schema()
            if shown is not info.schema:
                return info._replace(schema=shown)
        return info

    def _shown_schema(self) -> GraphQLSchema:
        if self._shown is None:
            principal = getattr(self.context_value, "principal", None)
            scopes = principal.scopes if isinstance(principal, Principal) else None
            self._shown = self.schema if scopes is None else visible_schema(self.schema, scopes)
        return self._shown
