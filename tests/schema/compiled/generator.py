"""Documents over the real schema that reach deep fields: a generator of queries
that pass validation and the cost limit, weighted towards a business and its invoice
pages (what the dashboard reads), with ids from the world the downstream fakes serve.

hypothesis-graphql's `queries` draws any valid document, but its ids are random
strings: nearly every root field answers NOT_FOUND and nothing below the root runs.
This one fills `ID` arguments from the served objects' ids (and one unknown id),
pages with small `first` values, and descends into object fields more often than it
stops at leaves, with aliases, inline fragments on `node`/`nodes`, `__typename` and
@skip/@include.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import strategies as st

# Root fields, `business` weighted as the dashboard is the main document.
ROOTS = ["business"] * 8 + ["invoice", "customer", "payment", "node", "nodes", "viewer"]
MAX_DEPTH = 7
PREFIXES = {
    "business.id": "biz_",
    "invoice.id": "inv_",
    "customer.id": "cus_",
    "payment.id": "pay_",
    "customerId": "cus_",
}
FILTERS = {"status", "customerId", "after"}


def _value(draw: st.DrawFn, type_: Any, ids: list[str], name: str) -> str | None:
    """A literal for an argument, or None to leave an optional one out."""
    required = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if required else type_
    if isinstance(inner, GraphQLList):
        items = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4))
        return json.dumps(items)
    named = get_named_type(inner)
    if named.name == "ID":
        # An id of the kind the field reads nearly always (`business(id)`: the served
        # business; `customerId`: a customer), else any.
        prefix = PREFIXES.get(name)
        matching = [i for i in ids if prefix and i.startswith(prefix)]
        if matching and draw(st.integers(0, 9)) != 0:
            return json.dumps(draw(st.sampled_from(matching)))
        return json.dumps(draw(st.sampled_from(ids)))
    # Optional filters rarely: they mostly empty the page.
    if not required and draw(st.integers(0, 4 if name in FILTERS else 1)):
        return None
    if named.name == "Int":
        # (0 and negative `first` are refused before anything runs: few of them)
        return str(draw(st.integers(0 if draw(st.integers(0, 19)) == 0 else 1, 6)))
    if named.name == "Boolean":
        return draw(st.sampled_from(["true", "false"]))
    if isinstance(named, GraphQLEnumType):
        return str(draw(st.sampled_from(sorted(named.values))))
    if named.name == "String" and name == "after" and draw(st.integers(0, 3)) == 0:
        # (a bad cursor refuses its page, and a page is non-null: rarely)
        return '"not-a-cursor"'
    return None if not required else '""'


def _field(  # noqa: PLR0913, PLR0917 - one field's parts
    draw: st.DrawFn,
    schema: GraphQLSchema,
    name: str,
    field: Any,
    ids: list[str],
    depth: int,
    alias: str | None = None,
) -> str | None:
    arguments = []
    for arg_name, arg in field.args.items():
        key = f"{name}.{arg_name}" if f"{name}.{arg_name}" in PREFIXES else arg_name
        value = _value(draw, arg.type, ids, key)
        if value is not None:
            arguments.append(f"{arg_name}: {value}")
    text = name + (f"({', '.join(arguments)})" if arguments else "")
    if alias is None and draw(st.integers(0, 5)) == 0:
        alias = f"{name}_{draw(st.integers(0, 1))}"
    if alias is not None:
        text = f"{alias}: {text}"
    if draw(st.integers(0, 9)) == 0:
        directive = draw(st.sampled_from(["skip", "include"]))
        text += f" @{directive}(if: {draw(st.sampled_from(['true', 'false']))})"
    named = get_named_type(field.type)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        if depth > MAX_DEPTH + 1:
            return None
        inner = _selection(draw, schema, named, ids, depth + 1)
        return f"{text} {{ {inner} }}"
    return text


def _selection(
    draw: st.DrawFn, schema: GraphQLSchema, type_: Any, ids: list[str], depth: int
) -> str:
    parts: list[str] = []
    if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
        parts.append("__typename")
        if isinstance(type_, GraphQLInterfaceType):
            parts.append("id")
        for possible in draw(
            st.lists(
                st.sampled_from(list(schema.get_possible_types(type_))),
                max_size=2,
                unique_by=lambda t: t.name,
            )
        ):
            parts.append(
                f"... on {possible.name} {{ {_selection(draw, schema, possible, ids, depth)} }}"
            )
        return " ".join(parts)
    fields = type_.fields
    objects = [n for n, f in fields.items() if not _is_leaf(f)]
    leaves = [n for n, f in fields.items() if _is_leaf(f)]
    chosen: list[str] = []
    if objects and (depth < MAX_DEPTH or not leaves):
        # Deeper more often than not (a connection has no leaves of its own: its edges
        # or pageInfo, at any depth); a page's edges and an edge's node always.
        deeper = [n for n in ("edges", "node") if n in objects]
        chosen = deeper or draw(
            st.lists(st.sampled_from(objects), min_size=1, max_size=2, unique=True)
        )
        # A business's invoice page (the dashboard's way down) half the time at least.
        if "invoices" in objects and "invoices" not in chosen and draw(st.booleans()):
            chosen.append("invoices")
    if leaves:
        chosen += draw(
            st.lists(st.sampled_from(leaves), min_size=0 if chosen else 1, max_size=4, unique=True)
        )
    for name in chosen:
        part = _field(draw, schema, name, fields[name], ids, depth)
        if part is not None:
            parts.append(part)
    if not parts or draw(st.integers(0, 7)) == 0:
        parts.append("__typename")
    return " ".join(parts)


def _is_leaf(field: Any) -> bool:
    return not isinstance(
        get_named_type(field.type), GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
    )


@st.composite
def documents(draw: st.DrawFn, schema: GraphQLSchema, ids: list[str]) -> str:
    """One query: one or two root fields, most often `business`."""
    query = schema.query_type
    assert query is not None
    roots = draw(st.lists(st.sampled_from(ROOTS), min_size=1, max_size=2))
    parts = []
    for number, name in enumerate(roots):
        part = _field(draw, schema, name, query.fields[name], ids, 1, f"r{number}")
        if part is not None:
            parts.append(part)
    return "{ " + " ".join(parts or ["__typename"]) + " }"
