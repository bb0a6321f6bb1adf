"""The errors the limits answer with, and the cap on how many errors one answer carries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
TOO_MANY_ERRORS = "TOO_MANY_ERRORS"

_WHAT = {
    "tokens": "tokens in the document",
    "directives": "directives in the document",
    "aliases": "aliases in the operation (fragments counted where they are spread)",
    "depth": "depth of the operation",
    "fields": "fields in the operation (fragments counted where they are spread)",
    "repeated_fields": "fields sharing one response key in a selection",
    "cost": "estimated cost of the operation (downstream requests)",
}


def too_complex(limit: str, maximum: int, value: int, *, more_than: bool = False) -> GraphQLError:
    """One error naming the limit and the value computed for the document. `more_than`
    where counting stopped at the limit (tokens: the parser stops there)."""
    shown = f"more than {maximum}" if more_than else str(value)
    return GraphQLError(
        f"Query too complex: {_WHAT[limit]}: {shown}, limit {maximum}.",
        extensions={
            "code": QUERY_TOO_COMPLEX,
            "limit": limit,
            "maximum": maximum,
            "value": value,
        },
    )


def capped(errors: Sequence[GraphQLError], maximum: int) -> list[GraphQLError]:
    """At most `maximum` errors, then one that counts the rest: a document of a thousand
    unknown directives gets eleven errors, not a thousand."""
    if len(errors) <= maximum:
        return list(errors)
    omitted = len(errors) - maximum
    return [
        *errors[:maximum],
        GraphQLError(
            f"{omitted} more errors were left out.",
            extensions={"code": TOO_MANY_ERRORS, "omitted": omitted},
        ),
    ]


class ErrorCap(SchemaExtension):
    """Caps the final error list: list it before ErrorPolicy, so that it runs after it."""

    def __init__(self, maximum: int) -> None:
        super().__init__()
        self._maximum = maximum

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = capped(errors, self._maximum)
